"""Planning: run the allocation engine over the booked hearings and persist its answer.

The I/O edge of `streamd.allocation`. Whenever a booking is made or cancelled, the
bookings of the days around it are planned again, with the current lines as the previous
plan (fewest changes) and announced hearings pinned to their line. Each booking then
carries its line, or `no_line` (or `excluded` by the policy) with the reason in Chinese
and English, written in the
same transaction as the booking itself, so the clerk sees the answer at once and a
restart answers the same.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, tzinfo

from sqlmodel import Session, col, select

from streamd import approvals, audit
from streamd.allocation import Hearing as Slot
from streamd.allocation import Line as Channel
from streamd.allocation import Problem, solve
from streamd.allocation.explain import describe_both, first_free
from streamd.domain import BookingStatus, HearingStatus, SessionKind
from streamd.models import Booking, Hearing, Line, utcnow
from streamd.policy import Outcome, Ruleset

# A hearing in open court outranks the preparatory sessions; all are streamable.
PRIORITY = {
    SessionKind.HEARING.value: 3,
    SessionKind.CROSS_EXAMINATION.value: 2,
    SessionKind.EVIDENCE_EXCHANGE.value: 2,
    SessionKind.INQUIRY.value: 1,
}


def replan(
    *,
    session: Session,
    around: datetime,
    zone: tzinfo,
    preroll: timedelta,
    postroll: timedelta,
    announce: timedelta,
    rules: Ruleset,
    actor: str,
) -> None:
    """Plan the active bookings of the local day holding `around`, and the days either
    side (a long hearing can reach across midnight), persisting every change."""
    local = around.astimezone(zone)
    day_start = datetime(local.year, local.month, local.day, tzinfo=zone) - timedelta(days=1)
    day_end = day_start + timedelta(days=3)
    rows = session.exec(
        select(Booking, Hearing)
        .join(Hearing, col(Hearing.id) == col(Booking.hearing_id))
        .where(
            Booking.status != BookingStatus.CANCELLED.value,
            col(Hearing.planned_start) < day_end,
            col(Hearing.planned_end) > day_start,
        )
    ).all()
    lines = session.exec(select(Line).where(Line.active == True).order_by(col(Line.code))).all()  # noqa: E712
    by_code = {line.code: line for line in lines}
    by_id = {line.id: line for line in lines}
    now = utcnow()
    policy = approvals.decisions(session, [h for _, h in rows], rules)
    slots: list[Slot] = []
    previous: dict[str, str | None] = {}
    for booking, hearing in rows:
        key = str(booking.id)
        current = by_id.get(booking.line_id) if booking.line_id is not None else None
        announced = hearing.planned_start - now <= announce
        slots.append(
            Slot(
                id=key,
                start=int((hearing.planned_start - preroll).timestamp()),
                end=int((hearing.planned_end + postroll).timestamp()),
                priority=PRIORITY.get(hearing.session_kind, 1),
                eligible=hearing.status != HearingStatus.CANCELLED.value
                and policy[hearing.id or 0].outcome is Outcome.STREAM,
                pinned_line=current.code if current is not None and announced else None,
            )
        )
        if booking.line_status != "pending":
            previous[key] = current.code if current is not None else None
    problem = Problem(
        lines=[Channel(line.code) for line in lines], hearings=slots, previous=previous
    )
    plan = solve(problem)

    case_of = {str(b.id): h.case_number for b, h in rows}

    def show(t: int) -> str:
        return datetime.fromtimestamp(t, zone).strftime("%H:%M")

    for booking, hearing in rows:
        key = str(booking.id)
        code = plan.assignments.get(key)
        line_id = by_code[code].id if code is not None else None
        status = "assigned" if code is not None else "no_line"
        reason = None
        decided = policy[hearing.id or 0]
        if hearing.status == HearingStatus.CANCELLED.value:
            status = "excluded"
            reason = {"zh": "庭审已取消", "en": "the hearing is cancelled"}
        elif decided.outcome is not Outcome.STREAM:
            status = "excluded"
            reason = {"zh": decided.reason_zh, "en": decided.reason_en}
        elif code is None:
            named = tuple(
                replace(c, hearing=case_of[c.hearing]) if c.hearing in case_of else c
                for c in plan.why(key)
            )
            reason = describe_both(plan.unassigned[key], named, show)
            local_day = hearing.planned_start.astimezone(zone).date()
            midnight = datetime(local_day.year, local_day.month, local_day.day, tzinfo=zone)
            until = int((midnight + timedelta(days=1)).timestamp())
            free = first_free(problem, plan.assignments, key, until=until)
            if free is None:
                reason["zh"] += "；当日没有其他空闲时段"
                reason["en"] += "; no other free time that day"
            else:
                line_code, slot_start = free
                at = show(slot_start + int(preroll.total_seconds()))
                reason["zh"] += f"；可行方案：改到 {at} 起，{line_code} 空闲"
                reason["en"] += f"; would work: {line_code} is free from {at} if the hearing moves"
        audit.update(
            session=session,
            actor=actor,
            action="booking.line",
            obj=booking,
            values={"line_id": line_id, "line_status": status, "line_reason": reason},
        )
