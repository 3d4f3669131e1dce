"""The eligibility policy: which hearings may be streamed, and why not (pure, no I/O)."""

from streamd.policy.decide import (
    NOT_PUBLIC,
    Approval,
    ApprovalLevel,
    ApprovalStatus,
    Decision,
    Eligibility,
    Facts,
    decide,
)
from streamd.policy.rules import Effect, PolicyError, Ruleset, load_rules

__all__ = [
    "NOT_PUBLIC",
    "Approval",
    "ApprovalLevel",
    "ApprovalStatus",
    "Decision",
    "Effect",
    "Eligibility",
    "Facts",
    "PolicyError",
    "Ruleset",
    "decide",
    "evaluate",
    "load_rules",
]
