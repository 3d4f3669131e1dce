"""The docket: hearings, their bookings of a line, and the approvals a hearing may need."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from streamd.domain import LineStatus
from streamd.models.columns import _json, _text, _time, utcnow


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
