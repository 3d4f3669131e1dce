"""replica lease and pending console requests

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

Several `streamd serve` replicas share one PostgreSQL: one row says which of them leads
(holds the lease) until when, with an epoch that grows with every new holder; console
actions that arrive while no replica leads wait in `console_request` until one does.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leader_lease",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("holder", sa.String(length=160), nullable=True),
        sa.Column("address", sa.String(length=256), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "console_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("hearing_id", sa.Integer(), sa.ForeignKey("hearing.id"), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("received_by", sa.String(length=160), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=500), nullable=True),
    )
    op.create_index("ix_console_request_status", "console_request", ["status"])
    op.create_index("ix_console_request_hearing_id", "console_request", ["hearing_id"])


def downgrade() -> None:
    op.drop_table("console_request")
    op.drop_table("leader_lease")
