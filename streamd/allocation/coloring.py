"""Give chosen hearings real lines: a sweep in start order, with short exchanges.

A hearing takes its pinned (or previous) line when that line is free; otherwise a free
usable line that no later hearing has claimed for an overlapping time, the one whose
next claim or outage comes soonest (best fit, so lines that stay up stay free for the
hearings that need them). When no line is free, an exchange is tried: move one
occupant of a usable line to another line where it fits (up to three moves deep), then
take the freed line. The solver checks the result against its bound; the sweep need
not be clever in every case, only right in the common ones.
"""

from __future__ import annotations

import bisect
import heapq
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from streamd.allocation.model import Line
from streamd.allocation.spans import LineSpans

if TYPE_CHECKING:
    from streamd.allocation.candidates import Candidate

_DEPTH = 4


def assign(
    selected: Sequence[Candidate], line_order: Mapping[str, int], lines: Mapping[str, Line]
) -> dict[str, str]:
    """hearing id -> line for as many of `selected` as the sweep can place."""
    ordered = sorted(
        selected,
        key=lambda c: (c.hearing.start, c.preferred is None, c.hearing.end, c.hearing.id),
    )
    by_id = {c.hearing.id: c for c in ordered}
    claims: dict[str, list[tuple[int, int]]] = defaultdict(list)  # line -> (start, rank)
    for rank, c in enumerate(ordered):
        if c.preferred is not None:
            claims[c.preferred].append((c.hearing.start, rank))
    claim_starts = {line: [s for s, _ in v] for line, v in claims.items()}
    occupancy = LineSpans()
    out: dict[str, str] = {}
    for rank, c in enumerate(ordered):
        h = c.hearing
        options = [line for line in c.usable if occupancy.free_at(line) <= h.start]
        if not options:
            line = _exchange(c, by_id, out, occupancy, _DEPTH, frozenset({h.id}))
            if line is not None:
                out[h.id] = line
                occupancy.place(line, h.start, h.end, h.id)
            continue
        choice = None
        for wanted in (c.pin, c.prev):
            if wanted is not None and wanted in options:
                choice = wanted
                break
        if choice is None:
            best: tuple[int, int, int] | None = None
            for line in options:
                next_claim = _next_claim(claims, claim_starts, line, h.start, rank)
                clash = 1 if next_claim is not None and next_claim < h.end else 0
                busy = lines[line].down_at(h.start)
                if next_claim is not None and next_claim < busy:
                    busy = next_claim
                score = (clash, busy, line_order[line])
                if best is None or score < best:
                    best, choice = score, line
        assert choice is not None
        out[h.id] = choice
        occupancy.place(choice, h.start, h.end, h.id)
    return out


def _exchange(
    c: Candidate,
    by_id: Mapping[str, Candidate],
    out: dict[str, str],
    occupancy: LineSpans,
    depth: int,
    moving: frozenset[str],
) -> str | None:
    """A line for `c` after moving occupants elsewhere, or None. Mutates on success."""
    h = c.hearing
    for line in c.usable:
        blocking = occupancy.overlapping(line, h.start, h.end)
        if not blocking:
            return line
        if depth == 0 or len(blocking) != 1 or blocking[0] in moving:
            continue
        other = by_id[blocking[0]]
        if other.preferred == line:
            continue  # never push a hearing off the line it was promised
        occupancy.remove(line, other.hearing.start, other.hearing.id)
        # Only lines other than this one; the search below sees `line` as occupied
        # by `c` once we place it, so mark it taken for the recursion.
        occupancy.place(line, h.start, h.end, h.id)
        target = _exchange(other, by_id, out, occupancy, depth - 1, moving | {other.hearing.id})
        occupancy.remove(line, h.start, h.id)
        if target is not None and target != line:
            out[other.hearing.id] = target
            occupancy.place(target, other.hearing.start, other.hearing.end, other.hearing.id)
            return line
        occupancy.place(line, other.hearing.start, other.hearing.end, other.hearing.id)
    return None


def _next_claim(
    claims: Mapping[str, list[tuple[int, int]]],
    starts: Mapping[str, list[int]],
    line: str,
    at: int,
    rank: int,
) -> int | None:
    """Start of the first later hearing that prefers `line`, from `at` on."""
    entries = claims.get(line)
    if not entries:
        return None
    k = bisect.bisect_left(starts[line], at)
    while k < len(entries):
        start, other = entries[k]
        if other > rank:
            return start
        k += 1
    return None


def lay_onto(hearings: Sequence[Candidate], lines: Sequence[str]) -> dict[str, str]:
    """Interval colouring in start order, each hearing on the first free line in `lines`
    order (what `assign` does when nobody prefers a line and all are up): never needs
    more lines than the overlap."""
    free = list(range(len(lines)))
    busy: list[tuple[int, int]] = []
    out: dict[str, str] = {}
    for c in sorted(hearings, key=lambda c: c.hearing.start):
        while busy and busy[0][0] <= c.hearing.start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        k = heapq.heappop(free)
        out[c.hearing.id] = lines[k]
        heapq.heappush(busy, (c.hearing.end, k))
    return out
