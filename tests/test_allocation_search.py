"""The exact paths behind the fast one: the flow's penalties, the state search, and the
integer programme it falls back to; each checked against CP-SAT on instances built so
the sweep alone cannot be certified (pins that clash, previous lines that moved)."""

from __future__ import annotations

import itertools
import random

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
    takes or leaves against the flow: what makes fixing and pruning in the search safe."""
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
        assert weight <= best - penalty
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
