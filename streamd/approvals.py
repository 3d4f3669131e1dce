"""Not-streamed approvals (不直播审批): apply, review, approve, reject, and each one's queue.

Every public hearing that the policy keeps off air carries a record. The handler's flags
live here, as applications, so the decision is always a function of the hearing and its
records (`facts`), never a copy that could drift:

- a listed category (a flag with effect `exclude`, or an excluded cause) is off air at
  once; the department head (庭长) approves the record at department level (庭级);
- `other unsuitable` (effect `approval`) is off air while undecided (fail closed): the
  department head reviews, the court leader (分管院领导) approves at court level (院级);
- a rejection means the claim does not hold, so the hearing is streamable again. A cause
  rule is the court's rule, not a claim: its record can be approved, not rejected.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from streamd import audit
from streamd.casenumber import Procedure
from streamd.domain import LABELS_ZH, Role, SessionKind
from streamd.models import Approval, ApprovalStep, Hearing, User, utcnow
from streamd.policy import (
    Approval as ApprovalFacts,
)
from streamd.policy import (
    ApprovalLevel,
    ApprovalStatus,
    Decision,
    Effect,
    Eligibility,
    Facts,
    Ruleset,
    decide,
)
from streamd.scope import hearings_of
from streamd.store import in_batches

FLAG = "flag."
CAUSE = "cause."
APPLICANTS = frozenset({Role.JUDGE, Role.CLERK})


class Status(StrEnum):
    PENDING = "pending"  # waiting for the department head
    REVIEWED = "reviewed"  # court level: reviewed by the department head, waiting for the leader
    APPROVED = "approved"
    REJECTED = "rejected"


class ApprovalAction(StrEnum):
    APPLY = "apply"
    REVIEW = "review"
    APPROVE = "approve"
    REJECT = "reject"


class ApprovalError(Exception):
    """A step that may not be taken; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status = status
        self.field = field
        super().__init__(message)


class Apply(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    flag: str = Field(min_length=1, max_length=48, examples=["other_unsuitable"])
    reason: str = Field(min_length=2, max_length=512, description="Why it should not be streamed.")


class StepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    comment: str | None = Field(default=None, max_length=512)


@dataclass(frozen=True, slots=True)
class Result:
    row: Approval
    changed: bool


# ---- the decision, from a hearing and its records -------------------------------------------


def facts(hearing: Hearing, records: Iterable[Approval], rules: Ruleset) -> Facts:
    """What the policy sees: flags are the applications in force; `approval` is where the
    `other unsuitable` application stands (a rejected one still counts, as rejected)."""
    flags: set[str] = set()
    approval: ApprovalFacts | None = None
    for record in sorted(records, key=lambda r: (r.applied_at, r.id or 0)):
        if not record.rule.startswith(FLAG):
            continue
        flag = rules.flag(record.rule.removeprefix(FLAG))
        if flag is None:
            continue  # a flag the court's rules no longer know has no effect
        if flag.effect is Effect.APPROVAL:
            flags.add(flag.id)
            approval = _as_facts(record)
        elif record.status != Status.REJECTED:
            flags.add(flag.id)
    return Facts(
        case_type=hearing.case_type_code,
        cause=hearing.cause,
        procedure=Procedure(hearing.procedure),
        session_kind=SessionKind(hearing.session_kind),
        public=hearing.is_public,
        non_public_reason=hearing.non_public_reason,
        flags=frozenset(flags),
        approval=approval,
    )


def _as_facts(record: Approval) -> ApprovalFacts:
    if record.status == Status.REJECTED:
        return ApprovalFacts(ApprovalStatus.REJECTED, ApprovalLevel(record.level))
    if record.status == Status.APPROVED:
        return ApprovalFacts(ApprovalStatus.APPROVED, ApprovalLevel(record.level))
    return ApprovalFacts(ApprovalStatus.PENDING, ApprovalLevel(record.level))


def records_of(session: Session, hearing_ids: Sequence[int]) -> dict[int, list[Approval]]:
    out: dict[int, list[Approval]] = defaultdict(list)
    for chunk in in_batches(hearing_ids):
        for row in session.exec(select(Approval).where(col(Approval.hearing_id).in_(chunk))):
            out[row.hearing_id].append(row)
    return out


def decisions(session: Session, hearings: Sequence[Hearing], rules: Ruleset) -> dict[int, Decision]:
    records = records_of(session, [h.id for h in hearings if h.id is not None])
    return {h.id: decide(facts(h, records.get(h.id, ()), rules), rules) for h in hearings if h.id}


def decision(session: Session, hearing: Hearing, rules: Ruleset) -> Decision:
    assert hearing.id is not None
    return decisions(session, [hearing], rules)[hearing.id]


def sync_rule_records(session: Session, *, hearing: Hearing, rules: Ruleset, actor: str) -> None:
    """Open the record an excluded cause needs, so the department head sees it in the queue."""
    found = decision(session, hearing, rules)
    if found.outcome is not Eligibility.EXCLUDED or not found.rule.startswith(CAUSE):
        return
    if _active(session, hearing.id or 0, found.rule) is not None:
        return
    _open(session, hearing, found.rule, ApprovalLevel.DEPARTMENT, found.reason_zh, actor, "system")


# ---- the steps ----------------------------------------------------------------------------


def apply(
    session: Session, *, hearing_id: int, data: Apply, user: User, rules: Ruleset
) -> tuple[Approval, bool]:
    """The handler's application not to stream. Applying twice returns the first one."""
    _require(user, APPLICANTS, "apply not to stream")
    hearing = session.get(Hearing, hearing_id)
    if hearing is None:
        raise ApprovalError(404, f"no hearing with id {hearing_id}")
    if not hearing.is_public:
        raise ApprovalError(
            409, "the hearing is not held in public: it is never streamed and needs no approval"
        )
    flag = rules.flag(data.flag)
    if flag is None:
        known = ", ".join(f.id for f in rules.flags)
        raise ApprovalError(422, f"unknown flag {data.flag!r}; known: {known}", "body.flag")
    rule = FLAG + flag.id
    existing = _active(session, hearing_id, rule)
    if existing is not None:
        return existing, False
    level = ApprovalLevel.COURT if flag.effect is Effect.APPROVAL else ApprovalLevel.DEPARTMENT
    role = next(r for r in (Role.JUDGE, Role.CLERK) if r in user.roles)
    return _open(session, hearing, rule, level, data.reason, user.username, role), True


def review(session: Session, *, approval_id: int, data: StepRequest, user: User) -> Result:
    """The department head forwards a court-level application to the court leader."""
    row, hearing = _load(session, approval_id)
    if row.level != ApprovalLevel.COURT:
        raise ApprovalError(409, "a department-level record is approved or rejected directly")
    if row.status == Status.REVIEWED:
        return Result(row, False)
    _expect(row, Status.PENDING)
    _require(user, {Role.DEPARTMENT_HEAD}, "review an application")
    _same_department(user, hearing)
    _step(
        session,
        row,
        user,
        Role.DEPARTMENT_HEAD,
        ApprovalAction.REVIEW,
        data.comment,
        Status.REVIEWED,
    )
    return Result(row, True)


def approve(session: Session, *, approval_id: int, data: StepRequest, user: User) -> Result:
    row, hearing = _load(session, approval_id)
    if row.status == Status.APPROVED:
        return Result(row, False)
    if row.level == ApprovalLevel.DEPARTMENT:
        _expect(row, Status.PENDING)
        _require(user, {Role.DEPARTMENT_HEAD}, "give department-level (庭级) approval")
        _same_department(user, hearing)
        role = Role.DEPARTMENT_HEAD
    else:
        if row.status == Status.PENDING:
            raise ApprovalError(
                409, "court-level approval needs the department head's review first"
            )
        _expect(row, Status.REVIEWED)
        _require(user, {Role.COURT_LEADER}, "give court-level (院级) approval")
        role = Role.COURT_LEADER
    _step(session, row, user, role, ApprovalAction.APPROVE, data.comment, Status.APPROVED)
    return Result(row, True)


def reject(session: Session, *, approval_id: int, data: StepRequest, user: User) -> Result:
    row, hearing = _load(session, approval_id)
    if row.status == Status.REJECTED:
        return Result(row, False)
    if row.rule.startswith(CAUSE):
        raise ApprovalError(
            409,
            "an excluded cause is the court's rule, not a claim: approve the record, or correct "
            "the hearing's cause",
        )
    if not data.comment:
        raise ApprovalError(422, "a rejection needs a comment saying why", "body.comment")
    if row.status == Status.REVIEWED:
        _require(user, {Role.COURT_LEADER}, "decide a court-level (院级) application")
        role = Role.COURT_LEADER
    else:
        _expect(row, Status.PENDING)
        _require(user, {Role.DEPARTMENT_HEAD}, "reject an application")
        _same_department(user, hearing)
        role = Role.DEPARTMENT_HEAD
    _step(session, row, user, role, ApprovalAction.REJECT, data.comment, Status.REJECTED)
    return Result(row, True)


def queue(session: Session, *, user: User) -> list[Approval]:
    """What waits for this user: the department head's pending records in the department,
    the court leader's reviewed ones of their own court. Anyone else waits for nothing."""
    stmt = (
        select(Approval)
        .join(Hearing, col(Hearing.id) == col(Approval.hearing_id))
        .where(hearings_of(user.court_id))
    )
    waiting: list[Approval] = []
    if Role.DEPARTMENT_HEAD in user.roles and user.department_id is not None:
        waiting += session.exec(
            stmt.where(
                Approval.status == Status.PENDING, Hearing.department_id == user.department_id
            ).order_by(col(Hearing.planned_start))
        ).all()
    if Role.COURT_LEADER in user.roles:
        waiting += session.exec(
            stmt.where(Approval.status == Status.REVIEWED).order_by(col(Hearing.planned_start))
        ).all()
    return waiting


# ---- helpers ------------------------------------------------------------------------------


def _active(session: Session, hearing_id: int, rule: str) -> Approval | None:
    return session.exec(
        select(Approval).where(
            Approval.hearing_id == hearing_id,
            Approval.rule == rule,
            Approval.status != Status.REJECTED,
        )
    ).first()


def _open(
    session: Session,
    hearing: Hearing,
    rule: str,
    level: ApprovalLevel,
    reason: str,
    actor: str,
    role: str,
) -> Approval:
    assert hearing.id is not None
    row = Approval(
        hearing_id=hearing.id,
        rule=rule,
        level=level.value,
        status=Status.PENDING.value,
        reason=reason,
        applicant=actor,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add(
        ApprovalStep(approval_id=row.id, actor=actor, role=role, action=ApprovalAction.APPLY)
    )
    audit.record(
        session=session, actor=actor, action="approval.apply", obj=row, after=audit.snapshot(row)
    )
    return row


def _load(session: Session, approval_id: int) -> tuple[Approval, Hearing]:
    row = session.get(Approval, approval_id)
    if row is None:
        raise ApprovalError(404, f"no approval with id {approval_id}")
    hearing = session.get(Hearing, row.hearing_id)
    assert hearing is not None
    return row, hearing


def _require(user: User, roles: Iterable[Role], what: str) -> None:
    allowed = set(roles)
    if not allowed & set(user.roles):
        names = "、".join(f"{LABELS_ZH[r]} ({r.value})" for r in sorted(allowed))
        raise ApprovalError(403, f"only {names} may {what}; you are {', '.join(user.roles)}")


def _same_department(user: User, hearing: Hearing) -> None:
    if user.department_id is None:
        raise ApprovalError(403, "your account belongs to no department")
    if user.department_id != hearing.department_id:
        raise ApprovalError(403, "the hearing belongs to another department")


def _expect(row: Approval, status: Status) -> None:
    if row.status != status:
        raise ApprovalError(409, f"the record is {row.status}, not {status.value}")


def _step(
    session: Session,
    row: Approval,
    user: User,
    role: Role,
    action: ApprovalAction,
    comment: str | None,
    status: Status,
) -> None:
    assert row.id is not None
    values: dict[str, object] = {"status": status.value}
    if status in (Status.APPROVED, Status.REJECTED):
        values |= {"decided_by": user.username, "decided_at": utcnow()}
    audit.update(
        session=session, actor=user.username, action=f"approval.{action}", obj=row, values=values
    )
    session.add(
        ApprovalStep(
            approval_id=row.id, actor=user.username, role=role.value, action=action, comment=comment
        )
    )
    session.flush()
