"""The court's structure and its people: court, departments, courtrooms, lines and their
outages, users, their tokens and login throttles, and the append-only audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from streamd.models.columns import _json, _text, _time, utcnow


class Court(SQLModel, table=True):
    __tablename__ = "court"
    id: int | None = Field(default=None, primary_key=True)
    code: str = _text(16, unique=True)  # e.g. 粤0111, as in case numbers
    name: str = _text(128)
    # The share of its streamable public hearings the court must stream (set by the
    # intermediate court; the roll-up report ranks the courts against it).
    stream_target_ratio: float = Field(default=0.0, ge=0.0, le=1.0)


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
    __table_args__ = (sa.UniqueConstraint("court_id", "code", name="uq_line_court_code"),)
    id: int | None = Field(default=None, primary_key=True)
    court_id: int = Field(foreign_key="court.id")
    code: str = _text(32)
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


class User(SQLModel, table=True):
    __tablename__ = "user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = _text(64, unique=True)
    display_name: str = _text(128, default="")
    password_hash: str = _text(256)
    roles: list[str] = _json(default=list)
    # The court the account works for: every read and write is scoped to it. None: no
    # court (created before any was loaded), which sees nothing a court owns.
    court_id: int | None = Field(default=None, foreign_key="court.id")
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
