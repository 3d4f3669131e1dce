"""Bookings: a clerk asks for a stream slot for a hearing.

A double submit books once: the idempotency key (header or body) returns the first result,
and the partial unique index allows one active booking per hearing whatever the key.
A hearing the policy excludes is refused here already (fail closed); one that waits for
approval may be booked and gets a line only once it is decided streamable; the allocation
engine decides which requested bookings get a line.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from streamd import approvals, audit
from streamd.domain import BookingStatus, HearingStatus, LineStatus
from streamd.models import Alert, Booking, Hearing, Line, User, utcnow
from streamd.policy import Eligibility, Ruleset
from streamd.scope import Scope, hearing_ids_of
from streamd.store import paged


class BookingRefused(ValueError):
    """The hearing cannot be booked; `field` names what is at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class BookingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hearing_id: int = Field(ge=1)
    idempotency_key: str | None = Field(default=None, min_length=8, max_length=128)
    note: str | None = Field(default=None, max_length=512)
    late_reason: str | None = Field(
        default=None,
        min_length=2,
        max_length=512,
        description="Required when booked after the announcement deadline (three days ahead).",
    )


class BookingCancel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str | None = Field(default=None, max_length=512)


class BookingPublic(BaseModel):
    id: int
    hearing_id: int
    case_number: str
    status: BookingStatus
    requested_by: str
    requested_at: datetime
    note: str | None
    cancelled_by: str | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    line: str | None = Field(description="code of the line assigned, if any")
    line_status: LineStatus = Field(
        description="the allocation engine's answer; excluded by the policy; released once "
        "cancelled"
    )
    line_reason: dict[str, str] | None = Field(
        description="why there is no line, in zh and en (when no_line or excluded)"
    )
    late_announcement: bool = Field(description="booked after the announcement deadline")
    late_reason: str | None
    line_failing: dict[str, str] | None = Field(
        default=None,
        description="the line is failing for this hearing right now (the platform refused "
        "the key, or its push address cannot be reached), in zh and en",
    )


class BookingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: BookingStatus | None = None
    hearing_id: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


def active(session: Session, hearing_id: int) -> Booking | None:
    return session.exec(
        select(Booking).where(
            Booking.hearing_id == hearing_id, Booking.status != BookingStatus.CANCELLED.value
        )
    ).first()


def book(
    session: Session,
    *,
    data: BookingCreate,
    user: User,
    rules: Ruleset,
    announce: timedelta,
) -> tuple[Booking, bool]:
    """Book a stream slot. Returns (booking, created); an existing one is returned as is.

    Hearings must be announced `announce` ahead (开庭公告); a later booking needs a reason.
    """
    if data.idempotency_key:
        prior = session.exec(
            select(Booking).where(Booking.idempotency_key == data.idempotency_key)
        ).first()
        if prior is not None:
            if prior.hearing_id != data.hearing_id:
                raise BookingRefused(
                    "idempotency_key", "this key was already used for another hearing"
                )
            return prior, False
    hearing = session.get(Hearing, data.hearing_id)
    if hearing is None:
        raise LookupError(f"hearing {data.hearing_id} does not exist")
    if hearing.status == HearingStatus.CANCELLED.value:
        raise BookingRefused("hearing_id", "the hearing is cancelled")
    decided = approvals.decision(session, hearing, rules)
    if decided.outcome is Eligibility.EXCLUDED:
        raise BookingRefused(
            "hearing_id", f"the hearing may not be streamed: {decided.reason_en} ({decided.rule})"
        )
    now = utcnow()
    if hearing.planned_end <= now:
        raise BookingRefused("hearing_id", "the hearing is already over")
    existing = active(session, data.hearing_id)
    if existing is not None:
        return existing, False
    late = hearing.planned_start - now < announce
    if late and not data.late_reason:
        raise BookingRefused(
            "late_reason",
            f"the hearing starts in less than {announce.days} days, after the announcement "
            "deadline; give late_reason (it is flagged as a late announcement)",
        )
    assert user.id is not None
    booking = Booking(
        hearing_id=data.hearing_id,
        requested_by=user.id,
        idempotency_key=data.idempotency_key,
        note=data.note,
        status=BookingStatus.REQUESTED.value,
        late_announcement=late,
        late_reason=data.late_reason if late else None,
    )
    try:
        with session.begin_nested():
            session.add(booking)
            session.flush()
    except IntegrityError:
        # A concurrent double submit won the race; answer with its booking.
        winner = active(session, data.hearing_id)
        if winner is None:
            raise
        return winner, False
    audit.record(
        session=session,
        actor=user.username,
        action="booking.create",
        obj=booking,
        after=audit.snapshot(booking),
    )
    return booking, True


def cancel(session: Session, *, booking_id: int, data: BookingCancel, user: User) -> Booking | None:
    booking = session.get(Booking, booking_id)
    if booking is None:
        return None
    if booking.status == BookingStatus.CANCELLED.value:
        return booking  # cancelling twice is one cancellation
    audit.update(
        session=session,
        actor=user.username,
        action="booking.cancel",
        obj=booking,
        values={
            "status": BookingStatus.CANCELLED.value,
            "cancelled_by": user.id,
            "cancelled_at": utcnow(),
            "cancel_reason": data.reason,
            "line_id": None,  # the line goes back to the pool at once
            "line_status": LineStatus.RELEASED,
            "line_reason": None,
        },
    )
    return booking


def list_bookings(
    session: Session, *, query: BookingQuery, court_id: Scope
) -> tuple[list[Booking], int]:
    """The court's bookings that `query` asks for (a booking is its hearing's court's)."""
    stmt = select(Booking).where(col(Booking.hearing_id).in_(hearing_ids_of(court_id)))
    if query.status:
        stmt = stmt.where(Booking.status == query.status.value)
    if query.hearing_id:
        stmt = stmt.where(Booking.hearing_id == query.hearing_id)
    return paged(session, stmt, col(Booking.id), offset=query.offset, limit=query.limit)


def to_public(session: Session, *, booking: Booking) -> BookingPublic:
    hearing = session.get(Hearing, booking.hearing_id)
    requester = session.get(User, booking.requested_by)
    canceller = session.get(User, booking.cancelled_by) if booking.cancelled_by else None
    line = session.get(Line, booking.line_id) if booking.line_id is not None else None
    assert booking.id is not None and hearing is not None and requester is not None
    return BookingPublic(
        id=booking.id,
        hearing_id=booking.hearing_id,
        case_number=hearing.case_number,
        status=BookingStatus(booking.status),
        requested_by=requester.username,
        requested_at=booking.requested_at,
        note=booking.note,
        cancelled_by=canceller.username if canceller else None,
        cancelled_at=booking.cancelled_at,
        cancel_reason=booking.cancel_reason,
        line=line.code if line is not None else None,
        line_status=booking.line_status,
        line_reason=booking.line_reason,
        late_announcement=booking.late_announcement,
        late_reason=booking.late_reason,
        line_failing=_line_failing(session, booking.hearing_id),
    )


# Alert kinds that say the line itself fails this hearing (streamd.orchestrator.push).
LINE_FAILURES = ("push_refused", "push_unreachable")


def _line_failing(session: Session, hearing_id: int) -> dict[str, str] | None:
    alert = session.exec(
        select(Alert).where(
            Alert.hearing_id == hearing_id,
            col(Alert.kind).in_(LINE_FAILURES),
            col(Alert.cleared_at).is_(None),
        )
    ).first()
    return {"zh": alert.message_zh, "en": alert.message_en} if alert is not None else None
