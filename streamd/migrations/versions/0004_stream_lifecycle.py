"""stream lifecycle

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Each hearing's stream, its transitions (append-only, like the audit log and now the
approval steps), the commands sent to agents, recording interruptions, transcript lines
and alerts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_event",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("room", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hearing_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agent_event", schema=None) as batch_op:
        batch_op.create_index("ix_agent_event_room_seq", ["room", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_agent_event_hearing_id"), ["hearing_id"], unique=False)
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("room", sa.String(length=32), nullable=True),
        sa.Column("hearing_id", sa.Integer(), nullable=True),
        sa.Column("message_zh", sa.String(length=512), nullable=False),
        sa.Column("message_en", sa.String(length=512), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["hearing_id"],
            ["hearing.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_hearing_id"), ["hearing_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_raised_at"), ["raised_at"], unique=False)
        batch_op.create_index(
            "uq_alert_open",
            ["key"],
            unique=True,
            sqlite_where=sa.text("cleared_at IS NULL"),
            postgresql_where=sa.text("cleared_at IS NULL"),
        )

    op.create_table(
        "stream",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hearing_id", sa.Integer(), nullable=False),
        sa.Column("courtroom_id", sa.Integer(), nullable=False),
        sa.Column("room", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("at_risk", sa.Boolean(), nullable=False),
        sa.Column("risk_reason", sa.String(length=512), nullable=True),
        sa.Column("discipline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("adjourned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transcript_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["courtroom_id"],
            ["courtroom.id"],
        ),
        sa.ForeignKeyConstraint(
            ["hearing_id"],
            ["hearing.id"],
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["line.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hearing_id"),
    )
    with op.batch_alter_table("stream", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stream_courtroom_id"), ["courtroom_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stream_state"), ["state"], unique=False)

    op.create_table(
        "interruption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["stream.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("interruption", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interruption_stream_id"), ["stream_id"], unique=False)

    op.create_table(
        "stream_command",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("room", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=32), nullable=True),
        sa.Column("message", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["stream.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stream_command", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stream_command_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stream_command_stream_id"), ["stream_id"], unique=False
        )

    op.create_table(
        "stream_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=True),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("command_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["stream.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stream_transition", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stream_transition_stream_id"), ["stream_id"], unique=False
        )

    op.create_table(
        "transcript_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("client_key", sa.String(length=128), nullable=True),
        sa.Column("speaker", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.Column("forwarded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["stream.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("stream_id", "client_key"),
        sa.UniqueConstraint("stream_id", "seq"),
    )
    with op.batch_alter_table("transcript_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transcript_entry_stream_id"), ["stream_id"], unique=False
        )

    for table in APPEND_ONLY:
        _append_only(table)


APPEND_ONLY = ("stream_transition", "approval_step")


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        return
    op.execute(
        f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
    )


def downgrade() -> None:
    op.drop_table("agent_event")
    for table in APPEND_ONLY:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
    with op.batch_alter_table("transcript_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transcript_entry_stream_id"))

    op.drop_table("transcript_entry")
    with op.batch_alter_table("stream_transition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_transition_stream_id"))

    op.drop_table("stream_transition")
    with op.batch_alter_table("stream_command", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_command_stream_id"))
        batch_op.drop_index(batch_op.f("ix_stream_command_status"))

    op.drop_table("stream_command")
    with op.batch_alter_table("interruption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interruption_stream_id"))

    op.drop_table("interruption")
    with op.batch_alter_table("stream", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_state"))
        batch_op.drop_index(batch_op.f("ix_stream_courtroom_id"))

    op.drop_table("stream")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_alert_open",
            sqlite_where=sa.text("cleared_at IS NULL"),
            postgresql_where=sa.text("cleared_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_alert_raised_at"))
        batch_op.drop_index(batch_op.f("ix_alert_kind"))
        batch_op.drop_index(batch_op.f("ix_alert_hearing_id"))

    op.drop_table("alert")
