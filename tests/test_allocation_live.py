"""Live repair, what-if capacity and the instance file."""

from __future__ import annotations

import gc
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.peers import cpsat_optimum
from streamd.allocation import Hearing, Line, Problem, solve
from streamd.allocation.capacity import capacity_curve
from streamd.allocation.instance import InstanceError, plan_document, read_instance
from streamd.allocation.repair import (
    Cancel,
    Day,
    EndEarly,
    GoLive,
    LateStart,
    LineDown,
    LineUp,
    Overrun,
    Urgent,
)
from streamd.cli import main


def _random_day(rng: random.Random, n: int, lines: int) -> tuple[list[Line], list[Hearing]]:
    hearings = []
    for i in range(n):
        start = rng.randrange(0, 100)
        hearings.append(Hearing(f"h{i}", start, start + rng.randint(5, 30), rng.randint(1, 4)))
    return [Line(f"L{k + 1}") for k in range(lines)], hearings


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000))
def test_repair_is_optimal_and_never_moves_a_live_hearing(seed: int) -> None:
    rng = random.Random(seed)
    lines, hearings = _random_day(rng, 14, 3)
    first = solve(Problem(lines=lines, hearings=hearings))
    announced = [
        Hearing(h.id, h.start, h.end, h.priority, pinned_line=first.assignments.get(h.id))
        for h in hearings
    ]
    day, _ = Day.start(lines, announced)
    for h in sorted(announced, key=lambda h: h.start):
        if h.id not in day.hearings:
            continue
        roll = rng.random()
        if roll < 0.2:
            event = LateStart(h.id, h.start + rng.randint(1, 15))
        elif roll < 0.3:
            event = Cancel(h.id)
        elif roll < 0.4:
            event = LineDown(rng.choice(lines).id, h.start, h.start + rng.randint(1, 20))
        elif roll < 0.5:
            event = Urgent(Hearing(f"u-{h.id}", h.start + 1, h.start + 12, priority=4))
        else:
            event = GoLive(h.id, h.start)
        live_before = {k: v for k, v in day.live.items() if k not in day.displaced}
        repair = day.apply(event)
        for hid, line in live_before.items():
            line_died = isinstance(event, LineDown) and event.line == line
            if hid in day.hearings and not line_died:
                assert repair.plan.assignments.get(hid) == line, "a live hearing moved"
        assert repair.plan.objective == solve(repair.problem).objective
        assert repair.plan.objective.key() == cpsat_optimum(repair.problem)
        if isinstance(event, GoLive) and h.id in day.live:
            day.apply(Overrun(h.id, day.hearings[h.id].end + rng.randint(1, 20)))
            if rng.random() < 0.5:
                day.apply(EndEarly(h.id, day.hearings[h.id].start + 1))


def test_overrun_moves_the_next_hearing_and_drops_the_lowest_priority() -> None:
    lines = [Line("L1"), Line("L2")]
    hearings = [
        Hearing("a", 0, 10, 3, pinned_line="L1"),
        Hearing("b", 10, 20, 2, pinned_line="L1"),
        Hearing("c", 5, 15, 1, pinned_line="L2"),
    ]
    day, plan = Day.start(lines, hearings)
    assert plan.assignments == {"a": "L1", "b": "L1", "c": "L2"}
    day.apply(GoLive("a", 0))
    repair = day.apply(Overrun("a", 14))
    assert repair.plan.assignments == {"a": "L1", "b": "L2"}
    moved = {c.hearing: (c.before, c.after) for c in repair.changes}
    assert moved == {"b": ("L1", "L2"), "c": ("L2", None)}
    (dropped,) = [c for c in repair.changes if c.hearing == "c"]
    assert {x.hearing for x in dropped.conflicts} == {"a", "b"}


def test_a_live_hearing_whose_line_dies_takes_a_free_line() -> None:
    day, _ = Day.start([Line("L1"), Line("L2")], [Hearing("a", 0, 10), Hearing("b", 2, 6)])
    day.apply(GoLive("a", 0))
    on = day.plan["a"]
    other = "L2" if on == "L1" else "L1"
    repair = day.apply(LineDown(on, 3))
    assert repair.plan.assignments["a"] == other
    assert "b" not in repair.plan.assignments  # it yields to the live hearing
    back = day.apply(LineUp(on, 7))
    assert back.plan.assignments["a"] == other  # live: never moves back


def test_capacity_curve_matches_optimal_plans() -> None:
    rng = random.Random(7)
    _, hearings = _random_day(rng, 40, 1)
    curve = capacity_curve(hearings, 6)
    for point in curve:
        lines = [Line(f"L{k}") for k in range(point.lines)]
        objective = solve(Problem(lines=lines, hearings=hearings)).objective
        assert (point.priority, point.count) == (objective.priority, objective.count)
    assert [p.count for p in curve] == sorted(p.count for p in curve)


INSTANCE = {
    "lines": [
        {"id": "L1"},
        {"id": "L2", "available": [["2026-12-01T08:00+08:00", "2026-12-01T10:00+08:00"]]},
    ],
    "hearings": [
        {
            "id": "H1",
            "start": "2026-12-01T09:00+08:00",
            "end": "2026-12-01T11:30+08:00",
            "priority": 3,
            "eligible": True,
        },
        {
            "id": "H2",
            "start": "2026-12-01T09:30+08:00",
            "end": "2026-12-01T10:30+08:00",
            "priority": 1,
            "eligible": True,
        },
        {
            "id": "H3",
            "start": "2026-12-01T09:00+08:00",
            "end": "2026-12-01T09:45+08:00",
            "priority": 2,
            "eligible": True,
            "pinned_line": "L2",
        },
        {
            "id": "H4",
            "start": "2026-12-01T09:00+08:00",
            "end": "2026-12-01T09:45+08:00",
            "priority": 9,
            "eligible": False,
        },
    ],
}


def test_cli_prints_the_plan_with_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(INSTANCE), encoding="utf-8")
    assert main(["allocate", "--instance", str(path)]) == 0
    assert gc.isenabled(), "the command gives its caller's collector back"
    out = json.loads(capsys.readouterr().out)
    assert out["assignments"] == {"H1": "L1", "H3": "L2"}
    assert out["objective"] == {"priority": 5, "count": 2}
    assert out["unassigned"]["H4"].startswith("not eligible")
    assert out["unassigned"]["H2"] == (
        "no line free 09:30–10:30: L1 carries H1 (priority 3) 09:00–11:30; L2 down 10:00–10:30"
    )
    assert main(["allocate", "--instance", str(path), "--lines", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["objective"] == {"priority": 6, "count": 3}
    assert main(["allocate", "--instance", str(path), "--what-if", "2"]) == 0
    curve = json.loads(capsys.readouterr().out)["capacity"]
    assert [(p["lines"], p["count"]) for p in curve] == [(1, 1), (2, 2)]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["hearings"][1].update(priority=0), "hearings[1] (id 'H2').priority"),
        (lambda d: d["hearings"][1].update(priority=True), "hearings[1] (id 'H2').priority"),
        (lambda d: d["hearings"][0].pop("end"), "hearings[0] (id 'H1').end: Field required"),
        (lambda d: d["hearings"][2].update(pinned_line="L9"), "'L9' is not one of the lines"),
        (lambda d: d["hearings"][0].update(start="tomorrow"), "not an ISO-8601"),
        (lambda d: d["hearings"][0].update(end="2026-12-01T08:00+08:00"), "must be after start"),
        (lambda d: d["hearings"][0].update(start="2026-12-01T09:00"), "mixes times"),
        (lambda d: d["hearings"][1].update(id="H1"), "already has this id"),
        (lambda d: d["hearings"][1].update(room="A"), "Extra inputs are not permitted"),
        (
            lambda d: d["lines"][1].update(
                available=[["2026-12-01T10:00+08:00", "2026-12-01T09:00+08:00"]]
            ),
            "must end after",
        ),
    ],
)
def test_bad_instances_are_refused_precisely(
    mutate: object, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(json.dumps(INSTANCE))
    mutate(data)  # type: ignore[operator]
    with pytest.raises(
        InstanceError,
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        read_instance(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert main(["allocate", "--instance", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message.split(":")[0] in captured.err


def test_chinese_reasons() -> None:
    problem, clock = read_instance(INSTANCE)
    document = plan_document(solve(problem), clock, lang="zh")
    assert document["unassigned"]["H2"].startswith("09:30–10:30 无空闲线路：L1 已分配给 H1")


def test_events_that_only_narrow_the_day_keep_the_plan_without_solving() -> None:
    lines = [Line("L1"), Line("L2")]
    hearings = [Hearing("a", 0, 10, 3), Hearing("b", 20, 30, 2), Hearing("c", 0, 25, 1)]
    day, plan = Day.start(lines, hearings)
    on_time = day.apply(GoLive("a", 0))
    assert on_time.plan.stats.kept and not on_time.changes
    roomy = day.apply(Overrun("a", 15))  # b starts at 20: still fits
    assert roomy.plan.stats.kept and roomy.plan.assignments == plan.assignments
    assert roomy.plan.objective == solve(roomy.problem).objective
    crowded = day.apply(Overrun("a", 22))  # now a collides with b on its line: solve
    assert not crowded.plan.stats.kept
    assert crowded.plan.objective == solve(crowded.problem).objective
    late = day.apply(LateStart("b", 25))  # a shift frees time: never kept
    assert not late.plan.stats.kept
