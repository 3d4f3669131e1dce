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
from collections.abc import Iterable, Mapping, Sequence

from streamd.allocation import parallel
from streamd.allocation.blockers import _Explainer

# From this many open hearings on, the components are solved on two cores (a year of a
# large court); below it a fork costs more than it saves.
from streamd.allocation.candidates import _candidates, _keep_previous
from streamd.allocation.component import _solve_component
from streamd.allocation.model import (
    AllocationError,
    Hearing,
    Line,
    Objective,
    Plan,
    Problem,
    SolveStats,
    Unassigned,
)
from streamd.allocation.spans import LineSpans

PARALLEL_FROM = 20_000


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
