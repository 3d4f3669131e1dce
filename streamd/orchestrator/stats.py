"""The orchestrator's counters for /metrics: messages by leaf, commands by outcome, and the
command → ack round trip as histogram buckets."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

ROUND_TRIP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(slots=True)
class RoundTrips:
    """Command → ack seconds as histogram buckets: constant memory however long streamd runs."""

    counts: list[int] = field(default_factory=lambda: [0] * len(ROUND_TRIP_BUCKETS))
    total: int = 0
    sum: float = 0.0

    def observe(self, seconds: float) -> None:
        self.total += 1
        self.sum += seconds
        for k, bound in enumerate(ROUND_TRIP_BUCKETS):
            if seconds <= bound:
                self.counts[k] += 1
                break


@dataclass(slots=True)
class OrchestratorStats:
    malformed: int = 0
    received: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    round_trips: RoundTrips = field(default_factory=RoundTrips)
    commands: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by outcome
