"""Planning: run the allocation engine over the booked hearings and persist its answer.

The I/O edge of `streamd.allocation`. Whenever a booking is made or cancelled, a hearing
goes live, runs over, starts late or ends, the bookings of the days around it are planned
again, with the current lines as the previous plan (fewest changes) and announced hearings
pinned to their line. The plan is made on what the court can see now
(`allocation.holds`): a hearing on air is fixed on its line until its expected end (its
planned length from when it went on air; past that, a step at a time), a hearing going
live now is planned ahead of those still to come, one that has ended holds nothing.
Each booking then carries its line, or `no_line` (or `excluded` by the policy) with the
reason in Chinese and English, written in the same transaction as whatever caused it, so
the clerk sees the answer at once and a restart answers the same. The changes come back
to the caller, who tells the people affected (the orchestrator alerts the technicians and
the consoles).

The plan is repaired, not made afresh: `allocation.repair.Memory` keeps the problem each
window was last solved for and its plan, and solves again only the parts of the day that
differ now (on air, late, cancelled, a line down) — the engine `bench/repair.py` measures.

Plans are made one at a time (`lock`): two made at once could each give the same
free line to a different hearing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from streamd import approvals, audit, outages
from streamd.allocation import Hearing as Slot
from streamd.allocation import Hold, Phase, Plan, Problem, describe, first_free, hold, repair
from streamd.allocation import Line as Channel
from streamd.config import Settings
from streamd.domain import BookingStatus, HearingStatus, LineStatus, SessionKind
from streamd.lifecycle import PUBLIC, StreamState
from streamd.models import Booking, Courtroom, Hearing, Line, Stream, utcnow
from streamd.policy import Decision, Eligibility, Ruleset

log = logging.getLogger(__name__)

# A hearing in open court outranks the preparatory sessions; all are streamable.
PRIORITY = {
    SessionKind.HEARING.value: 3,
    SessionKind.CROSS_EXAMINATION.value: 2,
    SessionKind.EVIDENCE_EXCHANGE.value: 2,
    SessionKind.INQUIRY.value: 1,
}
# Streams in these states are over as far as lines go: their bookings are history.
DONE = frozenset({StreamState.OFF_AIR.value, StreamState.ENDED.value, StreamState.ABORTED.value})
_PUBLIC = frozenset(state.value for state in PUBLIC)
# How far past the window an on-air hearing's hold may reach, for the outages read.
LATEST = timedelta(days=1)
_PLAN_LOCK = 0x5354_524D  # "STRM": the PostgreSQL advisory lock every plan takes
# The plan each window was last given, so a replan solves only what changed since.
_REPAIRS = repair.Memory()
_SQLITE_LOCK = sa.text("UPDATE line SET active = active WHERE id = (SELECT min(id) FROM line)")


@dataclass(frozen=True, slots=True)
class Timing:
    """The court's line timing: pre/post-roll, the announcement deadline (announced
    hearings keep their line), and the step by which an overrun is re-estimated."""

    preroll: timedelta
    postroll: timedelta
    announce: timedelta
    step: timedelta = timedelta(minutes=10)

    @classmethod
    def of(cls, settings: Settings) -> Timing:
        return cls(
            preroll=timedelta(minutes=settings.line_preroll_minutes),
            postroll=timedelta(minutes=settings.line_postroll_minutes),
            announce=timedelta(days=settings.announce_days),
            step=timedelta(seconds=settings.repair_step_seconds),
        )


@dataclass(frozen=True, slots=True)
class LineChange:
    """One booking whose line changed, and why, for the clerk and the technician."""

    booking_id: int
    hearing_id: int
    room: str
    case_number: str
    before: str | None
    after: str | None
    reason: dict[str, str] | None


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
        policy=approvals.decisions(session, [h for _, h, _, _ in rows], rules),
        clock=_Clock(zone, now),
        timing=timing,
    )
    problem = day.problem(starting=starting, now=now)
    plan = _REPAIRS.repair((day_start, day_end), problem)
    return day.write(session, problem, plan, actor)


Row = tuple[Booking, Hearing, Courtroom, Stream | None]


@dataclass
class _Day:
    """The days being planned: their bookings, lines and decisions, read once."""

    rows: Sequence[Row]
    lines: Sequence[Line]
    channels: dict[str, Channel]
    why_down: dict[str, str]
    retired: dict[int | None, Line]  # lines taken out of service: named in reasons only
    policy: dict[int, Decision]
    clock: _Clock
    timing: Timing
    holds: dict[str, Hold] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.by_code = {line.code: line for line in self.lines}
        self.by_id = {line.id: line for line in self.lines}

    def line_of(self, booking: Booking) -> Line | None:
        """The booking's line if it is in service (the only lines the plan can use)."""
        return self.by_id.get(booking.line_id) if booking.line_id is not None else None

    def had(self, booking: Booking) -> Line | None:
        """The line the booking held, in service or not: what a change is said to be from."""
        return self.line_of(booking) or self.retired.get(booking.line_id)

    def problem(self, *, starting: int | None, now: datetime) -> Problem:
        top = repair.boost(PRIORITY.get(h.session_kind, 1) for _, h, _, _ in self.rows)
        slots: list[Slot] = []
        previous: dict[str, str | None] = {}
        on_air: list[tuple[int, str | None, int | None]] = []  # slot, line on air on, hearing
        # Hearings on air first, earliest on air first: if two ever share a line, the one
        # that was there first keeps it and the other is planned as displaced.
        for booking, hearing, _, stream in sorted(self.rows, key=lambda r: _on_air_order(r[3])):
            key = str(booking.id)
            current = self.line_of(booking)
            phase = Phase.WAITING
            if stream is not None and stream.state in _PUBLIC:
                phase = Phase.ON_AIR
            elif hearing.id == starting:
                phase = Phase.STARTING
            held = _hold_of(hearing, stream, phase, self.clock, self.timing)
            self.holds[key] = held
            if (
                phase is Phase.WAITING
                and held.late
                and current is None
                and booking.line_status == LineStatus.NO_LINE
            ):
                # Its hearing may well be sitting without a stream: a line now would only
                # air its end (漏播) and could take the line of one that starts on time. It
                # keeps its answer; going live plans it afresh.
                self.waiting.add(key)
                continue
            eligible = (
                hearing.status != HearingStatus.CANCELLED.value
                and self.policy[hearing.id or 0].outcome is Eligibility.STREAM
            )
            announced = hearing.planned_start - now <= self.timing.announce
            slot = Slot(
                id=key,
                start=held.start,
                end=held.end,
                priority=PRIORITY.get(hearing.session_kind, 1),
                eligible=eligible,
                pinned_line=current.code if current is not None and announced else None,
            )
            if phase is Phase.STARTING:
                slot = repair.starting(slot, top)
            if phase is Phase.ON_AIR and eligible:
                air = self.by_id.get(stream.line_id) if stream is not None else None
                on_air.append((len(slots), air.code if air is not None else None, hearing.id))
            slots.append(slot)
            if booking.line_status != LineStatus.PENDING:
                previous[key] = current.code if current is not None else None
        channels = list(self.channels.values())
        kept = repair.place([(slots[k], code) for k, code, _ in on_air], channels)
        for (k, _, hearing_id), line in zip(on_air, kept, strict=True):
            if line is None:  # its line went down or is taken: it needs one before anyone
                log.warning("hearing %s is on air without a usable line", hearing_id)
            slots[k] = repair.on_air(slots[k], line, top)
        return Problem(lines=channels, hearings=slots, previous=previous)

    def write(self, session: Session, problem: Problem, plan: Plan, actor: str) -> list[LineChange]:
        """Each booking's answer, audited where it changed; the changed lines, with why."""
        named = _Names(self.rows, self.holds, self.clock)
        changes: list[LineChange] = []
        for booking, hearing, room, _ in self.rows:
            key = str(booking.id)
            if key in self.waiting:
                continue
            had = self.had(booking)
            code = plan.assignments.get(key)
            decided = self.policy[hearing.id or 0]
            reason: dict[str, str] | None
            if hearing.status == HearingStatus.CANCELLED.value:
                status, reason = (
                    LineStatus.EXCLUDED,
                    {"zh": "庭审已取消", "en": "the hearing is cancelled"},
                )
            elif decided.outcome is not Eligibility.STREAM:
                status, reason = (
                    LineStatus.EXCLUDED,
                    {"zh": decided.reason_zh, "en": decided.reason_en},
                )
            elif code is None:
                status = LineStatus.NO_LINE
                reason = _no_line(problem, plan, key, hearing, named, self.clock, self.timing)
            else:
                status = LineStatus.ASSIGNED
                reason = _moved(plan, key, booking, had, named, self.clock, self.why_down)
            before = had.code if had is not None else None
            changed = audit.update(
                session=session,
                actor=actor,
                action="booking.line",
                obj=booking,
                values={
                    "line_id": self.by_code[code].id if code is not None else None,
                    "line_status": status,
                    "line_reason": reason,
                },
            )
            if changed and before != code:
                changes.append(
                    LineChange(
                        booking.id or 0,
                        hearing.id or 0,
                        room.code,
                        hearing.case_number,
                        before,
                        code,
                        reason,
                    )
                )
        return changes


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


def _hold_of(
    hearing: Hearing, stream: Stream | None, phase: Phase, clock: _Clock, timing: Timing
) -> Hold:
    since = stream.discipline_at if stream is not None and phase is Phase.ON_AIR else None
    return hold(
        start=clock.at(hearing.planned_start),
        end=clock.at(hearing.planned_end),
        phase=phase,
        now=clock.now,
        step=max(1, int(timing.step.total_seconds())),
        preroll=int(timing.preroll.total_seconds()),
        postroll=int(timing.postroll.total_seconds()),
        since=clock.at(since) if since is not None else None,
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


def _on_air_order(stream: Stream | None) -> tuple[int, float]:
    if stream is not None and stream.state in _PUBLIC:
        since = stream.discipline_at or stream.state_at
        return 0, since.timestamp()
    return 1, 0.0


class _Clock:
    """Datetimes to the engine's integer seconds and back, in the court's zone."""

    def __init__(self, zone: tzinfo | None, now: datetime) -> None:
        self.zone = zone
        self.now = int(now.timestamp())

    @staticmethod
    def at(moment: datetime) -> int:
        return int(moment.timestamp())

    def show(self, t: int) -> str:
        return datetime.fromtimestamp(t, self.zone).strftime("%H:%M")


class _Names:
    """How a hearing holding a line is named to the clerk: its case number and, when the
    day has moved it, why it holds the line longer than planned."""

    def __init__(
        self,
        rows: Sequence[Row],
        holds: dict[str, Hold],
        clock: _Clock,
    ) -> None:
        self.case = {str(b.id): h.case_number for b, h, _, _ in rows}
        self.holds = holds
        self.clock = clock

    def label(self, key: str, lang: str) -> str:
        case = self.case.get(key, key)
        held = self.holds.get(key)
        if held is not None and held.overrun:
            until = self.clock.show(held.end)
            if lang == "zh":
                return f"{case}（超时，预计至 {until}）"
            return f"{case} (running over, until about {until})"
        if held is not None and held.late:
            return f"{case}（迟延开庭）" if lang == "zh" else f"{case} (started late)"
        return case


def _no_line(
    problem: Problem,
    plan: Plan,
    key: str,
    hearing: Hearing,
    named: _Names,
    clock: _Clock,
    timing: Timing,
) -> dict[str, str]:
    reason = {}
    for lang in ("zh", "en"):
        conflicts = tuple(
            replace(c, hearing=named.label(c.hearing, lang)) if c.hearing is not None else c
            for c in plan.why(key)
        )
        reason[lang] = describe(plan.unassigned[key], conflicts, clock.show, lang=lang)
    local_day = hearing.planned_start.astimezone(clock.zone).date()
    midnight = datetime(local_day.year, local_day.month, local_day.day, tzinfo=clock.zone)
    until = int((midnight + timedelta(days=1)).timestamp())
    free = first_free(problem, plan.assignments, key, until=until)
    if free is None:
        reason["zh"] += "；当日没有其他空闲时段"
        reason["en"] += "; no other free time that day"
    else:
        line_code, slot_start = free
        at = clock.show(slot_start + int(timing.preroll.total_seconds()))
        reason["zh"] += f"；可行方案：改到 {at} 起，{line_code} 空闲"
        reason["en"] += f"; would work: {line_code} is free from {at} if the hearing moves"
    return reason


def _moved(
    plan: Plan,
    key: str,
    booking: Booking,
    old: Line | None,
    named: _Names,
    clock: _Clock,
    why_down: dict[str, str],
) -> dict[str, str] | None:
    """Why an assigned hearing is on another line than before: what now holds the old
    one, or that it is down or out of service. A hearing on the line it had keeps the
    reason it was given, if any."""
    code = plan.assignments[key]
    if booking.line_status == LineStatus.ASSIGNED and old is not None and old.code == code:
        return booking.line_reason
    if old is None:  # it had no line before: there is no move to explain
        return None
    if not old.active:
        return {
            "zh": f"线路由 {old.code} 改为 {code}：{old.code} 已停止使用",
            "en": f"moved from {old.code} to {code}: {old.code} is out of service",
        }
    hit = next((c for c in plan.conflicts(key) if c.line == old.code), None)
    if hit is not None and hit.hearing is None:
        cause = why_down.get(old.code) or "停用"
        return {
            "zh": f"线路由 {old.code} 改为 {code}：{old.code} 故障或停用（{cause}）",
            "en": f"moved from {old.code} to {code}: {old.code} is down ({cause})",
        }
    if hit is None or hit.hearing is None:  # nothing holds it: moved for another's sake
        return {
            "zh": f"线路由 {old.code} 改为 {code}：为其他庭审让出线路",
            "en": f"moved from {old.code} to {code} to make room for another hearing",
        }
    other = hit.hearing
    when = f"{clock.show(hit.start)}–{clock.show(hit.end)}"
    zh, en = named.label(other, "zh"), named.label(other, "en")
    return {
        "zh": f"线路由 {old.code} 改为 {code}：{old.code} {when} 已分配给 {zh}",
        "en": f"moved from {old.code} to {code}: {old.code} carries {en} {when}",
    }
