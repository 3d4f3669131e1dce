"""Live repair: the day's plan after a late start, an overrun, an outage, an urgent case.

The repaired plan is the optimal plan of the changed day under the same objective, with
the current plan as "previous": total priority first, then the number streamed, then
announced hearings on their announced line, then the fewest changes. Live hearings are
fixed (a live hearing never moves; only if its own line dies does it take any free line,
ahead of everything not yet started: `on_air`). Only components that touch what changed
are solved again; the rest keep their lines, which were optimal and are still.

`repair` is the one engine, for the running court (`streamd.planning`, which rebuilds the
problem from the database each time) and for `Day` below (the bench's and the tests'
model of a day, driven by events). Both hand it the problem the current plan was solved
for and the problem of now; what changed between the two is found by comparing them, so
no caller has to say what happened, and a caller that says nothing (no earlier problem)
gets a full solve.

Some changes can only take plans away: an overrun, a hearing going live no later than
planned, a line going down under nobody live. The current plan was optimal among more
plans under the same ranking (with itself as "previous" it also changes nothing), so if
it is still feasible it is still optimal and nothing is solved at all (`narrows`).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
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
_ALWAYS = ((-_FOREVER, _FOREVER),)


# The live rules, in one place: a hearing on air keeps its line while the line covers the
# rest of it and nobody on air before it holds it; one that cannot (its line died, or two
# were put on one line) is displaced: it outranks every hearing not yet started and takes
# any free line. A hearing going live now outranks those still to come the same way.


def boost(priorities: Iterable[int]) -> int:
    """A priority above any set of the others together: what a displaced or starting
    hearing is planned with, so no plan drops it to stream hearings not yet begun."""
    return 1 + sum(priorities)


def place(on_air: Sequence[tuple[Hearing, str | None]], lines: Sequence[Line]) -> list[str | None]:
    """For hearings on air (each with the line it is on, earliest on air first), the line
    each keeps: its own if the line covers the rest of it and is free of those before it,
    else None (displaced)."""
    by_id = {line.id: line for line in lines}
    taken: dict[str, list[tuple[int, int]]] = {}
    out: list[str | None] = []
    for h, line_id in on_air:
        line = by_id.get(line_id) if line_id is not None else None
        spans = taken.setdefault(line_id, []) if line_id is not None else []
        if (
            line is not None
            and line.covers(h.start, h.end)
            and all(b <= h.start or h.end <= a for a, b in spans)
        ):
            spans.append((h.start, h.end))
            out.append(line_id)
        else:
            out.append(None)
    return out


def on_air(h: Hearing, line: str | None, top: int) -> Hearing:
    """A hearing on air as the plan sees it: fixed on `line`, or displaced (`line` None)
    with priority `top` (`boost`). The public's pin no longer counts either way."""
    if line is not None:
        return replace(h, fixed_line=line, pinned_line=None)
    return replace(h, priority=top, pinned_line=None)


def starting(h: Hearing, top: int) -> Hearing:
    """A hearing going live now: its clerk is announcing discipline, those to come yield."""
    return replace(h, priority=top)


def repair(
    problem: Problem, before: Problem | None = None, plan: Mapping[str, str] | None = None
) -> Plan:
    """The optimal plan of `problem`, given that `plan` was optimal for `before`.

    Without them, a full solve. If `problem` only narrows `before`, `plan` itself when it
    is still feasible; otherwise only the components touching what changed (`changed`)
    are solved, the rest keep their previous lines. Exact either way: the same objective
    as `solve(problem)`."""
    if before is None or plan is None:
        return solve(problem)
    if narrows(before, problem, plan):
        kept = keep(problem, plan)
        if kept is not None:
            return kept
    return solve(problem, focus=changed(before, problem, plan))


class Memory:
    """The last problem solved in each window and its plan, for a caller that rebuilds
    the problem from scratch each time (the running court reads it from the database), so
    it can repair instead of solving the whole window again.

    What it holds is only ever a problem and an optimum of it, so an entry that no longer
    matches the world (another process planned meanwhile, the transaction that wrote the
    plan rolled back) costs solving, never exactness: `changed` compares the problem now,
    previous lines included, with the one remembered. Thread-safe; the oldest windows are
    forgotten past `size`."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._last: OrderedDict[Hashable, tuple[Problem, dict[str, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def repair(self, window: Hashable, problem: Problem) -> Plan:
        with self._lock:
            last = self._last.get(window)
        plan = repair(problem, *last) if last is not None else solve(problem)
        with self._lock:
            self._last[window] = (problem, dict(plan.assignments))
            self._last.move_to_end(window)
            while len(self._last) > self.size:
                self._last.popitem(last=False)
        return plan

    def forget(self) -> None:
        with self._lock:
            self._last.clear()


def narrows(before: Problem, after: Problem, plan: Mapping[str, str]) -> bool:
    """True when every plan of `after` is a plan of `before` ranked the same way (up to a
    constant): the same hearings and lines, each hearing's interval no smaller, each
    line up no longer, the previous plan being `plan`; a hearing newly fixed must be fixed
    on the line `plan` gives it (its dropped pin then counts the same in every plan left)."""
    if [line.id for line in before.lines] != [line.id for line in after.lines]:
        return False
    for old_line, new_line in zip(before.lines, after.lines, strict=True):
        if _windows(old_line) != _windows(new_line) and not _inside(new_line, old_line):
            return False
    if len(before.hearings) != len(after.hearings):
        return False
    old = {h.id: h for h in before.hearings}
    for h in after.hearings:
        was = old.get(h.id)
        if was is None or after.previous.get(h.id, _MISSING) != plan.get(h.id):
            return False
        if h is was or h == was:
            continue
        if not (h.start <= was.start and was.end <= h.end):
            return False
        if (h.priority, h.eligible) != (was.priority, was.eligible):
            return False
        if h.fixed_line != was.fixed_line:
            if was.fixed_line is not None or h.fixed_line != plan.get(h.id):
                return False
            if h.pinned_line is not None:
                return False
        elif h.pinned_line != was.pinned_line:
            return False
    return True


def changed(
    before: Problem, after: Problem, plan: Mapping[str, str]
) -> list[tuple[int, int]] | None:
    """The time windows where `after` differs from `before` for the solver: a hearing
    added, removed or altered (both its old and new interval), one whose previous line is
    not the line `plan` gave it, a line up at different times. None (everything) if the
    lines themselves differ."""
    if [line.id for line in before.lines] != [line.id for line in after.lines]:
        return None
    windows: list[tuple[int, int]] = []
    for old_line, new_line in zip(before.lines, after.lines, strict=True):
        if _windows(old_line) != _windows(new_line):
            windows.extend(_difference(old_line, new_line))
    old = {h.id: h for h in before.hearings}
    for h in after.hearings:
        was = old.pop(h.id, None)
        if was is None or (was is not h and was != h):
            windows.append((h.start, h.end))
            if was is not None:
                windows.append((was.start, was.end))
        elif after.previous.get(h.id, _MISSING) != plan.get(h.id):
            windows.append((h.start, h.end))
    windows.extend((h.start, h.end) for h in old.values())
    return windows


_MISSING = "\0missing"


def _windows(line: Line) -> tuple[tuple[int, int], ...]:
    return line.available if line.available is not None else _ALWAYS


def _moments(one: Line, two: Line) -> list[int]:
    """Every window edge of either line, sorted: coverage is constant between two."""
    edges = {t for a, b in (*_windows(one), *_windows(two)) for t in (a, b)}
    return sorted(edges)


def _up(line: Line, t: int) -> bool:
    return line.window_at(t) is not None


def _inside(inner: Line, outer: Line) -> bool:
    """Whether `inner` is up only when `outer` is."""
    edges = _moments(inner, outer)
    return all(not _up(inner, t) or _up(outer, t) for t in edges[:-1])


def _difference(one: Line, two: Line) -> list[tuple[int, int]]:
    """The windows where exactly one of the two lines is up."""
    edges = _moments(one, two)
    return [(a, b) for a, b in itertools.pairwise(edges) if _up(one, a) != _up(two, a)]


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

    solved: Problem | None = None  # the problem `plan` is the optimum of

    @classmethod
    def start(cls, lines: list[Line], hearings: list[Hearing]) -> tuple[Day, Plan]:
        day = cls({line.id: line for line in lines}, {h.id: h for h in hearings})
        day.solved = day.problem()
        plan = solve(day.solved)
        day.plan = dict(plan.assignments)
        return day, plan

    def problem(self) -> Problem:
        top = boost(h.priority for h in self.hearings.values())
        live = [(self.hearings[hid], line) for hid, line in self.live.items()]
        kept = dict(zip(self.live, place(live, list(self.lines.values())), strict=True))
        hearings = [
            on_air(h, kept[h.id], top) if h.id in self.live else h for h in self.hearings.values()
        ]
        previous: dict[str, str | None] = {
            h.id: self.plan.get(h.id) for h in self.hearings.values()
        }
        return Problem(lines=list(self.lines.values()), hearings=hearings, previous=previous)

    def apply(self, event: Event) -> Repair:
        began = time.perf_counter()
        before = dict(self.plan)
        solved = self.solved
        self._change(event)
        problem = self.problem()
        plan = repair(problem, solved, before)
        self.plan = dict(plan.assignments)
        self.solved = problem
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

    def _change(self, event: Event) -> None:
        """Apply the event to the state (what it changed is found by `changed`)."""
        if isinstance(event, Urgent):
            h = event.hearing
            if h.id in self.hearings:
                raise KeyError(f"hearing {h.id} already exists")
            self.hearings[h.id] = h
            return
        if isinstance(event, LineDown | LineUp):
            self._line(event)
            return
        h = self.hearings[event.hearing]
        if isinstance(event, LateStart):
            delay = event.start - h.start
            self.hearings[h.id] = replace(h, start=event.start, end=h.end + delay)
        elif isinstance(event, Overrun):
            self.hearings[h.id] = replace(h, end=event.end)
        elif isinstance(event, GoLive):
            line = self.plan.get(h.id)
            self.hearings[h.id] = replace(h, start=event.at, end=h.end + max(0, event.at - h.start))
            if line is not None:
                self.live[h.id] = line
        else:  # EndEarly and Cancel free the line for whoever can use it.
            del self.hearings[h.id]
            self.live.pop(h.id, None)
            self.displaced.discard(h.id)
            self.plan.pop(h.id, None)

    def _line(self, event: LineDown | LineUp) -> None:
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
            for hid, on in self.live.items():
                h = self.hearings[hid]
                if on == line.id and h.start < end and event.start < h.end:
                    # Its past is over; what is left needs a line from now on (`place`
                    # finds it displaced: its line no longer covers it).
                    self.displaced.add(hid)
                    self.hearings[hid] = replace(h, start=max(h.start, event.start))
            return
        merged = [*windows, (event.at, _FOREVER)]
        self.lines[line.id] = Line(line.id, tuple(merged))
