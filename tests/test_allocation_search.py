"""The exact paths behind the fast one: the flow's penalties, the state search, and the
integer programme it falls back to; each checked against CP-SAT on instances built so
the sweep alone cannot be certified (pins that clash, previous lines that moved)."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.peers import cpsat_optimum
from streamd.allocation import Hearing, Line, Problem, flow, search, solve


@st.composite
def packings(draw: st.DrawFn) -> tuple[int, list[int], list[tuple[int, int, int, int]]]:
    points = draw(st.integers(2, 6))
    capacity = [draw(st.integers(0, 2)) for _ in range(points - 1)]
    groups = []
    for _ in range(draw(st.integers(1, 5))):
        a = draw(st.integers(0, points - 2))
        b = draw(st.integers(a + 1, points - 1))
        groups.append((a, b, draw(st.integers(1, 2)), draw(st.integers(1, 30))))
    return points, capacity, groups


@settings(max_examples=400, deadline=None)
@given(packings())
def test_penalties_bound_every_packing(
    case: tuple[int, list[int], list[tuple[int, int, int, int]]],
) -> None:
    """Any packing's weight is at most the optimum minus the penalty of each member it
    takes or leaves against the flow and the price of each line it leaves idle: what
    makes fixing and pruning in the search safe."""
    points, capacity, groups = case
    packed = flow.pack(points, capacity, groups)
    best = sum(g[3] * t for g, t in zip(groups, packed.taken, strict=True))
    seen_best = 0
    for counts in itertools.product(*(range(g[2] + 1) for g in groups)):
        depth = [0] * (points - 1)
        for (a, b, _, _), k in zip(groups, counts, strict=True):
            for seg in range(a, b):
                depth[seg] += k
        if any(d > c for d, c in zip(depth, capacity, strict=True)):
            continue
        weight = sum(g[3] * k for g, k in zip(groups, counts, strict=True))
        seen_best = max(seen_best, weight)
        penalty = sum(
            p * abs(k - t) for p, k, t in zip(packed.penalty, counts, packed.taken, strict=True)
        )
        idle = sum(p * (c - d) for p, c, d in zip(packed.price, capacity, depth, strict=True))
        assert weight <= best - penalty - idle
    assert seen_best == best


def _clashing_day(rng: random.Random, n: int, lines: int) -> Problem:
    """A day announced from one plan, then shifted: pins now clash on their lines, and
    the previous plan is a third opinion."""
    ids = [f"L{k + 1}" for k in range(lines)]
    hearings = []
    for i in range(n):
        start = rng.randrange(0, 60)
        hearings.append(
            Hearing(
                f"h{i}",
                start,
                start + rng.randint(4, 20),
                rng.randint(1, 3),
                eligible=rng.random() < 0.9,
                pinned_line=rng.choice([*ids, None]),
            )
        )
    windows = [Line(line) for line in ids]
    if rng.random() < 0.3:
        a = rng.randrange(1, 50)
        windows[0] = Line(ids[0], ((0, a), (a + rng.randint(3, 15), 200)))
    previous: dict[str, str | None] = {
        h.id: rng.choice([*ids, None]) for h in hearings if rng.random() < 0.6
    }
    return Problem(lines=windows, hearings=hearings, previous=previous)


@pytest.mark.slow
def test_search_path_is_optimal_against_cp_sat() -> None:
    paths = {"search": 0, "milp": 0}
    for seed in range(200):
        rng = random.Random(seed)
        problem = _clashing_day(rng, rng.randint(8, 18), rng.randint(2, 4))
        plan = solve(problem)
        paths["search"] += plan.stats.search_solved
        paths["milp"] += plan.stats.milp_solved
        assert plan.objective.key() == cpsat_optimum(problem), seed
    # The instances must really exercise the search, or this test proves nothing.
    assert paths["search"] >= 50, paths


def test_search_giving_up_falls_back_to_the_integer_programme(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search, "LIMIT", 1)
    milp = 0
    for seed in range(60):
        rng = random.Random(seed)
        problem = _clashing_day(rng, 14, 3)
        plan = solve(problem)
        milp += plan.stats.milp_solved
        assert plan.objective.key() == cpsat_optimum(problem), seed
    assert milp > 0


_TWO_CORES = """
import json, random
from streamd.allocation import Hearing, Line, Problem, parallel, solve, solver

rng = random.Random(5)
lines = [Line(f"L{k + 1}") for k in range(3)]
hearings = []
for day in range(30):
    for i in range(12):
        start = day * 1000 + rng.randrange(0, 200)
        pin = rng.choice(["L1", "L2", None])
        hearings.append(
            Hearing(f"d{day}-{i}", start, start + rng.randint(10, 90), rng.randint(1, 3),
                    pinned_line=pin)
        )
problem = Problem(lines=lines, hearings=hearings)
one = solve(problem)
solver.PARALLEL_FROM = 1
two = solve(problem)
print(json.dumps({"forked": parallel.available(), "same": dict(one.assignments) ==
      dict(two.assignments) and one.stats == two.stats, "count": one.objective.count}))
"""


def test_two_cores_give_the_same_plan_as_one() -> None:
    """A large court's components are solved in two processes: the plan must not change.
    Run in a fresh interpreter, where no other thread stops the fork."""
    done = subprocess.run(
        [sys.executable, "-c", _TWO_CORES], capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    assert result["forked"] and result["same"] and result["count"] > 100, result


def test_a_failing_child_is_redone_in_the_parent() -> None:
    from streamd.allocation import parallel

    def square_or_fail(part: list[int]) -> list[int]:
        if part and part[0] == 99 and os.getpid() != parent:
            raise RuntimeError("the child fails")
        return [x * x for x in part]

    parent = os.getpid()
    assert parallel.halves(square_or_fail, [1, 2], [99, 3]) == [[1, 4], [9801, 9]]
    assert parallel.split([3, 1, 1, 1], lambda x: x) == ([3], [1, 1, 1])
