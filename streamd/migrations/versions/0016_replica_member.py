"""replicas say they are alive: the monitor shares its rooms among them

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

A two-level platform has more live streams than one process can decode; each replica
watches the rooms that rendezvous hashing gives it among the replicas seen within one
lease (streamd.monitor.share).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "replica_member",
        sa.Column("name", sa.String(length=160), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("replica_member")
