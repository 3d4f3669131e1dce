"""What a clerk, a department head or the court leader reads of a not-streamed approval:
the record with its case number, its level in Chinese and every step taken on it.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import Session, col, select

from streamd.approvals import ApprovalAction, Status
from streamd.models import Approval, ApprovalStep, Hearing
from streamd.policy import ApprovalLevel

__all__ = ["LEVEL_ZH", "ApprovalOut", "StepOut", "to_public"]


class StepOut(BaseModel):
    at: str
    actor: str
    role: str
    action: ApprovalAction
    comment: str | None


class ApprovalOut(BaseModel):
    id: int
    hearing_id: int
    case_number: str
    department_id: int
    rule: str
    level: ApprovalLevel
    level_zh: str
    status: Status
    reason: str
    applicant: str
    applied_at: str
    decided_by: str | None
    decided_at: str | None
    steps: list[StepOut]


def to_public(session: Session, *, row: Approval) -> ApprovalOut:
    hearing = session.get(Hearing, row.hearing_id)
    assert hearing is not None and row.id is not None
    steps = session.exec(
        select(ApprovalStep)
        .where(ApprovalStep.approval_id == row.id)
        .order_by(col(ApprovalStep.at), col(ApprovalStep.id))
    ).all()
    level = ApprovalLevel(row.level)
    return ApprovalOut(
        id=row.id,
        hearing_id=row.hearing_id,
        case_number=hearing.case_number,
        department_id=hearing.department_id,
        rule=row.rule,
        level=level,
        level_zh=LEVEL_ZH[level],
        status=Status(row.status),
        reason=row.reason,
        applicant=row.applicant,
        applied_at=row.applied_at.isoformat(),
        decided_by=row.decided_by,
        decided_at=row.decided_at.isoformat() if row.decided_at else None,
        steps=[
            StepOut(
                at=s.at.isoformat(),
                actor=s.actor,
                role=s.role,
                action=ApprovalAction(s.action),
                comment=s.comment,
            )
            for s in steps
        ],
    )


LEVEL_ZH = {ApprovalLevel.DEPARTMENT: "庭级", ApprovalLevel.COURT: "院级"}
