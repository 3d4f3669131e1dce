"""Planning a window: lock, read the day, solve (repair), write each booking's line back.

One plan at a time (`lock`): two made at once could each give the same free line to a
different hearing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from streamd import approvals, outages
from streamd.allocation import Line as Channel
from streamd.allocation import Phase, repair
from streamd.domain import BookingStatus, LineStatus
from streamd.models import Booking, Courtroom, Hearing, Line, Stream, utcnow
from streamd.planning.day import _Day
from streamd.planning.terms import _PUBLIC, DONE, LATEST, LineChange, Timing, _Clock, _hold_of
from streamd.policy import Ruleset

log = logging.getLogger(__name__)


_PLAN_LOCK = 0x5354_524D  # "STRM": the PostgreSQL advisory lock every plan takes


# The plan each window was last given, so a replan solves only what changed since.
_REPAIRS = repair.Memory()


_SQLITE_LOCK = sa.text("UPDATE line SET active = active WHERE id = (SELECT min(id) FROM line)")


def replan(
    session: Session,
    *,
    around: datetime,
    zone: tzinfo,
    timing: Timing,
    rules: Ruleset,
    actor: str,
    now: datetime | None = None,
    starting: int | None = None,
) -> list[LineChange]:
    """Plan the active bookings of the local day holding `around`, and the days either
    side (a long hearing can reach across midnight), persisting every change.

    `starting`: a hearing going live now (the plan must give it a line from now on, or
    say why not)."""
    lock(session)
    now = now or utcnow()
    local = around.astimezone(zone)
    day_start = datetime(local.year, local.month, local.day, tzinfo=zone) - timedelta(days=1)
    day_end = day_start + timedelta(days=3)
    rows = session.exec(
        select(Booking, Hearing, Courtroom, Stream)
        .join(Hearing, col(Hearing.id) == col(Booking.hearing_id))
        .join(Courtroom, col(Courtroom.id) == col(Hearing.courtroom_id))
        .outerjoin(Stream, col(Stream.hearing_id) == col(Hearing.id))
        .where(
            Booking.status != BookingStatus.CANCELLED.value,
            col(Hearing.planned_start) < day_end,
            col(Hearing.planned_end) > day_start,
        )
        .order_by(col(Booking.id))
    ).all()
    # A stream that is over holds no line and its booking keeps the line it had.
    rows = [r for r in rows if r[3] is None or r[3].state not in DONE]
    every = session.exec(select(Line).order_by(col(Line.code))).all()
    policy = approvals.decisions(session, [h for _, h, _, _ in rows], rules)
    # Each court streams its hearings on its own lines (the two-level platform holds
    # several): one plan per court, each remembered apart.
    changes: list[LineChange] = []
    for court_id in sorted({room.court_id for _, _, room, _ in rows}):
        changes += _plan_court(
            session,
            rows=[r for r in rows if r[2].court_id == court_id],
            every=[line for line in every if line.court_id == court_id],
            policy=policy,
            window=(court_id, day_start, day_end),
            clock=_Clock(zone, now),
            timing=timing,
            starting=starting,
            now=now,
            actor=actor,
        )
    return changes


def _plan_court(
    session: Session,
    *,
    rows: list[Any],
    every: Sequence[Line],
    policy: dict[int, Any],
    window: tuple[int, datetime, datetime],
    clock: _Clock,
    timing: Timing,
    starting: int | None,
    now: datetime,
    actor: str,
) -> list[LineChange]:
    _, day_start, day_end = window
    lines = [line for line in every if line.active]
    # Outages anywhere near: a hearing on air may hold its line past the window.
    down = outages.overlapping(
        session, [line.id for line in lines if line.id is not None], day_start, day_end + LATEST
    )
    day = _Day(
        rows=rows,
        lines=lines,
        channels={
            line.code: Channel(line.code, outages.windows(down.get(line.id or 0, [])))
            for line in lines
        },
        why_down={
            line.code: "；".join(o.reason for o in down.get(line.id or 0, [])) for line in lines
        },
        retired={line.id: line for line in every if not line.active},
        policy=policy,
        clock=clock,
        timing=timing,
    )
    problem = day.problem(starting=starting, now=now)
    plan = _REPAIRS.repair(window, problem)
    return day.write(session, problem, plan, actor)


def live_signature(
    session: Session, *, now: datetime, timing: Timing
) -> tuple[tuple[int, str, int], ...]:
    """What the live plan depends on beyond the bookings: each hearing on air (its line
    and expected end) and each line outage now or soon. When this changes (a hearing goes
    on air or comes off it, an overrun reaches its next step, a line goes down or comes
    back), the plan must be repaired; when it does not, nothing needs solving."""
    clock = _Clock(None, now)
    out: list[tuple[int, str, int]] = []
    on_air = session.exec(
        select(Stream, Hearing)
        .join(Hearing, col(Hearing.id) == col(Stream.hearing_id))
        .where(col(Stream.state).in_(sorted(_PUBLIC)))
    ).all()

    for stream, hearing in on_air:
        held = _hold_of(hearing, stream, Phase.ON_AIR, clock, timing)
        out.append((hearing.id or 0, f"on_air:{stream.line_id}", held.end))
    ids = [line.id for line in session.exec(select(Line)).all() if line.id is not None]
    for line_id, rows in outages.overlapping(session, ids, now, now + LATEST).items():
        for row in rows:
            end = clock.at(row.end) if row.end is not None else 0
            out.append((line_id, f"down:{row.id}:{clock.at(row.start)}", end))
    return tuple(sorted(out))


def moved_on_air(session: Session) -> list[int]:
    """Hearings on air whose booking the plan has moved to another line (or none): their
    publisher must follow, or stop."""
    rows = session.exec(
        select(Stream, Booking)
        .join(Booking, col(Booking.hearing_id) == col(Stream.hearing_id))
        .where(
            col(Stream.state).in_(sorted(_PUBLIC)),
            Booking.status != BookingStatus.CANCELLED.value,
        )
    ).all()
    return sorted(
        stream.hearing_id
        for stream, booking in rows
        if booking.line_id != stream.line_id or booking.line_status != LineStatus.ASSIGNED
    )


def lock(session: Session) -> None:
    """Take the plan lock for the rest of the caller's transaction: an advisory lock on
    PostgreSQL, the database's write lock on SQLite (a write of nothing takes it). Take it
    before reading what the plan is made from: on SQLite a transaction that read first
    may find the lock taken and its snapshot stale. Taking it again is harmless."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PLAN_LOCK})
    elif bind.dialect.name == "sqlite":
        session.execute(_SQLITE_LOCK)
