"""API routes for line outages: a technician reports a line down or restores it; anyone
on the staff sees a line's outages.

Each report or restore re-plans the days it touches in the same transaction, so every
booking's line answer is current when the response is sent; a hearing on air on the line
is moved by the orchestrator's next live repair (within one scheduler tick).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel
from sqlmodel import Session

from streamd import authz, outages
from streamd.domain import Role
from streamd.store import Database
from streamd.web.problems import ApiProblem, refusal
from streamd.web.routing import Api, Call, Empty, dump, page_of

OutagePage = page_of(outages.OutageOut)
# Re-plan the days around a moment, as this user; the API's own planner.
Replanner = Callable[[Session, datetime, str], None]


def _problem(exc: outages.OutageError) -> ApiProblem:
    return refusal(exc.status, str(exc), exc.field)


def register_lines(api: Api, *, db: Database, replan: Replanner) -> None:
    @api.route(
        "GET",
        "/lines/{line_id}/outages",
        summary="A line's outages, newest first",
        tag="court",
        roles=frozenset(Role),
        responses={200: OutagePage},
        errors=(404,),
    )
    async def list_outages(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            try:
                rows = outages.of_line(session=session, line_id=call.params["line_id"])
            except outages.OutageError as exc:
                raise _problem(exc) from None
            items = [outages.to_public(session=session, row=r) for r in rows]
            return OutagePage(items=items, total=len(items))

        return dump(await db.run(work))

    @api.route(
        "POST",
        "/lines/{line_id}/outages",
        summary="Report a line down (now, or a maintenance window); re-plans at once",
        tag="court",
        act=authz.Act.OPERATE,
        body=outages.OutageReport,
        responses={201: outages.OutageOut},
        errors=(404, 422),
    )
    async def report_outage(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            assert call.user is not None
            try:
                row = outages.report(
                    session=session, line_id=call.params["line_id"], data=call.body, user=call.user
                )
            except outages.OutageError as exc:
                raise _problem(exc) from None
            replan(session, row.start, call.user.username)
            return outages.to_public(session=session, row=row)

        return dump(await db.run(work), 201)

    @api.route(
        "POST",
        "/outages/{outage_id}/restore",
        summary="The line is back (or the window is called off); re-plans at once; idempotent",
        tag="court",
        act=authz.Act.OPERATE,
        body=Empty,
        responses={200: outages.OutageOut},
        errors=(404,),
    )
    async def restore_outage(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            assert call.user is not None
            try:
                row, changed = outages.restore(
                    session=session, outage_id=call.params["outage_id"], user=call.user
                )
            except outages.OutageError as exc:
                raise _problem(exc) from None
            if changed:
                assert row.end is not None
                replan(session, row.end, call.user.username)
            return outages.to_public(session=session, row=row)

        return dump(await db.run(work))
