"""observed runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

What the monitor saw on each hearing's public output, for the coverage ledger.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "observed_run",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("hearing_id", sa.Integer(), nullable=False),
        sa.Column("room", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["hearing_id"], ["hearing.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("observed_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_observed_run_hearing_id"), ["hearing_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("observed_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observed_run_hearing_id"))
    op.drop_table("observed_run")
