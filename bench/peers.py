"""Independent exact solvers for the allocation objective: the peers and the test oracle.

CP-SAT: optional intervals with NoOverlap per line (not streamd's clique rows) and one
weighted objective whose multipliers make it lexicographic. networkx: the textbook
min-cost flow for identical lines (Arkin and Silverberg), valid only without windows,
pins or a previous plan.
"""

from __future__ import annotations

import itertools

import networkx as nx
from ortools.sat.python import cp_model

from streamd.allocation import Problem


def cpsat_optimum(
    problem: Problem, *, time_limit: float = 30.0, workers: int = 1, cliques: bool = False
) -> tuple[int, int, int, int] | None:
    """(priority, count, pinned kept, unchanged) at the optimum; None if CP-SAT did not
    prove one within the time limit.

    `cliques` adds, per line, one at-most-one row per start point: the formulation that
    gives CP-SAT's LP its strength on interval packing (the benchmark uses it; the tests
    keep the plain NoOverlap model so the oracle shares nothing with streamd).
    """
    model = cp_model.CpModel()
    n = len(problem.hearings)
    pinned = sum(1 for h in problem.hearings if h.pinned_line is not None)
    tier_d = 1
    tier_c = len(problem.previous) + 1
    tier_b = (pinned + 1) * tier_c
    tier_a = (n + 1) * tier_b
    per_line: dict[str, list[cp_model.IntervalVar]] = {line.id: [] for line in problem.lines}
    spans: dict[str, list[tuple[int, int, cp_model.IntVar]]] = {
        line.id: [] for line in problem.lines
    }
    terms: list[tuple[cp_model.IntVar, int]] = []
    for h in problem.hearings:
        choices = []
        for line in problem.lines:
            allowed = h.eligible and line.covers(h.start, h.end)
            if h.fixed_line is not None and h.fixed_line != line.id:
                allowed = False
            if not allowed:
                continue
            x = model.NewBoolVar(f"x_{h.id}_{line.id}")
            per_line[line.id].append(
                model.NewOptionalFixedSizeIntervalVar(
                    h.start, h.end - h.start, x, f"i_{h.id}_{line.id}"
                )
            )
            choices.append(x)
            spans[line.id].append((h.start, h.end, x))
            weight = h.priority * tier_a + tier_b
            if h.pinned_line == line.id:
                weight += tier_c
            if h.id in problem.previous and problem.previous[h.id] == line.id:
                weight += tier_d
            terms.append((x, weight))
        if h.fixed_line is not None:
            model.Add(sum(choices) == 1)
        elif choices:
            model.Add(sum(choices) <= 1)
        if h.id in problem.previous and problem.previous[h.id] is None:
            stays = model.NewBoolVar(f"stay_{h.id}")
            model.Add(sum(choices) == 0).OnlyEnforceIf(stays)
            model.Add(sum(choices) >= 1).OnlyEnforceIf(stays.Not())
            terms.append((stays, tier_d))
    for intervals in per_line.values():
        model.AddNoOverlap(intervals)
    if cliques:
        for items in spans.values():
            items.sort(key=lambda item: item[0])
            for t in sorted({s for s, _, _ in items}):
                live = [x for s, e, x in items if s <= t < e]
                if len(live) > 1:
                    model.AddAtMostOne(live)
    model.Maximize(sum(w * x for x, w in terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = workers
    status = solver.Solve(model)
    if status != cp_model.OPTIMAL:
        return None
    value = round(solver.ObjectiveValue())
    priority, rest = divmod(value, tier_a)
    count, rest = divmod(rest, tier_b)
    pins, unchanged = divmod(rest, tier_c)
    return priority, count, pins, unchanged


def networkx_optimum(problem: Problem) -> tuple[int, int]:
    """(priority, count) for identical always-available lines, by network simplex."""
    k = len(problem.lines)
    eligible = [h for h in problem.hearings if h.eligible]
    scale = len(eligible) + 1
    times = sorted({t for h in eligible for t in (h.start, h.end)})
    graph = nx.DiGraph()
    for a, b in itertools.pairwise(times):
        graph.add_edge(a, b, capacity=k, weight=0)
    for h in eligible:
        # Parallel intervals need their own node: s -> (h) -> e.
        graph.add_edge(h.start, ("h", h.id), capacity=1, weight=-(h.priority * scale + 1))
        graph.add_edge(("h", h.id), h.end, capacity=1, weight=0)
    if not times:
        return 0, 0
    graph.add_node(times[0], demand=-k)
    graph.add_node(times[-1], demand=k)
    cost, _ = nx.network_simplex(graph)
    return divmod(-cost, scale)
