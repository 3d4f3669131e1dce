"""The technicians' wall over HTTP: every agent, the alerts, and the live feed
(server-sent events) the wall and the console pages listen to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlmodel import Session

from streamd import authz
from streamd.domain import Role
from streamd.orchestrator import Message, Orchestrator, records
from streamd.scope import room_codes_of
from streamd.store import Database
from streamd.web.console_schemas import (
    AgentList,
    AgentOut,
    AlertList,
    AlertOut,
    AlertQuery,
    FeedQuery,
    _alert_out,
)
from streamd.web.problems import ApiProblem, not_found
from streamd.web.routing import Api, Call, Empty, dump

__all__ = [
    "HEARTBEAT_SECONDS",
    "court_rooms",
    "last_event_id",
    "ours",
    "register_operations",
    "running_of",
]

WATCH = frozenset(Role)
HEARTBEAT_SECONDS = 15.0
Act = authz.Act


def last_event_id(header: str) -> int | None:
    """The id a reconnecting browser sends back; anything that is not one of ours (they
    fit in 18 digits) starts the feed afresh rather than failing an open stream."""
    text = header.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        return None
    return int(text)


def court_rooms(session: Session, *, court_id: int | None) -> frozenset[str]:
    """The room codes of one court: what its staff see of the agents and the feed."""
    return frozenset(session.exec(room_codes_of(court_id)).all())


def ours(message: Message, rooms: frozenset[str]) -> bool:
    """Whether a feed message is for a wall showing `rooms`: one about one of them, an
    alert of the platform's own (no room: the archive's disk), or the feed's own notice.
    Anything else names a room, and one not in `rooms` is another court's (fail closed)."""
    data = message.data
    if message.type == "missed":
        return True
    if message.type == "alert_cleared":  # the key names the room: kind:room:hearing
        parts = str(data.get("key", "")).split(":")
        room: Any = parts[1] if len(parts) == 3 and parts[1] != "-" else None
    else:
        room = data.get("room")
    if room is None:
        return message.type in ("alert", "alert_cleared")
    return room in rooms


def running_of(orchestrator: Callable[[], Orchestrator | None]) -> Orchestrator:
    """The orchestrator of this process, or 503: a replica that does not run it says so."""
    orch = orchestrator()
    if orch is None:
        raise ApiProblem(503, "Service unavailable", "the orchestrator is not running")
    return orch


def register_operations(
    api: Api,
    *,
    db: Database,
    orchestrator: Callable[[], Orchestrator | None],
    heartbeat: float = HEARTBEAT_SECONDS,
) -> None:
    def running() -> Orchestrator:
        return running_of(orchestrator)

    @api.route(
        "GET",
        "/agents",
        summary="Every courtroom agent: online, phase, processes, telemetry",
        tag="operations",
        roles=WATCH,
        responses={200: AgentList},
        errors=(503,),
    )
    async def list_agents(call: Call) -> web.StreamResponse:
        orch = running()
        assert call.user is not None
        rooms = await db.run(court_rooms, court_id=call.user.court_id)
        items = [AgentOut(**a.public()) for r, a in sorted(orch.agents.items()) if r in rooms]
        return dump(AgentList(items=items))

    @api.route(
        "GET",
        "/alerts",
        summary="Alerts, newest first",
        tag="operations",
        roles=WATCH,
        query=AlertQuery,
        responses={200: AlertList},
    )
    async def list_alerts(call: Call) -> web.StreamResponse:
        assert call.user is not None
        rows = await db.run(
            records.list_alerts,
            open_only=call.query.open,
            limit=call.query.limit,
            court_id=call.user.court_id,
        )
        return dump(AlertList(items=[_alert_out(r) for r in rows]))

    @api.route(
        "POST",
        "/alerts/{alert_id}/acknowledge",
        summary="Acknowledge an alert (idempotent)",
        tag="operations",
        act=Act.OPERATE,
        body=Empty,
        responses={200: AlertOut},
    )
    async def acknowledge_alert(call: Call) -> web.StreamResponse:
        assert call.user is not None
        try:
            row = await db.run(
                records.acknowledge_alert,
                alert_id=call.params["alert_id"],
                user=call.user.username,
            )
        except LookupError:
            raise not_found("alert", call.params["alert_id"]) from None
        return dump(_alert_out(row))

    @api.route(
        "GET",
        "/feed",
        summary="Live feed (text/event-stream): stream states, alerts, events, telemetry, plan",
        tag="operations",
        roles=WATCH,
        query=FeedQuery,
        responses={200: None},
        errors=(503,),
    )
    async def feed(call: Call) -> web.StreamResponse:
        orch = running()
        assert call.user is not None
        rooms = await db.run(court_rooms, court_id=call.user.court_id)
        types = call.query.types.split(",") if call.query.types else None
        after = last_event_id(call.request.headers.get("Last-Event-ID", ""))
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(call.request)
        await response.write(b": streamd live feed\nretry: 2000\n\n")
        messages = orch.feed.listen(types, after=after, heartbeat=heartbeat)
        try:
            async for msg in messages:
                if msg is None:
                    await response.write(b": keep-alive\n\n")
                elif ours(msg, rooms):
                    await response.write(msg.sse())
        except ConnectionResetError:
            pass  # the page went away
        finally:
            await messages.aclose()  # type: ignore[attr-defined]
        return response
