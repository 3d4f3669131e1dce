"""`/record/{hearing_id}`: the record review page (三同步 playback beside the transcript).

The page is rendered from the same view as `GET /api/v1/hearings/{id}/record`, so the
transcript lines are in the HTML the moment it arrives (a 3-hour hearing's lines need no
second request); the player loads the VOD playlist through hls.js (static/record.js).
Who may open it is decided by streamd.authz, exactly as for the API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlmodel import Session

from streamd import authz
from streamd.config import Settings
from streamd.models import Courtroom, Hearing
from streamd.record import access, service
from streamd.store import Database

ROLES = authz.roles_for(authz.Act.RECORD_VIEW)
REASONS_ZH = {"recorder restarted": "录制程序重启", "restart": "录制重启"}


def clock_in(zone: ZoneInfo) -> Callable[[str | None], str]:
    """The record's times as the court's wall clock: the record stores UTC, the clerk and
    the party read 开庭 09:00 as the court's 09:00."""

    def clock(iso: str | None) -> str:
        return datetime.fromisoformat(iso).astimezone(zone).strftime("%H:%M:%S") if iso else "—"

    return clock


def loader(
    db: Database, settings: Settings
) -> Callable[[web.Request, Any], Awaitable[dict[str, Any]]]:
    async def load(request: web.Request, who: Any) -> dict[str, Any]:
        raw = request.match_info["hearing_id"]
        hearing_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else 0

        def work(session: Session) -> dict[str, Any]:
            hearing = session.get(Hearing, hearing_id) if hearing_id else None
            if hearing is None or authz.hidden(
                session, court_id=who.court_id, hearing_id=hearing_id
            ):
                raise web.HTTPNotFound()
            actor = who.actor()
            decision = authz.decide(
                authz.Act.RECORD_VIEW, actor, authz.Target(frozenset({hearing.department_id}))
            )
            if not decision.allowed:
                raise authz.Denied(decision)
            may_correct = authz.decide(
                authz.Act.RECORD_CORRECT, actor, authz.Target(frozenset({hearing.department_id}))
            ).allowed
            record = service.load(session=session, hearing_id=hearing_id, root=settings.archive_dir)
            assert record is not None
            access.log(
                session, kind=access.AccessKind.VIEW, hearing_id=hearing_id,
                username=who.username, remote=request.remote or "?",
                user_agent=request.headers.get("User-Agent", ""),
            )  # fmt: skip
            return {
                "h": hearing,
                "room": session.get(Courtroom, hearing.courtroom_id),
                "rec": service.view(record),
                "src_base": f"/api/v1/hearings/{hearing_id}/record",
                "party": None,
                "access_log": access.access_log(session, hearing_id=hearing_id),
                "may_correct": may_correct,
            }

        data = await db.run(work)
        return {**data, "clock": clock_in(settings.zone), "reasons_zh": REASONS_ZH}

    return load
