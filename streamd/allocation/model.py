"""The allocation problem and its answer, in plain integers.

Times are integer seconds on one clock (the callers use epoch seconds). Intervals are
half-open, [start, end): a hearing ending at 10:00 and one starting at 10:00 may share a
line, so back-to-back bookings need no hidden gap; any buffer is the caller's pre-roll and
post-roll, already folded into the interval.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


class AllocationError(ValueError):
    """The instance itself is inconsistent (unknown line, bad interval, duplicate id)."""


@dataclass(frozen=True, slots=True)
class Line:
    """A licensed push channel. `available` None means always; otherwise the union of
    the given half-open windows (maintenance and outages are the gaps)."""

    id: str
    available: tuple[tuple[int, int], ...] | None = None
    _starts: tuple[int, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.available is not None:
            merged: list[tuple[int, int]] = []
            for a, b in sorted(self.available):
                if merged and a <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], b))
                else:
                    merged.append((a, b))
            object.__setattr__(self, "available", tuple(merged))
            object.__setattr__(self, "_starts", tuple(a for a, _ in merged))

    def window_at(self, t: int) -> tuple[int, int] | None:
        """The availability window holding instant t, if any (windows are merged)."""
        if self.available is None:
            return (t, 1 << 62)
        k = bisect.bisect_right(self._starts, t) - 1
        if k >= 0 and t < self.available[k][1]:
            return self.available[k]
        return None

    def covers(self, start: int, end: int) -> bool:
        window = self.window_at(start)
        return window is not None and end <= window[1]

    def down_at(self, t: int) -> int:
        """When the line next goes down after instant t (it is up at t)."""
        window = self.window_at(t)
        return window[1] if window is not None else t


@dataclass(frozen=True, slots=True)
class Hearing:
    """One session that may want a line.

    `fixed_line` is a hard assignment (a live hearing never moves); `pinned_line` is the
    line the public was told (kept wherever the higher objectives allow).
    """

    id: str
    start: int
    end: int
    priority: int = 1
    eligible: bool = True
    pinned_line: str | None = None
    fixed_line: str | None = None


@dataclass(frozen=True, slots=True)
class Objective:
    """Compared lexicographically, in this order: total priority streamed, hearings
    streamed, pinned hearings on their pinned line, hearings unchanged against the
    previous plan."""

    priority: int
    count: int
    pinned_kept: int
    unchanged: int

    def key(self) -> tuple[int, int, int, int]:
        return (self.priority, self.count, self.pinned_kept, self.unchanged)


@dataclass(frozen=True, slots=True)
class Conflict:
    """Why one line could not take a hearing: another hearing, or the line being down."""

    line: str
    start: int
    end: int
    hearing: str | None = None  # None: the line is unavailable over [start, end)
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class Unassigned:
    """A hearing left without a line: ineligible, or every line busy or down (`Plan.why`)."""

    hearing: str
    start: int
    end: int
    ineligible: bool = False


@dataclass(frozen=True, slots=True)
class SolveStats:
    """How the plan was reached: components solved, and how many needed an exact search
    (the state search, or the integer programme when that grew too large) because the
    flow bound could not certify the fast answer. `kept` is set when a repair proved the
    previous plan still optimal without solving anything."""

    components: int = 0
    flow_solved: int = 0
    trivial: int = 0
    milp_solved: int = 0
    search_solved: int = 0
    kept: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    assignments: Mapping[str, str]
    unassigned: Mapping[str, Unassigned]
    objective: Objective
    stats: SolveStats = field(default_factory=SolveStats)
    explainer: Callable[[str], tuple[Conflict, ...]] | None = field(
        default=None, repr=False, compare=False
    )

    def why(self, hearing: str) -> tuple[Conflict, ...]:
        """For an eligible hearing without a line: per line, what holds it (computed on
        demand, so a year's plan does not pay for thirty thousand explanations)."""
        if hearing not in self.unassigned or self.unassigned[hearing].ineligible:
            return ()
        return self.conflicts(hearing)

    def conflicts(self, hearing: str) -> tuple[Conflict, ...]:
        """Per line, what would stop `hearing` being on it in this plan (another hearing,
        or the line down); also for a hearing that has a line, e.g. to say why it left the
        one it had."""
        return self.explainer(hearing) if self.explainer else ()


@dataclass(frozen=True, slots=True)
class Problem:
    lines: Sequence[Line]
    hearings: Sequence[Hearing]
    # hearing id -> line id, or None for "was in the plan without a line".
    previous: Mapping[str, str | None] = field(default_factory=dict)
