"""each account belongs to a court: the two-level platform holds several

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

Existing accounts take their department's court, or the deployment's court when it holds
exactly one; any other stays without a court and sees nothing a court owns until an
administrator names one (fail closed).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(
            sa.Column(
                "court_id",
                sa.Integer(),
                sa.ForeignKey("court.id", name="fk_user_court_id"),
                nullable=True,
            )
        )
    op.execute(
        'UPDATE "user" SET court_id = (SELECT court_id FROM department '
        'WHERE department.id = "user".department_id) WHERE department_id IS NOT NULL'
    )
    op.execute(
        'UPDATE "user" SET court_id = (SELECT MIN(id) FROM court) '
        "WHERE court_id IS NULL AND (SELECT COUNT(*) FROM court) = 1"
    )


def downgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.drop_column("court_id")
