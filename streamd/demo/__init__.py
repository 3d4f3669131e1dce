"""`streamd demo`: the sample court running a compressed day with real agents."""

__all__ = [
    "day",
    "run",
    "stage",
]
