"""Realistic allocation instances: a court's timetable as its clerks actually write it.

Courtrooms hold one session at a time, mornings from 09:00 and afternoons from 14:00,
starts on the quarter hour, sessions of 20 minutes to 3 hours; about four in five are
eligible; priorities follow the session kind (a hearing in court outranks an inquiry).
Lines get a maintenance window now and then in office hours, and the first three days
are announced (pinned) from an earlier plan, some of whose lines have since gone down.
Seeded, so every run measures the same instances.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from streamd.allocation import Hearing, Line, Problem, solve

MINUTE = 60
DAY = 24 * 60 * MINUTE
PREROLL = 5 * MINUTE
POSTROLL = 5 * MINUTE
DURATIONS = (20, 30, 30, 45, 60, 60, 90, 120, 180)
PRIORITY = (3, 3, 3, 2, 2, 1, 5)  # hearing, cross-examination/evidence, inquiry, major case


@dataclass(frozen=True)
class Size:
    name: str
    hearings: int
    lines: int


SIZES = {
    "day": Size("day", 250, 4),
    "month": Size("month", 6_000, 8),
    "design": Size("design", 20_000, 8),
    "year": Size("year", 60_000, 16),
}


def court_day(rng: random.Random, day: int, rooms: int, start_id: int, want: int) -> list[Hearing]:
    out: list[Hearing] = []
    base = day * DAY
    for _room in range(rooms):
        for session_start in (9 * 60, 14 * 60):
            t = session_start + rng.choice((0, 0, 15, 30, 60))
            limit = session_start + (3 * 60 + 30 if session_start == 9 * 60 else 3 * 60 + 45)
            while len(out) < want:
                minutes = rng.choice(DURATIONS)
                if t + minutes > limit:
                    break
                out.append(
                    Hearing(
                        id=f"H{start_id + len(out)}",
                        start=base + t * MINUTE - PREROLL,
                        end=base + (t + minutes) * MINUTE + POSTROLL,
                        priority=rng.choice(PRIORITY),
                        eligible=rng.random() < 0.8,
                    )
                )
                t += minutes + rng.choice((0, 0, 15, 30))
        if len(out) >= want:
            break
    return out


def generate(size: Size, *, seed: int = 20261123) -> Problem:
    rng = random.Random(seed)
    days = max(1, round(size.hearings / 240))
    per_day = size.hearings // days
    rooms = max(4, per_day // 4 + 8)
    hearings: list[Hearing] = []
    for day in range(days):
        want = per_day + (size.hearings - per_day * days if day == days - 1 else 0)
        hearings += court_day(rng, day, rooms, len(hearings), want)
    lines = []
    for k in range(size.lines):
        windows: list[tuple[int, int]] = []
        t = 0
        end = days * DAY
        while True:
            gap = rng.randint(10, 40) * DAY + rng.choice((10, 11, 15, 16)) * 3600
            if t + gap >= end:
                break
            windows.append((t, t + gap))
            t = t + gap + rng.choice((1, 2)) * 3600
        windows.append((t, end + DAY))
        lines.append(Line(f"L{k + 1}", tuple(windows)))
    # Announce the first three days from a plan made before any maintenance was known.
    early = [h for h in hearings if h.start < 3 * DAY]
    plan = solve(Problem(lines=[Line(line.id) for line in lines], hearings=early))
    hearings = [
        replace(h, pinned_line=plan.assignments.get(h.id)) if h.start < 3 * DAY else h
        for h in hearings
    ]
    return Problem(lines=lines, hearings=hearings)


def document(problem: Problem, *, epoch: int = 1_798_761_600) -> dict[str, object]:
    """The problem as `streamd allocate --instance` reads it (UTC times from `epoch`,
    2027-01-01), so the whole command can be timed on the same timetable."""

    def at(t: int) -> str:
        return datetime.fromtimestamp(epoch + t, UTC).isoformat()

    return {
        "lines": [
            {"id": line.id, "available": [[at(a), at(b)] for a, b in line.available or ()]}
            for line in problem.lines
        ],
        "hearings": [
            {
                "id": h.id,
                "start": at(h.start),
                "end": at(h.end),
                "priority": h.priority,
                "eligible": h.eligible,
                **({"pinned_line": h.pinned_line} if h.pinned_line else {}),
            }
            for h in problem.hearings
        ],
    }


if __name__ == "__main__":
    # python -m bench.instances year /tmp/year.json: the instance for `streamd allocate`.
    parser = argparse.ArgumentParser(description="write a generated instance as JSON")
    parser.add_argument("size", choices=sorted(SIZES))
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    args.path.write_text(json.dumps(document(generate(SIZES[args.size]))), encoding="utf-8")
