"""Live repair: the day's plan after a late start, an overrun, an outage, an urgent case.

The repaired plan is the optimal plan of the changed day under the same objective, with
the current plan as "previous": total priority first, then the number streamed, then
announced hearings on their announced line, then the fewest changes. Live hearings are
fixed (a live hearing never moves; only if its own line dies does it take any free line,
ahead of everything not yet started). Only components that touch what changed are solved
again; the rest keep their lines, which were optimal and are still.

Some events can only take plans away: an overrun, a hearing going live no later than
planned, a line going down under nobody live. The current plan was optimal among more
plans under the same ranking (with itself as "previous" it also changes nothing), so if
it is still feasible it is still optimal and nothing is solved at all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from streamd.allocation.model import Conflict, Hearing, Line, Plan, Problem
from streamd.allocation.solver import keep, solve


@dataclass(frozen=True, slots=True)
class LateStart:
    hearing: str
    start: int  # the new start; the end moves by the same delay


@dataclass(frozen=True, slots=True)
class Overrun:
    hearing: str
    end: int


@dataclass(frozen=True, slots=True)
class EndEarly:
    hearing: str
    at: int


@dataclass(frozen=True, slots=True)
class Cancel:
    hearing: str


@dataclass(frozen=True, slots=True)
class GoLive:
    hearing: str
    at: int


@dataclass(frozen=True, slots=True)
class LineDown:
    line: str
    start: int
    end: int | None = None  # None: until further notice


@dataclass(frozen=True, slots=True)
class LineUp:
    line: str
    at: int


@dataclass(frozen=True, slots=True)
class Urgent:
    hearing: Hearing


Event = LateStart | Overrun | EndEarly | Cancel | GoLive | LineDown | LineUp | Urgent

_FOREVER = 1 << 62


@dataclass(frozen=True, slots=True)
class Change:
    """One hearing whose line changed, with what caused it (for the clerk and technician)."""

    hearing: str
    before: str | None
    after: str | None
    conflicts: tuple[Conflict, ...] = ()


@dataclass(frozen=True, slots=True)
class Repair:
    problem: Problem  # what was solved: the changed day, the old plan as "previous"
    plan: Plan
    changes: tuple[Change, ...]
    seconds: float


@dataclass
class Day:
    """The mutable state of one day's streaming. Not thread-safe: one owner applies events."""

    lines: dict[str, Line]
    hearings: dict[str, Hearing]
    plan: dict[str, str] = field(default_factory=dict)
    live: dict[str, str] = field(default_factory=dict)
    displaced: set[str] = field(default_factory=set)

    @classmethod
    def start(cls, lines: list[Line], hearings: list[Hearing]) -> tuple[Day, Plan]:
        day = cls({line.id: line for line in lines}, {h.id: h for h in hearings})
        plan = solve(day.problem())
        day.plan = dict(plan.assignments)
        return day, plan

    def problem(self) -> Problem:
        boost = 1 + sum(h.priority for h in self.hearings.values())
        hearings = []
        for h in self.hearings.values():
            if h.id in self.live and h.id not in self.displaced:
                hearings.append(replace(h, fixed_line=self.live[h.id], pinned_line=None))
            elif h.id in self.displaced:
                hearings.append(replace(h, priority=boost, pinned_line=None))
            else:
                hearings.append(h)
        previous: dict[str, str | None] = {
            h.id: self.plan.get(h.id) for h in self.hearings.values()
        }
        return Problem(lines=list(self.lines.values()), hearings=hearings, previous=previous)

    def apply(self, event: Event) -> Repair:
        began = time.perf_counter()
        narrows = self._narrows(event)
        focus = self._change(event)
        before = dict(self.plan)
        problem = self.problem()
        plan = keep(problem, self.plan) if narrows else None
        if plan is None:
            plan = solve(problem, focus=focus)
        self.plan = dict(plan.assignments)
        for hid in list(self.displaced):
            if hid in self.plan:
                self.live[hid] = self.plan[hid]
                self.displaced.discard(hid)
        changes = tuple(
            Change(hid, before.get(hid), plan.assignments.get(hid), plan.why(hid))
            for hid in sorted(set(before) | set(plan.assignments))
            if before.get(hid) != plan.assignments.get(hid)
        )
        return Repair(problem, plan, changes, time.perf_counter() - began)

    def _narrows(self, event: Event) -> bool:
        """True when the event, applied to the current state, can only remove plans and
        leaves the ranking of the rest alone (asked before the event is applied)."""
        if isinstance(event, Overrun):
            return event.end >= self.hearings[event.hearing].end
        if isinstance(event, GoLive):
            # Going live fixes the hearing on the line it already has; its pin no longer
            # counts, which is the same for every plan left. Starting early only widens it.
            return event.at <= self.hearings[event.hearing].start
        if isinstance(event, LineDown):
            # A live hearing on that line would be displaced and boosted: a new ranking.
            end = event.end if event.end is not None else _FOREVER
            return not any(
                on == event.line
                and self.hearings[hid].start < end
                and event.start < self.hearings[hid].end
                for hid, on in self.live.items()
            )
        return False

    def _change(self, event: Event) -> tuple[int, int]:
        """Apply the event to the state; return the time window it touched."""
        if isinstance(event, Urgent):
            h = event.hearing
            if h.id in self.hearings:
                raise KeyError(f"hearing {h.id} already exists")
            self.hearings[h.id] = h
            return h.start, h.end
        if isinstance(event, LineDown | LineUp):
            return self._line(event)
        h = self.hearings[event.hearing]
        if isinstance(event, LateStart):
            delay = event.start - h.start
            self.hearings[h.id] = replace(h, start=event.start, end=h.end + delay)
            return min(h.start, event.start), max(h.end, h.end + delay)
        if isinstance(event, Overrun):
            self.hearings[h.id] = replace(h, end=event.end)
            return min(h.start, event.end), max(h.end, event.end)
        if isinstance(event, GoLive):
            line = self.plan.get(h.id)
            self.hearings[h.id] = replace(h, start=event.at, end=h.end + max(0, event.at - h.start))
            if line is not None:
                self.live[h.id] = line
            return min(h.start, event.at), max(h.end, self.hearings[h.id].end)
        # EndEarly and Cancel free the line for whoever can use it.
        del self.hearings[h.id]
        self.live.pop(h.id, None)
        self.displaced.discard(h.id)
        self.plan.pop(h.id, None)
        return h.start, h.end

    def _line(self, event: LineDown | LineUp) -> tuple[int, int]:
        line = self.lines[event.line]
        windows = list(line.available or [(-_FOREVER, _FOREVER)])
        if isinstance(event, LineDown):
            end = event.end if event.end is not None else _FOREVER
            cut: list[tuple[int, int]] = []
            for a, b in windows:
                if b <= event.start or a >= end:
                    cut.append((a, b))
                    continue
                if a < event.start:
                    cut.append((a, event.start))
                if b > end:
                    cut.append((end, b))
            self.lines[line.id] = Line(line.id, tuple(cut))
            touched = event.start
            for hid, on in self.live.items():
                h = self.hearings[hid]
                if on == line.id and h.start < end and event.start < h.end:
                    # Its past is over; what is left needs a line from now on.
                    self.displaced.add(hid)
                    self.hearings[hid] = replace(h, start=max(h.start, event.start))
                    touched = min(touched, h.start)
            return touched, end
        merged = [*windows, (event.at, _FOREVER)]
        self.lines[line.id] = Line(line.id, tuple(merged))
        return event.at, _FOREVER
