"""What-if capacity: how much the court would stream with K = 1..N lines.

One flow per component answers every K at once: successive shortest paths add one line
at a time and each phase's gain is the value of the next lines, never increasing. Lines
here are identical and always up, as a purchase decision assumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from streamd.allocation import flow
from streamd.allocation.model import Hearing
from streamd.allocation.solver import _components


@dataclass(frozen=True, slots=True)
class CapacityPoint:
    lines: int
    priority: int
    count: int
    eligible: int

    @property
    def ratio(self) -> float:
        """Streamed over streamable: the figure the departments' targets are set on."""
        return self.count / self.eligible if self.eligible else 1.0


def capacity_curve(hearings: Sequence[Hearing], max_lines: int) -> list[CapacityPoint]:
    if max_lines < 1:
        raise ValueError("max_lines must be at least 1")
    eligible = [h for h in hearings if h.eligible]
    gains = [0] * (max_lines + 1)  # gains[k]: weight added by the k-th line, summed
    scale = len(eligible) + 1
    for group in _components(eligible):
        times = sorted({t for h in group for t in (h.start, h.end)})
        index = {t: k for k, t in enumerate(times)}
        weights: dict[tuple[int, int, int], int] = {}
        for h in group:
            key = (index[h.start], index[h.end], h.priority * scale + 1)
            weights[key] = weights.get(key, 0) + 1
        phases = flow.pack(
            len(times),
            [max_lines] * (len(times) - 1),
            [(a, b, count, w) for (a, b, w), count in weights.items()],
        ).phases
        k = 1
        for phase in phases:
            for _ in range(phase.units):
                if k > max_lines:
                    break
                gains[k] += phase.gain
                k += 1
    out: list[CapacityPoint] = []
    total = 0
    for k in range(1, max_lines + 1):
        total += gains[k]
        priority, count = divmod(total, scale)
        out.append(CapacityPoint(k, priority, count, len(eligible)))
    return out
