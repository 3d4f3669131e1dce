"""Review of a hearing's record: the VOD playlist, the record view, who may see it."""

__all__ = [
    "access",
    "notes",
    "plan",
    "service",
    "versions",
]
