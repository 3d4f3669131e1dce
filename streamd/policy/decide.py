"""One hearing in, one decision out: stream, excluded (rule + reason) or needs approval.

Pure and total: every combination of facts gets a decision, and every decision says why
in Chinese and English. The order of the checks is the law's order of precedence: a
hearing not public by law is excluded before anything else is looked at, and nothing an
approval says can put it on air.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streamd.casenumber import Procedure
from streamd.domain import SessionKind
from streamd.policy.rules import Effect, Ruleset

NOT_PUBLIC = "not_public"


class Eligibility(StrEnum):
    STREAM = "stream"
    EXCLUDED = "excluded"
    NEEDS_APPROVAL = "needs_approval"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ApprovalLevel(StrEnum):
    DEPARTMENT = "department"  # 庭级
    COURT = "court"  # 院级


@dataclass(frozen=True, slots=True)
class Approval:
    """Where the not-streamed application for `other unsuitable` reasons stands."""

    status: ApprovalStatus
    level: ApprovalLevel | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the policy needs to know of a hearing; nothing else influences the decision."""

    case_type: str
    cause: str
    procedure: Procedure
    session_kind: SessionKind
    public: bool
    non_public_reason: str | None = None
    flags: frozenset[str] = frozenset()
    approval: Approval | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Eligibility
    rule: str
    reason_zh: str
    reason_en: str
    # The approval a not-streamed public hearing must carry (None: none needed).
    level: ApprovalLevel | None = None

    def reason(self, lang: str = "zh") -> str:
        return self.reason_zh if lang == "zh" else self.reason_en


def decide(facts: Facts, rules: Ruleset) -> Decision:
    if not facts.public:
        why = (facts.non_public_reason or "").strip()
        return Decision(
            Eligibility.EXCLUDED,
            NOT_PUBLIC,
            "依法不公开审理" + (f"（{why}）" if why else ""),
            "not public by law" + (f" ({why})" if why else ""),
        )
    ruled_out = _not_streamable(facts, rules)
    if ruled_out is not None:
        return ruled_out
    for cause in rules.causes:
        if any(word in facts.cause for word in cause.match):
            return Decision(
                Eligibility.EXCLUDED,
                f"cause.{cause.id}",
                f"{cause.reason_zh}（案由：{facts.cause}）",
                f"{cause.reason_en} (cause: {facts.cause})",
                ApprovalLevel.DEPARTMENT,
            )
    # Flags in the rules' order, so the reason shown is stable whatever order they came in.
    raised = [f for f in rules.flags if f.id in facts.flags]
    for flag in raised:
        if flag.effect is Effect.EXCLUDE:
            return Decision(
                Eligibility.EXCLUDED,
                f"flag.{flag.id}",
                flag.reason_zh,
                flag.reason_en,
                ApprovalLevel.DEPARTMENT,
            )
    for flag in raised:
        return _by_approval(f"flag.{flag.id}", flag.reason_zh, flag.reason_en, facts.approval)
    return Decision(Eligibility.STREAM, "stream", "公开审理，依规直播", "public hearing: streamed")


def _not_streamable(facts: Facts, rules: Ruleset) -> Decision | None:
    allowed = rules.streamable
    checks: list[tuple[bool, str, str, str]] = [
        (
            facts.procedure in allowed.procedures,
            "procedure",
            f"该审判程序（{facts.procedure.value}）不在直播范围内",
            f"procedure {facts.procedure.value} is not streamed",
        ),
        (
            facts.session_kind in allowed.session_kinds,
            "session_kind",
            f"该庭审活动（{facts.session_kind.value}）不在直播范围内",
            f"session kind {facts.session_kind.value} is not streamed",
        ),
        (
            facts.case_type in allowed.case_types,
            "case_type",
            f"案件类型「{facts.case_type}」不在直播范围内",
            f"case type {facts.case_type} is not streamed",
        ),
    ]
    for ok, rule, zh, en in checks:
        if not ok:
            return Decision(Eligibility.EXCLUDED, rule, zh, en)
    return None


def _by_approval(rule: str, zh: str, en: str, approval: Approval | None) -> Decision:
    """`Other unsuitable`: off air while undecided (fail closed); only the court level
    can keep it off for good, and a rejection puts it back on air."""
    if approval is not None and approval.status is ApprovalStatus.REJECTED:
        return Decision(
            Eligibility.STREAM,
            f"{rule}.rejected",
            f"不直播申请已被驳回，依规直播（原申请理由：{zh}）",
            f"the not-streamed application was rejected: streamed (it claimed: {en})",
        )
    if (
        approval is not None
        and approval.status is ApprovalStatus.APPROVED
        and approval.level is ApprovalLevel.COURT
    ):
        return Decision(
            Eligibility.EXCLUDED,
            rule,
            f"{zh}（已经院级审批）",
            f"{en} (approved at court level)",
            ApprovalLevel.COURT,
        )
    waiting = (
        (
            "已经庭级审核，待院级审批",
            "reviewed by the department head, awaiting court-level approval",
        )
        if approval is not None and approval.status is ApprovalStatus.APPROVED
        else ("待审批，审批前不直播", "awaiting approval; not streamed until decided")
    )
    return Decision(
        Eligibility.NEEDS_APPROVAL,
        rule,
        f"{zh}（{waiting[0]}）",
        f"{en} ({waiting[1]})",
        ApprovalLevel.COURT,
    )
