"""recording archive

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

One row per file of a hearing's recording kept in the central archive and its backup.
A trigger refuses DELETE: a recording's row outlives every bug (SPC 2017 Art. 5).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "archived_file",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("hearing_id", sa.Integer(), sa.ForeignKey("hearing.id"), nullable=False),
        sa.Column("room", sa.String(length=32), nullable=False),
        sa.Column("session", sa.String(length=32), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("offset_seconds", sa.Float(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("backed_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("hearing_id", "session", "path"),
    )
    op.create_index("ix_archived_file_hearing_id", "archived_file", ["hearing_id"])
    op.create_index("ix_archived_file_room", "archived_file", ["room"])
    op.create_index("ix_archived_file_archived_at", "archived_file", ["archived_at"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            """CREATE TRIGGER archived_file_no_delete BEFORE DELETE ON archived_file
               BEGIN SELECT RAISE(ABORT, 'archived_file is append-only'); END"""
        )
    else:
        op.execute(
            """CREATE FUNCTION archived_file_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN RAISE EXCEPTION 'archived_file is append-only'; END $$"""
        )
        op.execute(
            """CREATE TRIGGER archived_file_no_delete BEFORE DELETE ON archived_file
               FOR EACH ROW EXECUTE FUNCTION archived_file_no_delete()"""
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS archived_file_no_delete ON archived_file")
        op.execute("DROP FUNCTION IF EXISTS archived_file_no_delete()")
    op.drop_index("ix_archived_file_archived_at", table_name="archived_file")
    op.drop_index("ix_archived_file_room", table_name="archived_file")
    op.drop_index("ix_archived_file_hearing_id", table_name="archived_file")
    op.drop_table("archived_file")
