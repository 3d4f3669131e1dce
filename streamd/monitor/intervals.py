"""Sets of half-open time intervals [start, end) in integer milliseconds.

Integers, not floats or datetimes: the ledger's promise is that coverage plus gaps equals
the required time exactly, and only integer arithmetic keeps that promise under any
sequence of unions and differences. A set is a sorted tuple of disjoint, non-touching,
non-empty spans; every function returns one in that form.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

Span = tuple[int, int]
Spans = tuple[Span, ...]


def ms(at: datetime) -> int:
    """Epoch milliseconds of an aware datetime: the one unit the ledger counts in."""
    return round(at.timestamp() * 1000)


def normalize(spans: Iterable[Span]) -> Spans:
    """Sorted, merged, empties dropped; touching spans become one."""
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return tuple(out)


def union(*sets: Iterable[Span]) -> Spans:
    return normalize(s for spans in sets for s in spans)


def subtract(a: Spans, b: Spans) -> Spans:
    """a minus b; both normalized."""
    out: list[Span] = []
    j = 0
    for start, end in a:
        cur = start
        while j < len(b) and b[j][1] <= cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cur:
                out.append((cur, b[k][0]))
            cur = max(cur, b[k][1])
            if cur >= end:
                break
            k += 1
        if cur < end:
            out.append((cur, end))
    return tuple(out)


def intersect(a: Spans, b: Spans) -> Spans:
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def total(spans: Spans) -> int:
    return sum(end - start for start, end in spans)


def around(points: Iterable[int], radius: int) -> Spans:
    """[t - radius, t + radius) for every t: the forgiven zone round each transition."""
    if radius <= 0:
        return ()
    return normalize((t - radius, t + radius) for t in points)
