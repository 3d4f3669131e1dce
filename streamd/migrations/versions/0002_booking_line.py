"""booking line assignment

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

What the allocation engine decided for each booking: the line, or why there is none,
persisted before anyone is told (so a restart answers the same).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("line_status", sa.String(length=16), nullable=False, server_default="pending")
        )
        batch_op.add_column(sa.Column("line_reason", sa.JSON(), nullable=True))
        batch_op.create_foreign_key("fk_booking_line_id_line", "line", ["line_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_constraint("fk_booking_line_id_line", type_="foreignkey")
        batch_op.drop_column("line_reason")
        batch_op.drop_column("line_status")
        batch_op.drop_column("line_id")
