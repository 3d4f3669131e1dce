"""The one live-repair engine (`allocation.repair.repair`) on arbitrary changes.

The running court hands it the problem the current plan was solved for and the problem
of now, rebuilt from the database, without saying what happened: so the engine is
checked here on random changes of every kind at once (hearings added, removed, moved,
reprioritised, fixed, unpinned; lines down and up; previous lines that are not the plan's)
against an independent exact solver.
"""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.peers import cpsat_optimum
from streamd.allocation import Hearing, Line, Problem, solve
from streamd.allocation.repair import Memory, boost, changed, narrows, on_air, place, repair


def _day(rng: random.Random, n: int) -> Problem:
    hearings = []
    for i in range(n):
        start = rng.randrange(0, 200)
        hearings.append(Hearing(f"h{i}", start, start + rng.randint(5, 40), rng.randint(1, 4)))
    lines = [Line("L1"), Line("L2", ((0, 120), (150, 400))), Line("L3")]
    return Problem(lines=lines, hearings=hearings)


def _mutate(rng: random.Random, problem: Problem, plan: dict[str, str]) -> Problem:
    hearings = {h.id: h for h in problem.hearings}
    for _ in range(rng.randint(0, 4)):
        h = hearings[rng.choice(sorted(hearings))]
        roll = rng.random()
        if roll < 0.2:
            d = rng.randint(-10, 15)
            hearings[h.id] = replace(h, start=h.start + d, end=h.end + d)
        elif roll < 0.35:
            hearings[h.id] = replace(h, end=h.end + rng.randint(1, 20))
        elif roll < 0.45 and len(hearings) > 2:
            del hearings[h.id]
        elif roll < 0.55:
            hearings[h.id] = replace(h, priority=rng.randint(1, 9))
        elif roll < 0.65 and h.id in plan and h.fixed_line is None and h.eligible:
            hearings[h.id] = replace(h, fixed_line=plan[h.id], pinned_line=None)
        elif roll < 0.75 and h.fixed_line is None:  # a fixed hearing is on air: eligible
            hearings[h.id] = replace(h, eligible=not h.eligible)
        else:
            new = f"n{len(hearings)}-{rng.randrange(10**6)}"
            hearings[new] = Hearing(new, h.start + 3, h.end + 3, rng.randint(1, 4))
    lines = list(problem.lines)
    if rng.random() < 0.3:
        k = rng.randrange(len(lines))
        a = rng.randrange(0, 200)
        lines[k] = Line(lines[k].id, ((-(1 << 40), a), (a + rng.randint(5, 60), 1 << 40)))
    # Some previous lines are not the plan's (another process planned, a rollback).
    previous: dict[str, str | None] = {
        hid: plan.get(hid) for hid in hearings if hid in problem.previous or hid in plan
    }
    for hid in rng.sample(sorted(previous), k=min(2, len(previous)) if rng.random() < 0.3 else 0):
        previous[hid] = rng.choice([None, "L1", "L2", "L3"])
    fixed = [h for h in hearings.values() if h.fixed_line is not None]
    kept = place([(h, h.fixed_line) for h in fixed], lines)
    for h, line in zip(fixed, kept, strict=True):
        if line is None:  # its line went down under it: displaced
            hearings[h.id] = replace(h, fixed_line=None, priority=99)
    return Problem(lines=lines, hearings=list(hearings.values()), previous=previous)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 100_000))
def test_repair_after_any_change_is_as_good_as_an_exact_solve(seed: int) -> None:
    rng = random.Random(seed)
    before = _day(rng, 16)
    plan = dict(solve(before).assignments)
    before = Problem(before.lines, before.hearings, {h.id: plan.get(h.id) for h in before.hearings})
    for _ in range(3):
        after = _mutate(rng, before, plan)
        repaired = repair(after, before, plan)
        assert repaired.objective == solve(after).objective
        assert repaired.objective.key() == cpsat_optimum(after)
        before, plan = after, dict(repaired.assignments)


def test_nothing_changed_is_kept_and_anything_else_is_solved_where_it_changed() -> None:
    before = Problem(
        lines=[Line("L1")],
        hearings=[
            Hearing("a", 0, 10),
            Hearing("b", 5, 15),
            Hearing("c", 100, 110),
            Hearing("d", 105, 115),
        ],
    )
    plan = dict(solve(before).assignments)
    same = Problem(before.lines, before.hearings, {h.id: plan.get(h.id) for h in before.hearings})
    assert narrows(before, same, plan)
    assert repair(same, before, plan).stats.kept
    assert changed(before, same, plan) == []
    later = replace(same, hearings=[*same.hearings[:2], Hearing("c", 104, 112), same.hearings[3]])
    assert not narrows(before, later, plan)
    assert changed(before, later, plan) == [(104, 112), (100, 110)]
    stats = repair(later, before, plan).stats
    assert (stats.components, stats.trivial, stats.flow_solved) == (2, 1, 1)  # a, b kept


def test_memory_repairs_what_it_has_seen_and_solves_what_it_has_not() -> None:
    memory = Memory(size=1)
    problem = Problem(lines=[Line("L1")], hearings=[Hearing("a", 0, 10)])
    assert not memory.repair("mon", problem).stats.kept
    again = replace(problem, previous={"a": "L1"})
    assert memory.repair("mon", again).stats.kept
    assert not memory.repair("tue", again).stats.kept  # another window
    assert not memory.repair("mon", again).stats.kept  # forgotten: size 1
    stale = replace(problem, previous={"a": None})  # the plan was not what was written
    assert memory.repair("mon", again).stats.kept
    assert not memory.repair("mon", stale).stats.kept


def test_on_air_the_first_keeps_its_line_and_the_others_are_displaced_ahead_of_all() -> None:
    lines = [Line("L1"), Line("L2", ((0, 50),))]
    first, second, cut = Hearing("a", 0, 60), Hearing("b", 10, 20), Hearing("c", 40, 70)
    assert place([(first, "L1"), (second, "L1"), (cut, "L2"), (second, None)], lines) == [
        "L1",
        None,  # L1 is taken by one on air before it
        None,  # L2 goes down before it ends
        None,
    ]
    top = boost(h.priority for h in (first, second, cut))
    assert on_air(first, "L1", top) == replace(first, fixed_line="L1")
    assert on_air(replace(second, pinned_line="L1"), None, top) == replace(second, priority=4)
