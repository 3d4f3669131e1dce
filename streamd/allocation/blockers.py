"""What holds each hearing off each line in a finished plan: the conflicts its reasons are
written from (pure, no I/O)."""

from __future__ import annotations

import bisect
from collections.abc import Mapping

from streamd.allocation.model import (
    Conflict,
    Line,
    Problem,
)
from streamd.allocation.spans import LineSpans

# From this many open hearings on, the components are solved on two cores (a year of a
# large court); below it a fork costs more than it saves.


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
