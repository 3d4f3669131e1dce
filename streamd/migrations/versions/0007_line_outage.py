"""line outages

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Maintenance windows and reported failures of a line, which the live plan keeps hearings
off (and moves a hearing on air off).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "line_outage",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("line_id", sa.Integer(), sa.ForeignKey("line.id"), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=512), nullable=False),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
    )
    op.create_index("ix_line_outage_line_id", "line_outage", ["line_id"])


def downgrade() -> None:
    op.drop_index("ix_line_outage_line_id", table_name="line_outage")
    op.drop_table("line_outage")
