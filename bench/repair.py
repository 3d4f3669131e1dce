"""Live repair latency on a district court's day (250 hearings, 4 lines), announced plan.

    .venv/bin/python -m bench.repair [--days 20] [--window 3]

Replays a day of surprises (late starts, overruns, early ends, cancellations, a line
outage, urgent bookings) through `Day.apply`, timing every repair. The repair is
`allocation.repair.repair`, the engine the running court calls (`planning.replan`, through
`repair.Memory`), on what it solves: the day with the days either side (`--window 3`, as
`planning.replan` plans them; `--window 1` for the day alone). The peer is a full
re-solve of the same problem (what the running court did before it repaired).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import replace

from bench.instances import MINUTE, SIZES, court_day
from streamd.allocation import Hearing, Line, solve
from streamd.allocation.repair import (
    Cancel,
    Day,
    EndEarly,
    Event,
    GoLive,
    LateStart,
    LineDown,
    LineUp,
    Overrun,
    Urgent,
)


def script(rng: random.Random, hearings: list[Hearing]) -> list[tuple[int, Event]]:
    events: list[tuple[int, Event]] = []
    for h in hearings:
        if rng.random() < 0.03:
            events.append((h.start - 30 * MINUTE, Cancel(h.id)))
            continue
        start = h.start
        if rng.random() < 0.3:
            start = h.start + rng.choice((5, 10, 15, 30, 40)) * MINUTE
            events.append((h.start, LateStart(h.id, start)))
        events.append((start, GoLive(h.id, start)))
        length = h.end - h.start
        roll = rng.random()
        if roll < 0.3:
            over = rng.choice((10, 20, 30, 60)) * MINUTE
            events.append((start + length - MINUTE, Overrun(h.id, start + length + over)))
        elif roll < 0.45:
            events.append((start + length // 2, EndEarly(h.id, start + length // 2)))
    base = min(h.start for h in hearings)
    events.append((base + 100 * MINUTE, LineDown("L2", base + 100 * MINUTE, None)))
    events.append((base + 130 * MINUTE, LineUp("L2", base + 130 * MINUTE)))
    for k in range(5):
        at = base + rng.randint(0, 420) * MINUTE
        events.append(
            (at, Urgent(Hearing(f"U{k}", at + 20 * MINUTE, at + 80 * MINUTE, priority=5)))
        )
    events.sort(key=lambda e: e[0])
    return events


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--window", type=int, choices=(1, 3), default=3)
    args = parser.parse_args()
    ours: list[float] = []
    peer: list[float] = []
    changes = 0
    for seed in range(args.days):
        rng = random.Random(seed)
        size = SIZES["day"]
        raw = court_day(rng, 0, size.hearings // 4 + 8, 0, size.hearings)
        around = [
            h
            for k, day_at in enumerate((-1, 1) if args.window == 3 else ())
            for h in court_day(rng, day_at, size.hearings // 4 + 8, (k + 1) * 10_000, size.hearings)
        ]
        lines = [Line(f"L{k + 1}") for k in range(size.lines)]
        announced = solve_plain(lines, [*raw, *around])
        hearings = [replace(h, pinned_line=announced.get(h.id)) for h in [*raw, *around]]
        day, _ = Day.start(lines, hearings)
        for _, event in script(rng, raw):
            name = getattr(event, "hearing", None)
            if isinstance(name, str) and name not in day.hearings:
                continue
            if isinstance(event, GoLive) and name in day.live:
                continue
            repair = day.apply(event)
            ours.append(repair.seconds)
            changes += len(repair.changes)
            began = time.perf_counter()
            full = solve(repair.problem)
            peer.append(time.perf_counter() - began)
            # The focused repair is exact: it must match a full re-solve of what it solved
            # (the changed day with the plan before the event as "previous").
            if full.objective.key() != repair.plan.objective.key():
                raise SystemExit(
                    f"day {seed}, {event}: repair {repair.plan.objective} "
                    f"!= full re-solve {full.objective}"
                )
    ms = [x * 1000 for x in ours]
    pms = [x * 1000 for x in peer]
    print(
        f"repairs: {len(ms)} over {args.days} days of 250 hearings x 4 lines, "
        f"{args.window}-day window; {changes} changes"
    )
    print(
        f"ours (focused repair): p50 {pct(ms, 0.5):.2f} ms  p99 {pct(ms, 0.99):.2f} ms  "
        f"max {max(ms):.2f} ms"
    )
    print(
        f"peer (full re-solve):  p50 {pct(pms, 0.5):.2f} ms  p99 {pct(pms, 0.99):.2f} ms  "
        f"max {max(pms):.2f} ms"
    )
    ratio = pct(pms, 0.99) / pct(ms, 0.99)
    print(f"ratio p99 (peer/ours): {ratio:.1f}x; mean {statistics.mean(ms):.2f} ms")


def solve_plain(lines: list[Line], hearings: list[Hearing]) -> dict[str, str]:
    from streamd.allocation import Problem

    return dict(solve(Problem(lines=lines, hearings=hearings)).assignments)


if __name__ == "__main__":
    main()
