"""transcript corrections as versions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

One row per correction of a recorded transcript line; the original stays in the archived
transcript.jsonl. A trigger refuses UPDATE and DELETE: a correction is corrected by a newer
version, never by rewriting an older one (SPC 2017 Art. 7).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transcript_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("hearing_id", sa.Integer(), sa.ForeignKey("hearing.id"), nullable=False),
        sa.Column("session", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("hearing_id", "session", "seq", "version"),
    )
    op.create_index("ix_transcript_version_hearing_id", "transcript_version", ["hearing_id"])
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"""CREATE TRIGGER transcript_version_no_{event.lower()} BEFORE {event}
                    ON transcript_version
                    BEGIN SELECT RAISE(ABORT, 'transcript_version is append-only'); END"""
            )
    else:
        op.execute(
            """CREATE FUNCTION transcript_version_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN RAISE EXCEPTION 'transcript_version is append-only'; END $$"""
        )
        op.execute(
            """CREATE TRIGGER transcript_version_frozen BEFORE UPDATE OR DELETE
               ON transcript_version FOR EACH ROW EXECUTE FUNCTION transcript_version_frozen()"""
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS transcript_version_frozen ON transcript_version")
        op.execute("DROP FUNCTION IF EXISTS transcript_version_frozen()")
    op.drop_index("ix_transcript_version_hearing_id", table_name="transcript_version")
    op.drop_table("transcript_version")
