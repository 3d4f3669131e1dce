"""The optimal plan: hearings x lines, exact under a lexicographic objective.

How it stays exact and fast. Candidates split into components (maximal runs of
overlapping intervals); components never interact. In each one:

1. Relax line identity: only the number of usable lines over time counts. That relaxation
   is a min-cost flow (`flow.pack`) whose weights encode all four objective tiers, and its
   value bounds every real plan from above.
2. Give the chosen hearings real lines by a sweep that honours pins, the previous plan,
   windows and live hearings (`coloring.assign`).
3. If the coloured plan reaches the bound, it is optimal, certified. If not (windows
   that cut through a busy period, pins that clash), an exact search over line
   occupancy (`search.best_plan`) explores only the plans that could still beat the
   sweep, as the flow's reduced costs tell; in the rare case that it grows too large,
   the component goes to an exact integer programme (`exact.solve_component`). Either
   way the answer is optimal; the statistics say which path each component took.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from streamd.allocation import coloring, flow, parallel, search
from streamd.allocation.model import (
    AllocationError,
    Conflict,
    Hearing,
    Line,
    Objective,
    Plan,
    Problem,
    SolveStats,
    Unassigned,
)
from streamd.allocation.spans import LineSpans

# From this many open hearings on, the components are solved on two cores (a year of a
# large court); below it a fork costs more than it saves.
PARALLEL_FROM = 20_000


@dataclass(slots=True)
class Candidate:
    """An eligible, not fixed hearing with the lines that could carry it on their own."""

    hearing: Hearing
    usable: tuple[str, ...]
    pin: str | None  # pinned line, if usable
    prev: str | None  # previous line, if usable
    was_unassigned: bool  # in the previous plan without a line

    @property
    def preferred(self) -> str | None:
        return self.pin if self.pin is not None else self.prev


def validate(problem: Problem) -> None:
    line_ids = [line.id for line in problem.lines]
    if len(set(line_ids)) != len(line_ids):
        raise AllocationError("duplicate line id")
    known = set(line_ids)
    for line in problem.lines:
        for a, b in line.available or ():
            if not a < b:
                raise AllocationError(
                    f"line {line.id}: availability window must end after it starts"
                )
    seen: set[str] = set()
    for h in problem.hearings:
        if h.id in seen:
            raise AllocationError(f"duplicate hearing id {h.id!r}")
        seen.add(h.id)
        if not h.start < h.end:
            raise AllocationError(f"hearing {h.id}: end must be after start")
        if isinstance(h.priority, bool) or not isinstance(h.priority, int) or h.priority < 1:
            raise AllocationError(f"hearing {h.id}: priority must be a positive integer")
        for field_name, line_id in (("pinned_line", h.pinned_line), ("fixed_line", h.fixed_line)):
            if line_id is not None and line_id not in known:
                raise AllocationError(f"hearing {h.id}: {field_name} {line_id!r} is not a line")
        if h.fixed_line is not None and not h.eligible:
            raise AllocationError(f"hearing {h.id}: an ineligible hearing cannot hold a line")
    fixed = sorted(
        (h for h in problem.hearings if h.fixed_line is not None),
        key=lambda h: (h.fixed_line or "", h.start),
    )
    lines = {line.id: line for line in problem.lines}
    for one, two in itertools.pairwise(fixed):
        if one.fixed_line == two.fixed_line and two.start < one.end:
            raise AllocationError(
                f"hearings {one.id} and {two.id} are both fixed on {one.fixed_line}"
            )
    for h in fixed:
        assert h.fixed_line is not None
        if not lines[h.fixed_line].covers(h.start, h.end):
            raise AllocationError(f"hearing {h.id} is fixed on {h.fixed_line}, which is down then")


def solve(problem: Problem, *, focus: Sequence[tuple[int, int]] | None = None) -> Plan:
    """The optimal plan. With `focus` (the time windows where something changed),
    components wholly outside it keep the previous plan's lines when that plan is still
    feasible there (live repair: the previous plan was optimal and nothing outside the
    focus changed)."""
    validate(problem)
    windows = _Focus(focus) if focus is not None else None
    lines = list(problem.lines)
    previous = problem.previous
    fixed = [h for h in problem.hearings if h.fixed_line is not None]
    blockers = LineSpans((h.fixed_line, h.start, h.end, h.id) for h in fixed if h.fixed_line)
    assignments: dict[str, str] = {h.id: h.fixed_line for h in fixed if h.fixed_line}
    unassigned: dict[str, Unassigned] = {}
    open_hearings: list[Hearing] = []
    for h in problem.hearings:
        if h.fixed_line is not None:
            continue
        if h.eligible:
            open_hearings.append(h)
        else:
            unassigned[h.id] = Unassigned(h.id, h.start, h.end, ineligible=True)
    groups = list(_components(open_hearings))

    def run(part: Sequence[list[Hearing]]) -> tuple[dict[str, str], dict[str, int]]:
        return _solve_groups(part, lines, blockers, previous, windows)

    if len(open_hearings) >= PARALLEL_FROM:
        results = parallel.halves(run, *parallel.split(groups, len))
    else:
        results = [run(groups)]
    stats = {"components": 0, "flow": 0, "trivial": 0, "milp": 0, "search": 0}
    for chosen, counts in results:
        assignments.update(chosen)
        for key, amount in counts.items():
            stats[key] += amount
    for h in open_hearings:
        if h.id not in assignments:
            unassigned[h.id] = Unassigned(h.id, h.start, h.end)
    return Plan(
        assignments=assignments,
        unassigned=unassigned,
        objective=evaluate(problem, assignments),
        stats=SolveStats(
            components=stats["components"],
            flow_solved=stats["flow"],
            trivial=stats["trivial"],
            milp_solved=stats["milp"],
            search_solved=stats["search"],
        ),
        explainer=_Explainer(problem, assignments),
    )


def _solve_groups(
    groups: Sequence[list[Hearing]],
    lines: list[Line],
    blockers: LineSpans,
    previous: Mapping[str, str | None],
    focus: _Focus | None,
) -> tuple[dict[str, str], dict[str, int]]:
    line_order = {line.id: k for k, line in enumerate(lines)}
    by_id = {line.id: line for line in lines}
    assignments: dict[str, str] = {}
    stats = {"components": 0, "flow": 0, "trivial": 0, "milp": 0, "search": 0}
    for group in groups:
        component, special = _candidates(group, lines, blockers, previous)
        if not component:
            continue
        stats["components"] += 1
        # The whole group, not just its usable members: a hearing that just lost every
        # line (inside the focus) still changed what its neighbours could have.
        if focus is not None and focus.outside(group):
            kept = _keep_previous(component, previous)
            if kept is not None:
                stats["trivial"] += 1
                assignments.update(kept)
                continue
        chosen, path = _solve_component(
            component, len(lines) - len(special), special, by_id, line_order, blockers
        )
        stats[path] += 1
        assignments.update(chosen)
    return assignments, stats


def keep(problem: Problem, assignments: Mapping[str, str]) -> Plan | None:
    """`assignments` as the plan of `problem` if it is still feasible there, else None.

    Live repair uses it when an event can only take plans away (an overrun, a hearing
    going live on time, a line going down under nobody live): the previous optimum,
    still feasible, is still optimal, so nothing needs solving.
    """
    lines = {line.id: line for line in problem.lines}
    hearings = {h.id: h for h in problem.hearings}
    per_line: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for hid, line_id in assignments.items():
        h = hearings.get(hid)
        if h is None or not h.eligible or line_id not in lines:
            return None
        if not lines[line_id].covers(h.start, h.end):
            return None
        per_line[line_id].append((h.start, h.end))
    for h in problem.hearings:
        if h.fixed_line is not None and assignments.get(h.id) != h.fixed_line:
            return None
    for spans in per_line.values():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            if start < end:
                return None
    unassigned = {
        h.id: Unassigned(h.id, h.start, h.end, ineligible=not h.eligible)
        for h in problem.hearings
        if h.id not in assignments
    }
    return Plan(
        assignments=dict(assignments),
        unassigned=unassigned,
        objective=evaluate(problem, assignments),
        stats=SolveStats(kept=True),
        explainer=_Explainer(problem, assignments),
    )


class _Explainer:
    """Says, per line, what holds a hearing off it in the final plan.

    A year's plan asks this for some 20,000 hearings × 16 lines, so the per-line tables
    are built once, on the first question, and a blocker found again (neighbours are held
    off by the same few hearings) reuses its `Conflict`.
    """

    def __init__(self, problem: Problem, assignments: Mapping[str, str]) -> None:
        self.lines = list(problem.lines)
        self.hearings = {h.id: h for h in problem.hearings}
        self.assignments = assignments
        self.tables: list[tuple[Line, list[int], list[int], list[str]]] | None = None
        self.found: dict[tuple[str, int], Conflict] = {}
        # Hearings of the same span (rooms start on the quarter hour) share their answer.
        self.answers: dict[tuple[int, int], tuple[Conflict, ...]] = {}

    def _tables(self) -> list[tuple[Line, list[int], list[int], list[str]]]:
        occupancy = LineSpans(
            (line, self.hearings[k].start, self.hearings[k].end, k)
            for k, line in self.assignments.items()
        )
        return [
            (
                line,
                occupancy.starts.get(line.id, []),
                occupancy.ends.get(line.id, []),
                occupancy.ids.get(line.id, []),
            )
            for line in self.lines
        ]

    def __call__(self, hid: str) -> tuple[Conflict, ...]:
        if self.tables is None:
            self.tables = self._tables()
        h = self.hearings[hid]
        start, end = h.start, h.end
        known = self.answers.get((start, end))
        if known is not None and not self._on_line(hid):
            return known
        out: list[Conflict] = []
        for line, starts, ends, ids in self.tables:
            if line.available is not None and not line.covers(start, end):
                gap = _first_gap(line, start, end)
                out.append(Conflict(line=line.id, start=gap[0], end=gap[1]))
                continue
            # Hearings on one line never overlap, so their ends are sorted too.
            k = bisect.bisect_right(ends, start)
            if k < len(ends) and starts[k] < end:
                conflict = self.found.get((line.id, k))
                if conflict is None:
                    other = ids[k]
                    conflict = Conflict(
                        line.id, starts[k], ends[k], other, self.hearings[other].priority
                    )
                    self.found[(line.id, k)] = conflict
                out.append(conflict)
        answer = tuple(out)
        if not self._on_line(hid):
            self.answers[(start, end)] = answer
        return answer

    def _on_line(self, hid: str) -> bool:
        """A hearing with a line is among the blockers, so its answer is its own."""
        return hid in self.assignments


def _candidates(
    group: Sequence[Hearing],
    lines: Sequence[Line],
    blockers: LineSpans,
    previous: Mapping[str, str | None],
) -> tuple[list[Candidate], list[Line]]:
    """Usable lines per hearing. Lines up over the whole span with nothing fixed on them
    are usable by all; only the others are tested hearing by hearing."""
    lo = group[0].start
    hi = max(h.end for h in group)
    plain: list[str] = []
    special: list[Line] = []
    for line in lines:
        if line.covers(lo, hi) and blockers.first_overlap(line.id, lo, hi) is None:
            plain.append(line.id)
        else:
            special.append(line)
    everyone = tuple(plain)
    out: list[Candidate] = []
    # One pointer per special line walks its blocked stretches as the starts advance.
    walks = [(line.id, _blocked(line, blockers, lo, hi)) for line in special]
    at = [0] * len(walks)
    for h in group:
        usable = everyone
        if walks:
            start, end = h.start, h.end
            extra: list[str] = []
            for k, (line_id, blocked) in enumerate(walks):
                j = at[k]
                while j < len(blocked) and blocked[j][1] <= start:
                    j += 1
                at[k] = j
                if j == len(blocked) or blocked[j][0] >= end:
                    extra.append(line_id)
            if extra:
                usable = everyone + tuple(extra)
        if not usable:
            continue
        prev_line = previous.get(h.id)
        out.append(
            Candidate(
                hearing=h,
                usable=usable,
                pin=h.pinned_line if h.pinned_line in usable else None,
                prev=prev_line if prev_line in usable else None,
                was_unassigned=prev_line is None and h.id in previous,
            )
        )
    return out, special


def _blocked(line: Line, blockers: LineSpans, lo: int, hi: int) -> list[tuple[int, int]]:
    """Where `line` cannot carry a hearing within [lo, hi): outside its windows or under
    a fixed hearing; sorted, overlapping stretches merged."""
    spans: list[tuple[int, int]] = []
    if line.available is not None:
        t = lo
        for a, b in line.available:
            if b <= t:
                continue
            if a >= hi:
                break
            if a > t:
                spans.append((t, a))
            t = b
        if t < hi:
            spans.append((t, hi))
    starts, ends = blockers.starts.get(line.id, []), blockers.ends.get(line.id, [])
    k = bisect.bisect_right(ends, lo)
    while k < len(starts) and starts[k] < hi:
        spans.append((starts[k], ends[k]))
        k += 1
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def evaluate(problem: Problem, assignments: Mapping[str, str]) -> Objective:
    """The objective of any assignment (used for reporting and by the tests)."""
    priority = count = pinned = unchanged = 0
    for h in problem.hearings:
        line = assignments.get(h.id)
        if line is not None:
            priority += h.priority
            count += 1
            if h.pinned_line == line:
                pinned += 1
        if h.id in problem.previous and problem.previous[h.id] == line:
            unchanged += 1
    return Objective(priority, count, pinned, unchanged)


def _components(hearings: Iterable[Hearing]) -> Iterable[list[Hearing]]:
    """Maximal runs of overlapping intervals, each sorted by start."""
    ordered = sorted(hearings, key=operator.attrgetter("start", "end"))
    group: list[Hearing] = []
    reach = 0
    for h in ordered:
        start, end = h.start, h.end
        if start >= reach and group:
            yield group
            group = [h]
            reach = end
            continue
        if not group:
            reach = end
        group.append(h)
        if end > reach:
            reach = end
    if group:
        yield group


class _Focus:
    """The changed windows, merged and sorted, so a component is checked in log time."""

    def __init__(self, windows: Iterable[tuple[int, int]]) -> None:
        merged: list[tuple[int, int]] = []
        for a, b in sorted(windows):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]

    def outside(self, group: Sequence[Hearing]) -> bool:
        """Whether the group (sorted by start) lies wholly outside every window."""
        lo = group[0].start
        hi = max(h.end for h in group)
        k = bisect.bisect_right(self.ends, lo)  # the first window ending after lo
        return k == len(self.starts) or self.starts[k] >= hi


def _keep_previous(
    component: Sequence[Candidate], previous: Mapping[str, str | None]
) -> dict[str, str] | None:
    kept: dict[str, str] = {}
    last_end: dict[str, int] = {}
    for c in component:  # sorted by start
        line = previous.get(c.hearing.id)
        if c.hearing.id not in previous:
            return None  # a newcomer: solve properly
        if line is None:
            continue
        if line not in c.usable or last_end.get(line, c.hearing.start) > c.hearing.start:
            return None
        last_end[line] = c.hearing.end
        kept[c.hearing.id] = line
    return kept


def _solve_component(
    component: list[Candidate],
    plain: int,
    special: Sequence[Line],
    lines: Mapping[str, Line],
    line_order: Mapping[str, int],
    blockers: LineSpans,
) -> tuple[dict[str, str], str]:
    n = len(component)
    if n == 1:
        c = component[0]
        return {c.hearing.id: c.preferred or c.usable[0]}, "trivial"
    times = sorted({t for c in component for t in (c.hearing.start, c.hearing.end)})
    index = {t: k for k, t in enumerate(times)}
    capacity = _capacity(times, plain, special, blockers)
    weight_c = 2 * n + 1
    weight_b = (n + 1) * weight_c
    weight_a = (n + 1) * weight_b

    def weight(c: Candidate) -> int:
        prevd = 1 if c.prev is not None else (-1 if c.was_unassigned else 0)
        pin = 1 if c.pin is not None else 0
        return c.hearing.priority * weight_a + weight_b + pin * weight_c + prevd

    depth_ok = _fits(component, times, index, capacity)
    packing: _Relaxation | None = None
    if depth_ok:
        selected = component
    else:
        packing = _pack(component, times, index, capacity, weight)
        groups = _grouped(component, index, weight)
        selected = []
        for key, amount in zip(packing.keys, packing.taken, strict=True):
            # Equal in every tier; the sweep and the search decide among them.
            selected.extend(groups[key][:amount])
    if not special and all(c.preferred is None for c in selected):
        # Identical lines and nobody prefers one: colouring in start order places every
        # hearing the flow chose (the overlap never exceeds the lines), so it is optimal.
        ordered = sorted(line_order, key=line_order.__getitem__)
        return coloring.lay_onto(selected, ordered), "trivial" if depth_ok else "flow"
    chosen = coloring.assign(selected, line_order, lines)
    bound = _relaxed(component, selected)
    got = _value(component, chosen)
    if _certified(component, bound, got):
        return chosen, "trivial" if depth_ok else "flow"
    if any(c.pin is not None and c.prev is not None and c.pin != c.prev for c in selected):
        # Pins an earlier repair had to break: the sweep's plan chases them again; the
        # previous plan's lines are usually still the best start for the search.
        again = coloring.assign(
            [replace(c, pin=None) if c.pin != c.prev else c for c in selected],
            line_order,
            lines,
        )
        better = _value(component, again)
        if better > got:
            chosen, got = again, better
            if _certified(component, bound, got):
                return chosen, "trivial" if depth_ok else "flow"
    if packing is None:
        packing = _pack(component, times, index, capacity, weight)
    found = _search(component, chosen, weight, packing, times, index, special, line_order, blockers)
    if found is not None:
        return found, "search"
    # SciPy takes most of a cold start and a year's plan rarely needs it: load it here.
    from streamd.allocation import exact

    if got[:2] == bound[:2]:
        # The flow proved priority and count; only pins and changes remain open, and the
        # sweep's plan is a floor for them.
        floor = got[2] * (2 * n + 1) + got[3] - sum(c.was_unassigned for c in component)
        return (
            exact.solve_component(component, list(line_order), known=bound[:2], floor=floor),
            "milp",
        )
    return exact.solve_component(component, list(line_order)), "milp"


def _grouped(
    component: Sequence[Candidate], index: Mapping[int, int], weight: Callable[[Candidate], int]
) -> dict[tuple[int, int, int], list[Candidate]]:
    """Candidates the flow cannot tell apart: same ends, same weight (in start order)."""
    groups: dict[tuple[int, int, int], list[Candidate]] = defaultdict(list)
    for c in component:
        groups[(index[c.hearing.start], index[c.hearing.end], weight(c))].append(c)
    return groups


@dataclass(frozen=True, slots=True)
class _Relaxation:
    """The flow's answer per group of indistinguishable candidates, with its duals."""

    keys: list[tuple[int, int, int]]
    taken: list[int]
    penalty: list[int]
    price: list[int]


def _pack(
    component: Sequence[Candidate],
    times: Sequence[int],
    index: Mapping[int, int],
    capacity: Sequence[int],
    weight: Callable[[Candidate], int],
) -> _Relaxation:
    groups = _grouped(component, index, weight)
    keys = list(groups)
    packed = flow.pack(
        len(times), capacity, [(a, b, len(groups[(a, b, w)]), w) for a, b, w in keys]
    )
    return _Relaxation(keys, packed.taken, packed.penalty, packed.price)


def _search(
    component: Sequence[Candidate],
    chosen: Mapping[str, str],
    weight: Callable[[Candidate], int],
    relaxed: _Relaxation,
    times: Sequence[int],
    index: Mapping[int, int],
    special: Sequence[Line],
    line_order: Mapping[str, int],
    blockers: LineSpans,
) -> dict[str, str] | None:
    """The exact plan by `search.best_plan`, or None when the search grows too large.

    Every plan is worth the relaxation's bound minus its losses: the flow's penalty for
    each hearing taken or left against the flow, its price for each line left idle, plus
    the pin and previous-line bonuses the relaxation counted but the plan's lines do not
    give. The sweep's plan loses G, so only plans losing less can improve on it; the
    search explores nothing else.
    """
    weight_c = 2 * len(component) + 1
    settled: dict[tuple[int, int, int], tuple[bool, int]] = {}
    for key, amount, pen in zip(relaxed.keys, relaxed.taken, relaxed.penalty, strict=True):
        settled[key] = (amount > 0, pen)
    group_of = {
        c.hearing.id: (index[c.hearing.start], index[c.hearing.end], weight(c)) for c in component
    }

    def value(c: Candidate, line: str | None) -> int:
        if line is None:
            return 0
        kept = weight_c if line == c.pin else 0
        return (
            group_of[c.hearing.id][2]
            - weight_c * (c.pin is not None)
            - _prevd(c)
            + kept
            + ((line == c.prev) - c.was_unassigned)
        )

    def loss(c: Candidate, line: str | None) -> int:
        key = group_of[c.hearing.id]
        flow_took, pen = settled[key]
        deviation = pen if (line is None) == flow_took else 0
        return deviation + (key[2] - value(c, line) if line is not None else 0)

    bound = sum(w * t for (_, _, w), t in zip(relaxed.keys, relaxed.taken, strict=True))
    got = sum(value(c, chosen.get(c.hearing.id)) for c in component)
    gap = bound - got
    # Whoever would cost the whole gap on their own keeps the flow's decision; the ones
    # the flow left out never enter the search.
    members = [
        c
        for c in component
        if settled[group_of[c.hearing.id]][0] or settled[group_of[c.hearing.id]][1] < gap
    ]
    special_ids = {line.id for line in special}
    preferred = {c.pin for c in members} | {c.prev for c in members}
    ordered = sorted(line_order, key=line_order.__getitem__)
    tracked = [line for line in ordered if line in special_ids or line in preferred]
    pool = [line for line in ordered if line not in special_ids and line not in preferred]
    idle = _idle(relaxed.price, times, index, tracked, special, blockers)
    # What each member may do, worked out once for every budget below.
    slot_of = {line: k for k, line in enumerate(tracked)}
    moves: dict[str, list[search.Move]] = {}
    for c in members:
        options = [(search.OUT, value(c, None), loss(c, None))]
        options.extend(
            (slot_of[line], value(c, line), loss(c, line)) for line in c.usable if line in slot_of
        )
        if pool:
            options.append((search.POOL, value(c, pool[0]), loss(c, pool[0])))
        moves[c.hearing.id] = options
    # Widen the budget step by step: a plan worth at least bound - budget beats every
    # plan the narrower search left out, and the optimum usually loses little. Each
    # search also says how little the plans it did not look at lose at least.
    step = 4
    budget = min(gap, step)
    incumbent, plan = got, dict(chosen)
    while True:
        # Likewise for this budget: whoever it would cost to take stays out.
        active: list[Candidate] = []
        floor = search.NEVER
        for c in members:
            took, pen = settled[group_of[c.hearing.id]]
            if took or pen < budget:
                active.append(c)
            elif pen < floor:
                floor = pen
        found = search.best_plan(
            active, [moves[c.hearing.id] for c in active], budget, tracked, pool, idle=idle
        )
        if found is None:
            return None
        best, candidate, searched = found
        floor = min(floor, searched)
        if best > incumbent:
            incumbent, plan = best, candidate
        if incumbent >= bound - floor or budget >= gap:
            return plan
        # Nothing loses less than the floor; look a widening step beyond it.
        step *= 4
        budget = min(gap, floor + step)


def _idle(
    price: Sequence[int],
    times: Sequence[int],
    index: Mapping[int, int],
    tracked: Sequence[str],
    special: Sequence[Line],
    blockers: LineSpans,
) -> search.Idle | None:
    """Running sums of the segment prices, per line over the segments it can serve."""
    if not any(price):
        return None

    def running(line: Line | None) -> list[int]:
        out = [0]
        total = 0
        for k, p in enumerate(price):
            if p and (
                line is None
                or (
                    line.covers(times[k], times[k + 1])
                    and blockers.first_overlap(line.id, times[k], times[k + 1]) is None
                )
            ):
                total += p
            out.append(total)
        return out

    plain = running(None)
    by_id = {line.id: line for line in special}
    return search.Idle(
        index=index,
        tracked=[running(by_id[line]) if line in by_id else plain for line in tracked],
        pool=plain,
        start=times[0],
        end=times[-1],
    )


def _prevd(c: Candidate) -> int:
    return 1 if c.prev is not None else (-1 if c.was_unassigned else 0)


def _capacity(
    times: Sequence[int], plain: int, special: Sequence[Line], blockers: LineSpans
) -> list[int]:
    """Lines usable over each whole segment [times[k], times[k+1])."""
    capacity = [plain] * (len(times) - 1)
    for line in special:
        for k in range(len(times) - 1):
            a, b = times[k], times[k + 1]
            if line.covers(a, b) and blockers.first_overlap(line.id, a, b) is None:
                capacity[k] += 1
    return capacity


def _fits(
    component: Sequence[Candidate],
    times: Sequence[int],
    index: Mapping[int, int],
    capacity: Sequence[int],
) -> bool:
    """True when every candidate can be taken: overlap never exceeds usable lines."""
    delta = [0] * (len(times) + 1)
    for c in component:
        delta[index[c.hearing.start]] += 1
        delta[index[c.hearing.end]] -= 1
    depth = 0
    for k in range(len(times) - 1):
        depth += delta[k]
        if depth > capacity[k]:
            return False
    return True


def _relaxed(
    component: Sequence[Candidate], selected: Sequence[Candidate]
) -> tuple[int, int, int, int]:
    chosen = {c.hearing.id for c in selected}
    priority = sum(c.hearing.priority for c in selected)
    pins = sum(1 for c in selected if c.pin is not None)
    unchanged = sum(
        1
        for c in component
        if (c.prev is not None and c.hearing.id in chosen)
        or (c.was_unassigned and c.hearing.id not in chosen)
    )
    return priority, len(selected), pins, unchanged


def _value(component: Sequence[Candidate], chosen: Mapping[str, str]) -> tuple[int, int, int, int]:
    priority = count = pins = unchanged = 0
    for c in component:
        line = chosen.get(c.hearing.id)
        if line is not None:
            priority += c.hearing.priority
            count += 1
            pins += line == c.pin
            unchanged += line == c.prev
        elif c.was_unassigned:
            unchanged += 1
    return priority, count, pins, unchanged


def _max_disjoint(intervals: Iterable[tuple[int, int]]) -> int:
    count = 0
    free_from: int | None = None
    for start, end in sorted(intervals, key=lambda se: se[1]):
        if free_from is None or start >= free_from:
            count += 1
            free_from = end
    return count


def _certified(
    component: Sequence[Candidate],
    bound: tuple[int, int, int, int],
    got: tuple[int, int, int, int],
) -> bool:
    """True when `got` provably cannot be beaten (see module docstring).

    `bound` is the relaxation's value; two more bounds hold for every plan: on each line,
    the pinned (or previously placed) hearings that keep it cannot overlap.
    """
    if got[:2] != bound[:2]:
        return False
    pin_lists: dict[str, list[tuple[int, int]]] = defaultdict(list)
    prev_lists: dict[str, list[tuple[int, int]]] = defaultdict(list)
    stay_unassigned = 0
    for c in component:
        span = (c.hearing.start, c.hearing.end)
        if c.pin is not None:
            pin_lists[c.pin].append(span)
        if c.prev is not None:
            prev_lists[c.prev].append(span)
        stay_unassigned += c.was_unassigned
    pin_bound = sum(_max_disjoint(v) for v in pin_lists.values())
    prev_bound = sum(_max_disjoint(v) for v in prev_lists.values()) + stay_unassigned
    if got[2] == bound[2]:
        return got[3] >= min(bound[3], prev_bound)
    if got[2] == pin_bound:
        return got[3] >= prev_bound
    return False


def _first_gap(line: Line, start: int, end: int) -> tuple[int, int]:
    """The first stretch of [start, end) that `line` does not cover."""
    t = start
    for a, b in sorted(line.available or ()):
        if a <= t < b:
            t = b
            if t >= end:
                break
    gap_end = end
    for a, _ in sorted(line.available or ()):
        if t < a < gap_end:
            gap_end = a
    return t, gap_end
