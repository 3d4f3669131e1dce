"""Line allocation: which hearings get the court's few streaming lines (pure, no I/O)."""

from streamd.allocation.model import (
    AllocationError,
    Conflict,
    Hearing,
    Line,
    Objective,
    Plan,
    Problem,
    SolveStats,
    Unassigned,
)
from streamd.allocation.solver import evaluate, solve

__all__ = [
    "AllocationError",
    "Conflict",
    "Hearing",
    "Line",
    "Objective",
    "Plan",
    "Problem",
    "SolveStats",
    "Unassigned",
    "evaluate",
    "solve",
]
