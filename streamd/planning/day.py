"""One window of days as the allocation engine sees it: the booked hearings as slots, the
lines with their outages, and the plan's answer written back to each booking with its
reason."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlmodel import Session

from streamd import audit
from streamd.allocation import Hearing as Slot
from streamd.allocation import Hold, Phase, Plan, Problem, describe, first_free, repair
from streamd.allocation import Line as Channel
from streamd.domain import HearingStatus, LineStatus
from streamd.models import Booking, Hearing, Line, Stream
from streamd.planning.terms import _PUBLIC, PRIORITY, LineChange, Row, Timing, _Clock, _hold_of
from streamd.policy import Decision, Eligibility

log = logging.getLogger(__name__)


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


def _on_air_order(stream: Stream | None) -> tuple[int, float]:
    if stream is not None and stream.state in _PUBLIC:
        since = stream.discipline_at or stream.state_at
        return 0, since.timestamp()
    return 1, 0.0


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
