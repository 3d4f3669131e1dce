"""The allocation engine: optimal against CP-SAT, and its invariants, on random courts."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.peers import cpsat_optimum as optimum
from streamd.allocation import AllocationError, Hearing, Line, Plan, Problem, evaluate, solve


@st.composite
def problems(draw: st.DrawFn, *, max_hearings: int = 12, max_lines: int = 4) -> Problem:
    line_count = draw(st.integers(1, max_lines))
    lines = []
    for k in range(line_count):
        if draw(st.booleans()) and draw(st.booleans()):
            cuts = sorted(draw(st.sets(st.integers(0, 30), min_size=2, max_size=4)))
            windows = tuple((a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False))
            lines.append(Line(f"L{k + 1}", windows or None))
        else:
            lines.append(Line(f"L{k + 1}"))
    line_ids = [line.id for line in lines]
    hearings: list[Hearing] = []
    busy: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i in range(draw(st.integers(0, max_hearings))):
        start = draw(st.integers(0, 26))
        end = start + draw(st.integers(1, 8))
        eligible = draw(st.integers(0, 9)) > 0
        pinned = draw(st.one_of(st.none(), st.sampled_from(line_ids)))
        fixed = None
        if eligible and draw(st.integers(0, 7)) == 0:
            candidate = draw(st.sampled_from(lines))
            if candidate.covers(start, end) and all(
                e <= start or end <= s for s, e in busy[candidate.id]
            ):
                fixed = candidate.id
                busy[fixed].append((start, end))
        hearings.append(
            Hearing(
                id=f"h{i}",
                start=start,
                end=end,
                priority=draw(st.integers(1, 4)),
                eligible=eligible,
                pinned_line=pinned,
                fixed_line=fixed,
            )
        )
    previous = {
        h.id: draw(st.one_of(st.none(), st.sampled_from(line_ids)))
        for h in hearings
        if draw(st.booleans())
    }
    return Problem(lines=lines, hearings=hearings, previous=previous)


def assert_feasible(problem: Problem, plan: Plan) -> None:
    lines = {line.id: line for line in problem.lines}
    hearings = {h.id: h for h in problem.hearings}
    per_line: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for hid, line_id in plan.assignments.items():
        h = hearings[hid]
        assert h.eligible, f"ineligible {hid} streamed"
        assert lines[line_id].covers(h.start, h.end), f"{hid} on {line_id} while it is down"
        per_line[line_id].append((h.start, h.end))
    for spans in per_line.values():
        spans.sort()
        for (_, e1), (s2, _) in itertools.pairwise(spans):
            assert e1 <= s2, "two hearings on one line at once"
    for h in problem.hearings:
        if h.fixed_line is not None:
            assert plan.assignments.get(h.id) == h.fixed_line, f"live {h.id} moved"
        assert (h.id in plan.assignments) != (h.id in plan.unassigned)
        if h.id in plan.unassigned and h.eligible:
            # Every line shows why it could not take the hearing.
            assert {c.line for c in plan.why(h.id)} == set(lines)
    assert plan.objective == evaluate(problem, plan.assignments)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_optimal_against_cp_sat(problem: Problem) -> None:
    plan = solve(problem)
    assert_feasible(problem, plan)
    assert plan.objective.key() == optimum(problem)


@settings(max_examples=300, deadline=None)
@given(problems(max_hearings=40, max_lines=3))
def test_invariants_on_larger_days(problem: Problem) -> None:
    plan = solve(problem)
    assert_feasible(problem, plan)
    assert plan.objective.count <= sum(1 for h in problem.hearings if h.eligible)


@settings(max_examples=200, deadline=None)
@given(problems(max_hearings=30, max_lines=4))
def test_never_more_streams_than_lines(problem: Problem) -> None:
    plan = solve(problem)
    hearings = {h.id: h for h in problem.hearings}
    moments = {hearings[hid].start for hid in plan.assignments}
    for t in moments:
        live = [hid for hid in plan.assignments if hearings[hid].start <= t < hearings[hid].end]
        assert len(live) <= len(problem.lines)


def test_back_to_back_shares_a_line_without_hidden_gap() -> None:
    plan = solve(Problem(lines=[Line("L1")], hearings=[Hearing("a", 0, 60), Hearing("b", 60, 120)]))
    assert plan.assignments == {"a": "L1", "b": "L1"}


def test_priority_beats_count_and_reason_names_the_winner() -> None:
    problem = Problem(
        lines=[Line("L1")],
        hearings=[Hearing("big", 0, 100, priority=5), Hearing("x", 0, 40), Hearing("y", 50, 90)],
    )
    plan = solve(problem)
    assert plan.assignments == {"big": "L1"}
    (conflict,) = plan.why("x")
    assert (conflict.line, conflict.hearing, conflict.priority) == ("L1", "big", 5)


def test_pinned_hearing_keeps_its_line_when_it_costs_nothing() -> None:
    problem = Problem(
        lines=[Line("L1"), Line("L2")],
        hearings=[Hearing("a", 0, 10), Hearing("b", 0, 10, pinned_line="L1")],
    )
    assert solve(problem).assignments == {"a": "L2", "b": "L1"}


def test_window_cutting_a_busy_period_is_solved_exactly() -> None:
    # The capacity profile allows all three, but no line covers c as the windows lie.
    problem = Problem(
        lines=[Line("L1", ((0, 6),)), Line("L2", ((4, 10),))],
        hearings=[Hearing("a", 0, 5), Hearing("b", 5, 9), Hearing("c", 4, 6, priority=3)],
    )
    plan = solve(problem)
    assert plan.objective.key() == optimum(problem)
    assert "c" in plan.assignments


def test_ineligible_is_never_streamed_even_when_pinned() -> None:
    plan = solve(
        Problem(lines=[Line("L1")], hearings=[Hearing("a", 0, 5, eligible=False, pinned_line="L1")])
    )
    assert plan.assignments == {}
    assert plan.unassigned["a"].ineligible


@pytest.mark.parametrize(
    ("hearings", "message"),
    [
        ([Hearing("a", 5, 5)], "end must be after start"),
        ([Hearing("a", 0, 5), Hearing("a", 6, 9)], "duplicate hearing id"),
        ([Hearing("a", 0, 5, priority=0)], "positive integer"),
        ([Hearing("a", 0, 5, pinned_line="L9")], "'L9' is not a line"),
        ([Hearing("a", 0, 5, fixed_line="L1"), Hearing("b", 3, 8, fixed_line="L1")], "both fixed"),
    ],
)
def test_inconsistent_instances_are_refused(hearings: list[Hearing], message: str) -> None:
    with pytest.raises(AllocationError, match=message):
        solve(Problem(lines=[Line("L1")], hearings=hearings))


@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(1, 12), st.sampled_from(["L1", "L2", None])),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 40),
    st.integers(1, 12),
    st.integers(20, 70),
)
def test_first_free_is_free_and_nothing_earlier_is(
    placed: list[tuple[int, int, str | None]], start: int, length: int, until: int
) -> None:
    """`first_free` (what would work) against a minute-by-minute search."""
    from streamd.allocation.explain import first_free

    lines = [Line("L1"), Line("L2", available=((0, 30), (35, 60)))]
    hearings = [Hearing(f"h{k}", s, s + d) for k, (s, d, _) in enumerate(placed)]
    assignments = {f"h{k}": line for k, (_, _, line) in enumerate(placed) if line is not None}
    hearings.append(Hearing("x", start, start + length))
    problem = Problem(lines=lines, hearings=hearings)

    def free(line: Line, t: int) -> bool:
        busy = [h for h in hearings if assignments.get(h.id) == line.id]
        return line.covers(t, t + length) and not any(
            h.start < t + length and t < h.end for h in busy
        )

    expected = next(
        ((t, line.id) for t in range(start, until - length + 1) for line in lines if free(line, t)),
        None,
    )
    got = first_free(problem, assignments, "x", until=until)
    if got is not None:
        assert expected is not None and got[1] == expected[0]  # the earliest start
        assert free(next(line for line in lines if line.id == got[0]), got[1])
    else:
        assert expected is None
