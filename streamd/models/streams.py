"""What happens on the day: each hearing's stream, its steps and commands, interruptions,
the transcript, alerts, the agents' events, what the monitor saw, the replicas' lease and
the console requests a replica passes to the leader."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from streamd.models.columns import _json, _text, _time, utcnow


class Stream(SQLModel, table=True):
    """One hearing's stream and recording lifecycle (streamd.lifecycle), as last persisted."""

    __tablename__ = "stream"
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", unique=True)
    courtroom_id: int = Field(foreign_key="courtroom.id", index=True)
    room: str = _text(32)
    state: str = _text(16, index=True)
    state_at: datetime = _time(default_factory=utcnow)
    line_id: int | None = Field(default=None, foreign_key="line.id")
    at_risk: bool = False
    risk_reason: str | None = _text(512, nullable=True, default=None)
    discipline_at: datetime | None = _time(nullable=True, default=None)
    adjourned_at: datetime | None = _time(nullable=True, default=None)
    transcript_seq: int = 0
    created_at: datetime = _time(default_factory=utcnow)


class StreamTransition(SQLModel, table=True):
    """Who moved a stream from one state to another, why and when; never changed."""

    __tablename__ = "stream_transition"
    id: int | None = Field(default=None, primary_key=True)
    stream_id: int = Field(foreign_key="stream.id", index=True)
    at: datetime = _time(default_factory=utcnow)
    actor: str = _text(64)
    action: str = _text(32)
    reason: str | None = _text(512, nullable=True, default=None)
    from_state: str = _text(16)
    to_state: str = _text(16)
    command_id: str | None = _text(64, nullable=True, default=None)


class StreamCommand(SQLModel, table=True):
    """A command sent to an agent and what became of it. The payload is not kept: a
    go_live carries the line's key, which is rebuilt from the line when it is resent."""

    __tablename__ = "stream_command"
    id: str = Field(sa_type=sa.String(64), primary_key=True)
    stream_id: int = Field(foreign_key="stream.id", index=True)
    room: str = _text(32)
    kind: str = _text(32)  # CommandKind values, e.g. restart_publisher
    issued_at: datetime = _time()
    expires_at: datetime = _time()
    status: str = _text(16, index=True)  # a CommandStatus value
    attempts: int = 0
    answered_at: datetime | None = _time(nullable=True, default=None)
    error: str | None = _text(32, nullable=True, default=None)
    message: str | None = _text(512, nullable=True, default=None)


class Interruption(SQLModel, table=True):
    """A recording interruption the rules allow: recess, non-public evidence, mediation."""

    __tablename__ = "interruption"
    id: int | None = Field(default=None, primary_key=True)
    stream_id: int = Field(foreign_key="stream.id", index=True)
    kind: str = _text(32)
    reason: str | None = _text(512, nullable=True, default=None)
    started_at: datetime = _time(default_factory=utcnow)
    started_by: str = _text(64)
    ended_at: datetime | None = _time(nullable=True, default=None)
    ended_by: str | None = _text(64, nullable=True, default=None)


class TranscriptEntry(SQLModel, table=True):
    """A transcript line as the clerk entered it; forwarded to the room's agent."""

    __tablename__ = "transcript_entry"
    __table_args__ = (
        sa.UniqueConstraint("stream_id", "seq"),
        sa.UniqueConstraint("stream_id", "client_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    stream_id: int = Field(foreign_key="stream.id", index=True)
    seq: int
    client_key: str | None = _text(128, nullable=True, default=None)
    speaker: str = _text(64)
    text: str = Field(sa_type=sa.Text())
    at: datetime = _time(default_factory=utcnow)
    entered_by: str = _text(64)
    forwarded: bool = False


class Alert(SQLModel, table=True):
    """Something a technician must see. One open alert per (kind, room, hearing)."""

    __tablename__ = "alert"
    __table_args__ = (
        sa.Index(
            "uq_alert_open",
            "key",
            unique=True,
            sqlite_where=sa.text("cleared_at IS NULL"),
            postgresql_where=sa.text("cleared_at IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = _text(160)
    kind: str = _text(32, index=True)
    severity: str = _text(16)  # critical | warning | info
    room: str | None = _text(32, nullable=True, default=None)
    hearing_id: int | None = Field(default=None, foreign_key="hearing.id", index=True)
    message_zh: str = _text(512)
    message_en: str = _text(512)
    raised_at: datetime = _time(default_factory=utcnow, index=True)
    cleared_at: datetime | None = _time(nullable=True, default=None)
    acknowledged_by: str | None = _text(64, nullable=True, default=None)
    acknowledged_at: datetime | None = _time(nullable=True, default=None)


class AgentEvent(SQLModel, table=True):
    """An event a courtroom agent reported (segment closed, gap, process exited, ...)."""

    __tablename__ = "agent_event"
    __table_args__ = (sa.Index("ix_agent_event_room_seq", "room", "seq"),)
    id: str = Field(sa_type=sa.String(80), primary_key=True)  # the agent's `{room}-{seq}`
    room: str = _text(32)
    seq: int
    kind: str = _text(32)
    at: datetime = _time()
    hearing_id: int | None = Field(default=None, index=True)
    message: str = Field(default="", sa_type=sa.Text())
    data: dict[str, Any] = _json(default=dict)


class ObservedRun(SQLModel, table=True):
    """A run of one kind seen by the monitor on a hearing's public output.

    Epoch milliseconds, as the coverage ledger computes in them. The monitor inserts a run
    when it opens and moves its end while it lasts, so a restart loses at most a second.
    """

    __tablename__ = "observed_run"
    id: str = Field(sa_type=sa.String(40), primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    room: str = _text(32)
    kind: str = _text(16)  # picture | slate | black | frozen | silent
    start_ms: int = Field(sa_type=sa.BigInteger())
    end_ms: int = Field(sa_type=sa.BigInteger())


class LeaderLease(SQLModel, table=True):
    """Which replica runs the single-instance work (streamd.orchestrator.leadership).

    One row per kind of work; `epoch` grows with every change of holder, so a replica can
    tell its own lease from a later one, and `expires_at` is in the database's clock, so
    replicas' clocks never have to agree.
    """

    __tablename__ = "leader_lease"
    name: str = Field(sa_type=sa.String(32), primary_key=True)
    holder: str | None = _text(160, nullable=True, default=None)
    address: str | None = _text(256, nullable=True, default=None)  # where it takes requests
    epoch: int = 0
    expires_at: datetime | None = _time(nullable=True, default=None)


class ReplicaMember(SQLModel, table=True):
    """A replica that said it is alive (`seen_at`, the database's clock): the monitor's
    rooms are shared among those seen within one lease (streamd.monitor.share)."""

    __tablename__ = "replica_member"
    name: str = Field(sa_type=sa.String(160), primary_key=True)
    seen_at: datetime = _time()


class ConsoleRequest(SQLModel, table=True):
    """A console action that arrived while no replica led: carried out by the next leader,
    shown as pending until then (never lost, never silently dropped)."""

    __tablename__ = "console_request"
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    action: str = _text(32)  # streamd.lifecycle.Action
    actor: str = _text(64)
    reason: str | None = _text(500, nullable=True, default=None)
    received_by: str = _text(160)  # the replica that took the request
    status: str = _text(16, index=True)  # streamd.domain.RequestStatus
    created_at: datetime = _time(default_factory=utcnow)
    done_at: datetime | None = _time(nullable=True, default=None)
    outcome: str | None = _text(500, nullable=True, default=None)
