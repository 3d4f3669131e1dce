"""Candidates: each open hearing with the lines it may take, the spans that block them, and the
previous plan's choice (pure, no I/O)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from streamd.allocation.model import (
    Hearing,
    Line,
)
from streamd.allocation.spans import LineSpans

# From this many open hearings on, the components are solved on two cores (a year of a
# large court); below it a fork costs more than it saves.


@dataclass(slots=True)
class Candidate:
    """An eligible, not fixed hearing with the lines that could carry it on their own."""

    hearing: Hearing
    usable: tuple[str, ...]
    pin: str | None  # pinned line, if usable
    prev: str | None  # previous line, if usable
    was_unassigned: bool  # in the previous plan without a line

    @property
    def preferred(self) -> str | None:
        return self.pin if self.pin is not None else self.prev


def _candidates(
    group: Sequence[Hearing],
    lines: Sequence[Line],
    blockers: LineSpans,
    previous: Mapping[str, str | None],
) -> tuple[list[Candidate], list[Line]]:
    """Usable lines per hearing. Lines up over the whole span with nothing fixed on them
    are usable by all; only the others are tested hearing by hearing."""
    lo = group[0].start
    hi = max(h.end for h in group)
    plain: list[str] = []
    special: list[Line] = []
    for line in lines:
        if line.covers(lo, hi) and blockers.first_overlap(line.id, lo, hi) is None:
            plain.append(line.id)
        else:
            special.append(line)
    everyone = tuple(plain)
    out: list[Candidate] = []
    # One pointer per special line walks its blocked stretches as the starts advance.
    walks = [(line.id, _blocked(line, blockers, lo, hi)) for line in special]
    at = [0] * len(walks)
    for h in group:
        usable = everyone
        if walks:
            start, end = h.start, h.end
            extra: list[str] = []
            for k, (line_id, blocked) in enumerate(walks):
                j = at[k]
                while j < len(blocked) and blocked[j][1] <= start:
                    j += 1
                at[k] = j
                if j == len(blocked) or blocked[j][0] >= end:
                    extra.append(line_id)
            if extra:
                usable = everyone + tuple(extra)
        if not usable:
            continue
        prev_line = previous.get(h.id)
        out.append(
            Candidate(
                hearing=h,
                usable=usable,
                pin=h.pinned_line if h.pinned_line in usable else None,
                prev=prev_line if prev_line in usable else None,
                was_unassigned=prev_line is None and h.id in previous,
            )
        )
    return out, special


def _blocked(line: Line, blockers: LineSpans, lo: int, hi: int) -> list[tuple[int, int]]:
    """Where `line` cannot carry a hearing within [lo, hi): outside its windows or under
    a fixed hearing; sorted, overlapping stretches merged."""
    spans: list[tuple[int, int]] = []
    if line.available is not None:
        t = lo
        for a, b in line.available:
            if b <= t:
                continue
            if a >= hi:
                break
            if a > t:
                spans.append((t, a))
            t = b
        if t < hi:
            spans.append((t, hi))
    starts, ends = blockers.starts.get(line.id, []), blockers.ends.get(line.id, [])
    k = bisect.bisect_right(ends, lo)
    while k < len(starts) and starts[k] < hi:
        spans.append((starts[k], ends[k]))
        k += 1
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _keep_previous(
    component: Sequence[Candidate], previous: Mapping[str, str | None]
) -> dict[str, str] | None:
    kept: dict[str, str] = {}
    last_end: dict[str, int] = {}
    for c in component:  # sorted by start
        line = previous.get(c.hearing.id)
        if c.hearing.id not in previous:
            return None  # a newcomer: solve properly
        if line is None:
            continue
        if line not in c.usable or last_end.get(line, c.hearing.start) > c.hearing.start:
            return None
        last_end[line] = c.hearing.end
        kept[c.hearing.id] = line
    return kept


def _grouped(
    component: Sequence[Candidate], index: Mapping[int, int], weight: Callable[[Candidate], int]
) -> dict[tuple[int, int, int], list[Candidate]]:
    """Candidates the flow cannot tell apart: same ends, same weight (in start order)."""
    groups: dict[tuple[int, int, int], list[Candidate]] = defaultdict(list)
    for c in component:
        groups[(index[c.hearing.start], index[c.hearing.end], weight(c))].append(c)
    return groups


def _prevd(c: Candidate) -> int:
    return 1 if c.prev is not None else (-1 if c.was_unassigned else 0)
