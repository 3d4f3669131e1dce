"""Per line, the hearings on it, sorted by start: they never overlap on one line, so the
ends are sorted too and every overlap question is one bisection."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable

_FAR = 1 << 62


class LineSpans:
    def __init__(self, items: Iterable[tuple[str, int, int, str]] = ()) -> None:
        """`items`: (line, start, end, hearing id), in any order."""
        self.starts: dict[str, list[int]] = defaultdict(list)
        self.ends: dict[str, list[int]] = defaultdict(list)
        self.ids: dict[str, list[str]] = defaultdict(list)
        for line, start, end, hid in sorted(items):
            self.starts[line].append(start)
            self.ends[line].append(end)
            self.ids[line].append(hid)

    def place(self, line: str, start: int, end: int, hid: str) -> None:
        k = bisect.bisect_left(self.starts[line], start)
        self.starts[line].insert(k, start)
        self.ends[line].insert(k, end)
        self.ids[line].insert(k, hid)

    def remove(self, line: str, start: int, hid: str) -> None:
        k = bisect.bisect_left(self.starts[line], start)
        while self.ids[line][k] != hid:
            k += 1
        del self.starts[line][k], self.ends[line][k], self.ids[line][k]

    def overlapping(self, line: str, start: int, end: int) -> list[str]:
        """Ids of the hearings on `line` that overlap [start, end), in order."""
        ends = self.ends.get(line)
        if not ends:
            return []
        k = bisect.bisect_right(ends, start)
        starts, ids = self.starts[line], self.ids[line]
        out = []
        while k < len(ends) and starts[k] < end:
            out.append(ids[k])
            k += 1
        return out

    def first_overlap(self, line: str, start: int, end: int) -> tuple[int, int, str] | None:
        """(start, end, id) of the first hearing on `line` overlapping [start, end)."""
        ends = self.ends.get(line)
        if not ends:
            return None
        k = bisect.bisect_right(ends, start)
        if k < len(ends) and self.starts[line][k] < end:
            return self.starts[line][k], ends[k], self.ids[line][k]
        return None

    def free_at(self, line: str) -> int:
        """When the last hearing on `line` ends (the distant past if none)."""
        ends = self.ends.get(line)
        return ends[-1] if ends else -_FAR
