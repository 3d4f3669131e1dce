"""a line's code is unique within its court, and each court has its own stream target

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

The two-level platform holds several courts, each naming its lines L1, L2, ... as it
likes: the code was unique across the deployment, so loading a second court with the same
codes would have taken the first court's lines over. The intermediate court sets each
basic court's target (直播率目标), which the roll-up report compares against.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The first schema's unique constraint was unnamed; the naming convention gives SQLite's
# batch mode a name to find it by (PostgreSQL named it line_code_key).
_CONVENTION = {"uq": "%(table_name)s_%(column_0_name)s_key"}


def upgrade() -> None:
    with op.batch_alter_table("line", naming_convention=_CONVENTION) as batch:
        batch.drop_constraint("line_code_key", type_="unique")
        batch.create_unique_constraint("uq_line_court_code", ["court_id", "code"])
    with op.batch_alter_table("court") as batch:
        batch.add_column(
            sa.Column("stream_target_ratio", sa.Float(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("court") as batch:
        batch.drop_column("stream_target_ratio")
    with op.batch_alter_table("line", naming_convention=_CONVENTION) as batch:
        batch.drop_constraint("uq_line_court_code", type_="unique")
        batch.create_unique_constraint("line_code_key", ["code"])
