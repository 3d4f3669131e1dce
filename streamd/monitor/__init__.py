"""The monitor: watches each public output against its hearing and keeps the coverage ledger."""

__all__ = [
    "follower",
    "records",
    "report",
    "service",
    "share",
]
