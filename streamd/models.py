"""Database tables (SQLModel). Schema changes go through Alembic (streamd/migrations).

Times are stored in UTC and always come back timezone-aware, on SQLite as on PostgreSQL,
so that "09:00 in the court" can never be confused with "09:00 UTC".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from streamd.domain import LineStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive values are refused, not guessed."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; attach the court's zone first")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _time(*, nullable: bool = False, index: bool = False, **kw: Any) -> Any:
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index), **kw)


def _json(*, default: Any) -> Any:
    return Field(default_factory=default, sa_column=sa.Column(sa.JSON(), nullable=False))


def _text(length: int, *, nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=sa.String(length), nullable=nullable, **kw)


class Court(SQLModel, table=True):
    __tablename__ = "court"
    id: int | None = Field(default=None, primary_key=True)
    code: str = _text(16, unique=True)  # e.g. 粤0111, as in case numbers
    name: str = _text(128)


class Department(SQLModel, table=True):
    __tablename__ = "department"
    __table_args__ = (sa.UniqueConstraint("court_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    court_id: int = Field(foreign_key="court.id")
    code: str = _text(32)
    name: str = _text(128)
    stream_target_ratio: float = Field(default=0.0, ge=0.0, le=1.0)


class Courtroom(SQLModel, table=True):
    __tablename__ = "courtroom"
    __table_args__ = (sa.UniqueConstraint("court_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    court_id: int = Field(foreign_key="court.id")
    code: str = _text(32)
    name: str = _text(128)
    department_id: int | None = Field(default=None, foreign_key="department.id")


class Line(SQLModel, table=True):
    """A licensed streaming line. The stream key is a secret: never logged, never shown whole."""

    __tablename__ = "line"
    id: int | None = Field(default=None, primary_key=True)
    court_id: int = Field(foreign_key="court.id")
    code: str = _text(32, unique=True)
    name: str = _text(128)
    push_url: str = _text(512)
    stream_key: str = _text(256)
    # Where the public watches (HLS .m3u8, HTTP-FLV or RTMP; streamd.play): what the monitor
    # verifies. None for a local line, or one whose platform plays where it is pushed.
    play_url: str | None = _text(512, nullable=True, default=None)
    same_server: bool = False  # the platform plays the stream at push_url/stream_key
    active: bool = True

    def __repr__(self) -> str:  # keeps the key out of logs and tracebacks
        return f"Line(id={self.id!r}, code={self.code!r}, push_url={self.push_url!r}, key=***)"


class LineOutage(SQLModel, table=True):
    """A stretch when a line cannot carry a stream: a maintenance window booked ahead, or
    a failure a technician reports (`end` None: until restored). The plan keeps every
    hearing off it; a hearing on air on it is moved to another line."""

    __tablename__ = "line_outage"
    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    start: datetime = _time()
    end: datetime | None = _time(nullable=True, default=None)
    reason: str = _text(512)
    reported_by: str = _text(64)
    reported_at: datetime = _time(default_factory=utcnow)
    ended_by: str | None = _text(64, nullable=True, default=None)


class Hearing(SQLModel, table=True):
    """One court session (开庭, evidence exchange, ...). Key: case number + planned start."""

    __tablename__ = "hearing"
    __table_args__ = (sa.UniqueConstraint("case_number", "planned_start"),)
    id: int | None = Field(default=None, primary_key=True)
    case_number: str = _text(64, index=True)  # canonical form
    case_year: int
    case_court_code: str = _text(16)
    case_type_code: str = _text(8)
    case_sequence: int
    cause: str = _text(128)  # 案由
    procedure: str = _text(32)
    session_kind: str = _text(32)
    is_public: bool
    non_public_reason: str | None = _text(256, nullable=True, default=None)
    parties: list[str] = _json(default=list)
    handler_judge: str = _text(64)
    clerk: str = _text(64)
    department_id: int = Field(foreign_key="department.id", index=True)
    courtroom_id: int = Field(foreign_key="courtroom.id", index=True)
    planned_start: datetime = _time(index=True)
    planned_end: datetime = _time()
    status: str = _text(16, default="scheduled")
    created_at: datetime = _time(default_factory=utcnow)
    updated_at: datetime = _time(default_factory=utcnow)


class Booking(SQLModel, table=True):
    """A clerk's request for a stream slot. At most one active booking per hearing."""

    __tablename__ = "booking"
    __table_args__ = (
        sa.Index(
            "uq_booking_active_hearing",
            "hearing_id",
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    status: str = _text(16, default="requested")
    requested_by: int = Field(foreign_key="user.id")
    requested_at: datetime = _time(default_factory=utcnow)
    idempotency_key: str | None = _text(128, nullable=True, default=None, unique=True)
    note: str | None = _text(512, nullable=True, default=None)
    cancelled_by: int | None = Field(default=None, foreign_key="user.id")
    cancelled_at: datetime | None = _time(nullable=True, default=None)
    cancel_reason: str | None = _text(512, nullable=True, default=None)
    # The allocation engine's answer: pending until planned, then assigned or no_line.
    line_id: int | None = Field(default=None, foreign_key="line.id")
    line_status: str = Field(  # a LineStatus value
        default=LineStatus.PENDING.value,
        sa_column=sa.Column(sa.String(16), nullable=False, server_default="pending"),
    )
    line_reason: dict[str, str] | None = Field(
        default=None, sa_column=sa.Column(sa.JSON(), nullable=True)
    )
    # Booked after the announcement deadline (开庭公告 three days ahead): why, for the report.
    late_announcement: bool = Field(
        default=False,
        sa_column=sa.Column(sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    late_reason: str | None = _text(512, nullable=True, default=None)


class Approval(SQLModel, table=True):
    """The record a public hearing that is not streamed must carry (不直播审批).

    `rule` is the policy rule that keeps it off air (`flag.sensitive`, `cause.divorce`,
    ...). At most one record per hearing and rule is in force (not rejected) at a time.
    """

    __tablename__ = "approval"
    __table_args__ = (
        sa.Index(
            "uq_approval_active_rule",
            "hearing_id",
            "rule",
            unique=True,
            sqlite_where=sa.text("status != 'rejected'"),
            postgresql_where=sa.text("status != 'rejected'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    rule: str = _text(64)
    level: str = _text(16)  # department | court
    status: str = _text(16, index=True)  # pending | reviewed | approved | rejected
    reason: str = _text(512)
    applicant: str = _text(64)
    applied_at: datetime = _time(default_factory=utcnow)
    decided_by: str | None = _text(64, nullable=True, default=None)
    decided_at: datetime | None = _time(nullable=True, default=None)


class ApprovalStep(SQLModel, table=True):
    """Who did what to an approval, when, and what they said; never changed afterwards."""

    __tablename__ = "approval_step"
    id: int | None = Field(default=None, primary_key=True)
    approval_id: int = Field(foreign_key="approval.id", index=True)
    at: datetime = _time(default_factory=utcnow)
    actor: str = _text(64)
    role: str = _text(32)
    action: str = _text(16)  # apply | review | approve | reject
    comment: str | None = _text(512, nullable=True, default=None)


class User(SQLModel, table=True):
    __tablename__ = "user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = _text(64, unique=True)
    display_name: str = _text(128, default="")
    password_hash: str = _text(256)
    roles: list[str] = _json(default=list)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    active: bool = True
    created_at: datetime = _time(default_factory=utcnow)


class AuthToken(SQLModel, table=True):
    """Bearer tokens and browser sessions; only a SHA-256 of the token is stored."""

    __tablename__ = "auth_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = _text(64, unique=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: str = _text(16)  # bearer | session
    csrf_token: str | None = _text(64, nullable=True, default=None)
    created_at: datetime = _time(default_factory=utcnow)
    expires_at: datetime = _time()
    revoked: bool = False


class LoginThrottle(SQLModel, table=True):
    """Failed logins in a row per account (`user:NAME`) or address (`addr:IP`)."""

    __tablename__ = "login_throttle"
    id: int | None = Field(default=None, primary_key=True)
    key: str = _text(200, unique=True)
    failures: int = 0
    last_failure_at: datetime | None = _time(nullable=True, default=None)
    next_allowed_at: datetime | None = _time(nullable=True, default=None)
    locked: bool = False


class AuditEntry(SQLModel, table=True):
    """Append-only: the migration installs triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_object", "object_type", "object_id"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(default_factory=utcnow, index=True)
    actor: str = _text(64)
    action: str = _text(64)
    object_type: str = _text(32)
    object_id: str = _text(64)
    before: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON()))
    after: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON()))


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


class ArchivedFile(SQLModel, table=True):
    """One file of a hearing's recording, kept in the central archive (streamd.archive).

    Rows are added, never deleted; `state` moves archived → backed_up, or to lost when the
    fixity audit finds both copies bad. The bytes live under STREAMD_ARCHIVE_DIR.
    """

    __tablename__ = "archived_file"
    __table_args__ = (sa.UniqueConstraint("hearing_id", "session", "path"),)
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    room: str = _text(32, index=True)
    session: str = _text(32)
    path: str = _text(255)  # inside the session folder, e.g. video/v000_00003.ts
    kind: str = _text(16)  # streamd_protocol.archive.FileKind
    offset_seconds: float | None = None  # from the session's start (segments only)
    duration_seconds: float | None = None
    bytes: int = Field(sa_type=sa.BigInteger())
    sha256: str = _text(64)
    state: str = _text(16, default="archived")  # streamd_protocol.archive.CopyState
    archived_at: datetime = _time(default_factory=utcnow, index=True)
    backed_up_at: datetime | None = _time(nullable=True, default=None)
    verified_at: datetime | None = _time(nullable=True, default=None)


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


class TranscriptVersion(SQLModel, table=True):
    """A clerk's correction of one transcript line (SPC 2017 Art. 7): who, when, the text
    before and after. Version 1 is the recorder's own line in `transcript.jsonl`, which is
    never rewritten; rows here are versions 2, 3, ... and are never updated or deleted."""

    __tablename__ = "transcript_version"
    __table_args__ = (sa.UniqueConstraint("hearing_id", "session", "seq", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    session: str = _text(32)
    seq: int
    version: int
    before: str = Field(sa_type=sa.Text())
    after: str = Field(sa_type=sa.Text())
    by: str = _text(64)
    at: datetime = _time(default_factory=utcnow)


class RecordGrant(SQLModel, table=True):
    """A party's access to one hearing's record for a period (SPC 2017 Art. 10, 11).

    Only hashes are stored: the one-time code (handed to the party, consumed on first use)
    and the party session it opened. Revocation is a timestamp, never a delete: the grant
    and everything done with it stay on the record."""

    __tablename__ = "record_grant"
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    party_name: str = _text(64)
    created_by: str = _text(64)
    created_at: datetime = _time(default_factory=utcnow)
    expires_at: datetime = _time()
    allow_audio: bool = False
    allow_transcript: bool = False
    allow_non_public: bool = False
    code_hash: str = _text(64, unique=True)
    redeemed_at: datetime | None = _time(nullable=True)
    session_hash: str | None = _text(64, nullable=True, unique=True)
    revoked_at: datetime | None = _time(nullable=True)
    revoked_by: str | None = _text(64, nullable=True)


class RecordAccess(SQLModel, table=True):
    """One look at a record: a view, a seek-heavy minute, a download or a refusal, with who
    (a staff username or a party grant), from where and when. Append-only."""

    __tablename__ = "record_access"
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int | None = Field(default=None, foreign_key="hearing.id", index=True)
    grant_id: int | None = Field(default=None, foreign_key="record_grant.id")
    username: str | None = _text(64, nullable=True)
    kind: str = _text(32)  # streamd.record.access.AccessKind
    at: datetime = _time(default_factory=utcnow)
    remote: str = _text(64)
    user_agent: str = _text(256)
