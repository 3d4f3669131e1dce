"""The web pages: server-rendered (Jinja2) for clerks, approvers, technicians and admins.

Every page is HTML from the server, in Chinese first (`?lang=en` switches and remembers).
What a page shows is read here, from the same functions the JSON API uses; what a page
does goes through the JSON API itself (`static/app.js` sends each form as JSON with the
session's CSRF token), so there is one implementation of every action and its checks.
Live pages re-render their marked parts (`?part=NAME`) when the feed says something
changed. Every asset is served from here: nothing leaves the court's network.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlmodel import Session, col, select

from streamd import approval_view, approvals, authz, bookings, hearings, outages, reports
from streamd.archive import ledger as archive_ledger
from streamd.config import Settings
from streamd.domain import Role
from streamd.lifecycle import StreamState
from streamd.models import Courtroom, Hearing, Line, Stream, utcnow
from streamd.orchestrator import Orchestrator, records
from streamd.policy import Ruleset
from streamd.store import Database
from streamd.validation import MAX_YEAR, MIN_YEAR, check_year
from streamd.web import admin_page, city_page, record_page
from streamd.web.figures import (
    sparkline,
)
from streamd.web.pagekit import HOME, STATIC, PageKit, Viewer
from streamd.web.party import register_party
from streamd.web.routing import parse_id


def add_pages(
    app: web.Application,
    *,
    db: Database,
    settings: Settings,
    rules: Callable[[], Ruleset],
    orchestrator: Callable[[], Orchestrator | None],
) -> None:
    zone = settings.zone

    kit = PageKit(db=db, zone=zone)
    render, viewer, page = kit.render, kit.viewer, kit.page

    # ---- login -------------------------------------------------------------------------

    async def login(request: web.Request) -> web.StreamResponse:
        nxt = request.query.get("next", "")
        if not local_path(nxt):
            nxt = ""  # never an open redirect
        return render(request, "login.html", {"next": nxt, "who": None, "nav": []})

    async def home(request: web.Request) -> web.StreamResponse:
        who = await viewer(request)
        if who is None:
            raise web.HTTPSeeOther("/login")
        for role in Role:
            if role in who.roles:
                raise web.HTTPSeeOther(HOME[role])
        raise web.HTTPSeeOther("/login")

    # ---- clerk -------------------------------------------------------------------------

    async def clerk(request: web.Request, who: Viewer) -> dict[str, Any]:
        day = _day(request, zone)

        def work(session: Session) -> list[dict[str, Any]]:
            query = hearings.HearingQuery(on=day, department=who.department, limit=500)
            found, _ = hearings.list_hearings(
                session=session, query=query, zone=zone, court_id=who.court_id
            )
            rows = []
            for h in found:
                assert h.id is not None
                booking = bookings.active(session, h.id)
                stream = records.stream_row(session=session, hearing_id=h.id)
                decided = approvals.decision(session, h, rules())
                room = session.get(Courtroom, h.courtroom_id)
                line = session.get(Line, booking.line_id) if booking and booking.line_id else None
                rows.append(
                    {
                        "h": h,
                        "room": room.name if room else "",
                        "booking": booking,
                        "line": line.code if line else None,
                        "stream": stream,
                        "decision": decided,
                        "late": h.planned_start - utcnow() < timedelta(days=settings.announce_days),
                    }
                )
            return rows

        return {"day": day, "rows": await db.run(work)}

    async def console(request: web.Request, who: Viewer) -> dict[str, Any]:
        hearing_id = _int(request.match_info["hearing_id"])

        def work(session: Session) -> dict[str, Any]:
            h = session.get(Hearing, hearing_id)
            if h is None or authz.hidden(session, court_id=who.court_id, hearing_id=hearing_id):
                raise web.HTTPNotFound()
            stream = records.stream_row(session=session, hearing_id=hearing_id)
            history = (
                records.history(session=session, stream_id=stream.id)
                if stream is not None and stream.id is not None
                else {"transitions": [], "commands": []}
            )
            booking = bookings.active(session, hearing_id)
            line = session.get(Line, booking.line_id) if booking and booking.line_id else None
            room = session.get(Courtroom, h.courtroom_id)
            return {
                "h": h,
                "room": room,
                "stream": stream,
                "transitions": history["transitions"][-12:],
                "booking": booking,
                "line": line.code if line else None,
                "decision": approvals.decision(session, h, rules()),
                "flags": rules().flags,
                "archive": archive_ledger.status(session=session, hearing_id=hearing_id),
                "integrity": archive_ledger.latest_integrity(
                    session=session, hearing_id=hearing_id
                ),
            }

        data = await db.run(work)
        orch = orchestrator()
        agent = orch.agents.get(data["room"].code) if orch and data["room"] else None
        state = data["stream"].state if data["stream"] else None
        return {
            **data,
            "agent": agent.public() if agent else None,
            "state": state,
            "can": _console_actions(state),
        }

    # ---- approvers ---------------------------------------------------------------------

    async def approvals_page(request: web.Request, who: Viewer) -> dict[str, Any]:
        def work(session: Session) -> list[approval_view.ApprovalOut]:
            from streamd.models import User

            user = session.exec(select(User).where(User.username == who.username)).one()
            rows = approvals.queue(session=session, user=user)
            return [approval_view.to_public(session=session, row=r) for r in rows]

        return {"queue": await db.run(work)}

    # ---- technician --------------------------------------------------------------------

    async def wall(request: web.Request, who: Viewer) -> dict[str, Any]:
        orch = orchestrator()

        def work(session: Session) -> dict[str, Any]:
            # The wall shows the technician's own court: its rooms, alerts, streams, lines.
            rooms = list(
                session.exec(
                    select(Courtroom)
                    .where(Courtroom.court_id == who.court_id)
                    .order_by(col(Courtroom.code))
                )
            )
            codes = {r.code for r in rooms}
            alerts = records.list_alerts(session, open_only=True, limit=100, court_id=who.court_id)
            live = {
                s.room: s
                for s in session.exec(
                    select(Stream).where(
                        col(Stream.room).in_(codes),
                        col(Stream.state).in_(
                            [
                                StreamState.LIVE.value,
                                StreamState.PAUSED.value,
                                StreamState.READY.value,
                            ]
                        ),
                    )
                )
            }
            now = utcnow()
            lines = list(
                session.exec(
                    select(Line)
                    .where(Line.active == True, Line.court_id == who.court_id)  # noqa: E712
                    .order_by(col(Line.code))
                )
            )
            down = outages.overlapping(
                session, [ln.id for ln in lines if ln.id is not None], now, now + timedelta(days=7)
            )
            line_rows = [
                {
                    "line": ln,
                    "outages": sorted(down.get(ln.id or 0, []), key=lambda o: o.start),
                    "down": any(o.start <= now for o in down.get(ln.id or 0, [])),
                    "on_air": next(
                        (
                            st
                            for st in live.values()
                            if st.line_id == ln.id and st.state in ("live", "paused")
                        ),
                        None,
                    ),
                }
                for ln in lines
            ]
            archive = archive_ledger.by_room(session=session)
            return {
                "rooms": rooms,
                "alerts": alerts,
                "streams": live,
                "lines": line_rows,
                "archive": archive,
            }

        data = await db.run(work)
        cards = []
        for room in data["rooms"]:
            agent = orch.agents.get(room.code) if orch else None
            history = list(agent.history) if agent else []
            cards.append(
                {
                    "room": room,
                    "agent": agent.public() if agent else None,
                    "stream": data["streams"].get(room.code),
                    "fps": sparkline([t.publisher.fps or 0.0 for t in history]),
                    "kbps": sparkline([t.publisher.bitrate_kbps or 0.0 for t in history]),
                    "rec_fps": sparkline([t.recorder.fps or 0.0 for t in history]),
                    "archive": data["archive"].get(room.code),
                    "hls": f"/hls/{room.code}/index.m3u8"
                    if "://" not in settings.monitor_hls
                    else None,
                }
            )
        return {
            "cards": cards,
            "alerts": data["alerts"],
            "lines": data["lines"],
            "now": utcnow(),
            "connected": orch is not None,
        }

    app.router.add_get("/", home)
    app.router.add_get("/login", login)
    app.router.add_get(
        "/clerk", page("clerk.html", frozenset({Role.CLERK, Role.JUDGE, Role.ADMIN}), clerk)
    )
    app.router.add_get(
        "/console/{hearing_id:\\d+}",
        page(
            "console.html",
            frozenset({Role.CLERK, Role.JUDGE, Role.TECHNICIAN, Role.ADMIN}),
            console,
        ),
    )
    register_party(app, db=db, settings=settings, render=render)
    app.router.add_get(
        "/record/{hearing_id:\\d+}",
        page("record.html", record_page.ROLES, record_page.loader(db, settings)),
    )
    app.router.add_get(
        "/approvals",
        page(
            "approvals.html",
            frozenset({Role.DEPARTMENT_HEAD, Role.COURT_LEADER, Role.ADMIN}),
            approvals_page,
        ),
    )
    app.router.add_get("/wall", page("wall.html", frozenset({Role.TECHNICIAN, Role.ADMIN}), wall))
    app.router.add_get(
        "/admin",
        page(
            "admin.html",
            admin_page.ROLES,
            admin_page.loader(db, settings, rules, lambda request: _month(request, zone)),
        ),
    )
    app.router.add_get(
        "/city",
        page(
            "city.html",
            city_page.ROLES,
            city_page.loader(db, settings, rules, lambda request: _month(request, zone)),
        ),
    )
    app.router.add_static("/static/", STATIC, append_version=True)


def local_path(target: str) -> bool:
    """A path on this server, and nothing a browser could read as another host: browsers
    treat `\\` as `/` and drop tabs and newlines, so `/\\evil.com` and `/<TAB>/evil.com`
    both mean `//evil.com`. Printable ASCII only, no backslash, not `//`."""
    return (
        target.startswith("/")
        and not target.startswith("//")
        and all(0x21 <= ord(c) < 0x7F and c != "\\" for c in target)
    )


def _console_actions(state: str | None) -> set[str]:
    """The buttons that do something in this state (the others are shown disabled)."""
    s = state or ""
    can = set()
    if s == "ready":
        can.add("discipline-announced")
    if s == "live":
        can |= {"pause", "end-stream"}
    if s == "paused":
        can |= {"resume", "end-stream"}
    if s in ("ready", "live", "paused", "off_air", "preparing"):
        can |= {"adjourned", "transcript"}
    if s == "booked":
        can.add("prepare")
    return can


def _int(text: str) -> int:
    value = parse_id(text)
    if value is None:
        raise web.HTTPNotFound()
    return value


def _day(request: web.Request, zone: Any) -> date:
    asked = request.query.get("day")
    if asked:
        try:
            day = date.fromisoformat(asked)
        except ValueError:
            return datetime.now(zone).date()
        try:
            check_year(day)
        except ValueError as exc:
            raise web.HTTPUnprocessableEntity(text=f"day: {exc}") from None
        return day
    return datetime.now(zone).date()


def _month(request: web.Request, zone: Any) -> date:
    asked = request.query.get("month", "")
    if re.fullmatch(r"\d{4}-\d{2}", asked) and not MIN_YEAR <= int(asked[:4]) <= MAX_YEAR:
        raise web.HTTPUnprocessableEntity(text=f"month {asked}: outside {MIN_YEAR}–{MAX_YEAR}")
    try:
        return reports.parse_month(asked)
    except reports.ReportError:
        today = datetime.now(zone).date()
        return today.replace(day=1)
