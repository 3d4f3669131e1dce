"""Line allocation: which hearings get the court's few streaming lines (pure, no I/O)."""

from streamd.allocation.capacity import capacity_curve
from streamd.allocation.explain import describe, first_free
from streamd.allocation.holds import Hold, Phase, hold
from streamd.allocation.instance import (
    InstanceError,
    capacity_document,
    plan_document,
    read_instance,
)
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
    "Hold",
    "InstanceError",
    "Line",
    "Objective",
    "Phase",
    "Plan",
    "Problem",
    "SolveStats",
    "Unassigned",
    "capacity_curve",
    "capacity_document",
    "describe",
    "evaluate",
    "first_free",
    "hold",
    "plan_document",
    "read_instance",
    "repair",
    "solve",
]
