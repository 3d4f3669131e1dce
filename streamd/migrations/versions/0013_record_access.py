"""party access to a hearing's record, and the record's access log

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

A grant stores only hashes of its one-time code and of the party session it opened; the
access log is append-only (a trigger refuses UPDATE and DELETE), like transcript_version.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "record_grant",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("hearing_id", sa.Integer(), sa.ForeignKey("hearing.id"), nullable=False),
        sa.Column("party_name", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("allow_audio", sa.Boolean(), nullable=False),
        sa.Column("allow_transcript", sa.Boolean(), nullable=False),
        sa.Column("allow_non_public", sa.Boolean(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_hash", sa.String(length=64), nullable=True, unique=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
    )
    op.create_index("ix_record_grant_hearing_id", "record_grant", ["hearing_id"])
    op.create_table(
        "record_access",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("hearing_id", sa.Integer(), sa.ForeignKey("hearing.id"), nullable=True),
        sa.Column("grant_id", sa.Integer(), sa.ForeignKey("record_grant.id"), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remote", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=256), nullable=False),
    )
    op.create_index("ix_record_access_hearing_id", "record_access", ["hearing_id"])
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"""CREATE TRIGGER record_access_no_{event.lower()} BEFORE {event}
                    ON record_access
                    BEGIN SELECT RAISE(ABORT, 'record_access is append-only'); END"""
            )
    else:
        op.execute(
            """CREATE FUNCTION record_access_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN RAISE EXCEPTION 'record_access is append-only'; END $$"""
        )
        op.execute(
            """CREATE TRIGGER record_access_frozen BEFORE UPDATE OR DELETE
               ON record_access FOR EACH ROW EXECUTE FUNCTION record_access_frozen()"""
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS record_access_frozen ON record_access")
        op.execute("DROP FUNCTION IF EXISTS record_access_frozen()")
    op.drop_index("ix_record_access_hearing_id", table_name="record_access")
    op.drop_table("record_access")
    op.drop_index("ix_record_grant_hearing_id", table_name="record_grant")
    op.drop_table("record_grant")
