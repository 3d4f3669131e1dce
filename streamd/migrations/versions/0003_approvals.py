"""not-streamed approvals and late announcements

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Every public hearing that is not streamed carries an approval record with its steps;
a booking made after the announcement deadline keeps its reason for the report.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("late_announcement", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("late_reason", sa.String(length=512), nullable=True))
    op.create_table(
        "approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hearing_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=False),
        sa.Column("applicant", sa.String(length=64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["hearing_id"], ["hearing.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_approval_hearing_id", "approval", ["hearing_id"])
    op.create_index("ix_approval_status", "approval", ["status"])
    op.create_index(
        "uq_approval_active_rule",
        "approval",
        ["hearing_id", "rule"],
        unique=True,
        sqlite_where=sa.text("status != 'rejected'"),
        postgresql_where=sa.text("status != 'rejected'"),
    )
    op.create_table(
        "approval_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(["approval_id"], ["approval.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_approval_step_approval_id", "approval_step", ["approval_id"])


def downgrade() -> None:
    op.drop_index("ix_approval_step_approval_id", table_name="approval_step")
    op.drop_table("approval_step")
    op.drop_index("uq_approval_active_rule", table_name="approval")
    op.drop_index("ix_approval_status", table_name="approval")
    op.drop_index("ix_approval_hearing_id", table_name="approval")
    op.drop_table("approval")
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_column("late_reason")
        batch_op.drop_column("late_announcement")
