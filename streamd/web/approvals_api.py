"""API routes for not-streamed approvals: apply, review, approve, reject, queues.

Every step that changes a record re-plans the hearing's lines in the same transaction,
so a hearing that becomes streamable again (a rejection) or not (an application) has its
line answer updated before the response is sent.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from streamd import approval_view, approvals, authz
from streamd.domain import Role
from streamd.models import Approval, Hearing
from streamd.policy import Ruleset
from streamd.scope import hearings_of
from streamd.store import Database, paged
from streamd.web.problems import ApiProblem, not_found, refusal
from streamd.web.routing import Api, Call, dump, page_of

ApprovalPage = page_of(approval_view.ApprovalOut)
DecisionMakers = frozenset({Role.DEPARTMENT_HEAD, Role.COURT_LEADER})
Planner = Callable[[Session, Hearing, str], None]


class ApprovalQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hearing_id: int | None = Field(default=None, ge=1)
    status: approvals.Status | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class DecisionOut(BaseModel):
    hearing_id: int
    decision: str
    rule: str
    reason_zh: str
    reason_en: str
    approval_level: str | None


def _problem(exc: approvals.ApprovalError) -> ApiProblem:
    return refusal(exc.status, str(exc), exc.field)


def register_approvals(api: Api, *, db: Database, rules: Ruleset, plan: Planner) -> None:
    def replan(session: Session, row: Approval, actor: str) -> None:
        hearing = session.get(Hearing, row.hearing_id)
        assert hearing is not None
        plan(session, hearing, actor)

    @api.route(
        "GET",
        "/hearings/{hearing_id}/decision",
        summary="The policy's decision for a hearing, with its reason",
        tag="approvals",
        roles=frozenset(Role),
        responses={200: DecisionOut},
    )
    async def get_decision(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            hearing = session.get(Hearing, call.params["hearing_id"])
            if hearing is None:
                raise not_found("hearing", call.params["hearing_id"])
            d = approvals.decision(session, hearing, rules)
            return DecisionOut(
                hearing_id=hearing.id or 0,
                decision=d.outcome.value,
                rule=d.rule,
                reason_zh=d.reason_zh,
                reason_en=d.reason_en,
                approval_level=d.level.value if d.level else None,
            )

        return dump(await db.run(work))

    @api.route(
        "POST",
        "/hearings/{hearing_id}/not-streamed",
        summary="Apply not to stream a hearing (handler; idempotent per flag)",
        tag="approvals",
        act=authz.Act.APPROVAL_APPLY,
        body=approvals.Apply,
        responses={201: approval_view.ApprovalOut, 200: approval_view.ApprovalOut},
        errors=(403, 404, 409),
        links={
            "GetApproval": ("get_approval", {"approval_id": "$response.body#/id"}),
            "ReviewApproval": ("review_approval", {"approval_id": "$response.body#/id"}),
        },
    )
    async def apply(call: Call) -> web.StreamResponse:
        def work(session: Session) -> tuple[BaseModel, bool]:
            assert call.user is not None
            try:
                row, created = approvals.apply(
                    session=session,
                    hearing_id=call.params["hearing_id"],
                    data=call.body,
                    user=call.user,
                    rules=rules,
                )
            except approvals.ApprovalError as exc:
                raise _problem(exc) from None
            if created:
                replan(session, row, call.user.username)
            return approval_view.to_public(session=session, row=row), created

        out, created = await db.run(work)
        return dump(out, 201 if created else 200)

    def step_route(path: str, summary: str, fn: Callable[..., approvals.Result]) -> None:
        @api.route(
            "POST",
            f"/approvals/{{approval_id}}/{path}",
            summary=summary,
            tag="approvals",
            act=authz.Act.APPROVAL_DECIDE,
            body=approvals.StepRequest,
            responses={200: approval_view.ApprovalOut},
            errors=(403, 404, 409),
        )
        async def step(call: Call) -> web.StreamResponse:
            def work(session: Session) -> BaseModel:
                assert call.user is not None
                try:
                    result = fn(
                        session=session,
                        approval_id=call.params["approval_id"],
                        data=call.body,
                        user=call.user,
                    )
                except approvals.ApprovalError as exc:
                    raise _problem(exc) from None
                if result.changed:
                    replan(session, result.row, call.user.username)
                return approval_view.to_public(session=session, row=result.row)

            return dump(await db.run(work))

        step.__name__ = f"{path}_approval"  # the OpenAPI operation id

    step_route("review", "Department head: review a court-level application", approvals.review)
    step_route(
        "approve", "Approve at the record's level (庭级 or 院级; idempotent)", approvals.approve
    )
    step_route(
        "reject", "Reject (comment required): the hearing is streamable again", approvals.reject
    )

    @api.route(
        "GET",
        "/approvals/queue",
        summary="What waits for my decision",
        tag="approvals",
        roles=DecisionMakers,
        responses={200: ApprovalPage},
    )
    async def my_queue(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            assert call.user is not None
            rows = approvals.queue(session=session, user=call.user)
            items = [approval_view.to_public(session=session, row=r) for r in rows]
            return ApprovalPage(items=items, total=len(items))

        return dump(await db.run(work))

    @api.route(
        "GET",
        "/approvals",
        summary="List approval records",
        tag="approvals",
        roles=frozenset(Role),
        query=ApprovalQuery,
        responses={200: ApprovalPage},
    )
    async def list_approvals(call: Call) -> web.StreamResponse:
        q: ApprovalQuery = call.query

        def work(session: Session) -> BaseModel:
            assert call.user is not None
            stmt = (
                select(Approval)
                .join(Hearing, col(Hearing.id) == col(Approval.hearing_id))
                .where(hearings_of(authz.scope(call.user)))
            )
            if q.hearing_id:
                stmt = stmt.where(Approval.hearing_id == q.hearing_id)
            if q.status:
                stmt = stmt.where(Approval.status == q.status.value)
            page, total = paged(session, stmt, col(Approval.id), offset=q.offset, limit=q.limit)
            items = [approval_view.to_public(session=session, row=r) for r in page]
            return ApprovalPage(items=items, total=total)

        return dump(await db.run(work))

    @api.route(
        "GET",
        "/approvals/{approval_id}",
        summary="One approval record with its steps",
        tag="approvals",
        roles=frozenset(Role),
        responses={200: approval_view.ApprovalOut},
    )
    async def get_approval(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            row = session.get(Approval, call.params["approval_id"])
            if row is None:
                raise not_found("approval", call.params["approval_id"])
            return approval_view.to_public(session=session, row=row)

        return dump(await db.run(work))
