"""The web pages: server-rendered (Jinja2) for clerks, approvers, technicians and admins.

Every page is HTML from the server, in Chinese first (`?lang=en` switches and remembers).
What a page shows is read here, from the same functions the JSON API uses; what a page
does goes through the JSON API itself (`static/app.js` sends each form as JSON with the
session's CSRF token), so there is one implementation of every action and its checks.
Live pages re-render their marked parts (`?part=NAME`) when the feed says something
changed. Every asset is served from here: nothing leaves the court's network.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from sqlmodel import Session, col, select

from streamd import approvals, authz, bookings, hearings, outages, reports
from streamd import auth as auth_core
from streamd.archive import ledger as archive_ledger
from streamd.config import Settings
from streamd.domain import LineStatus, Role
from streamd.lifecycle import StreamState
from streamd.models import Alert, Booking, Courtroom, Department, Hearing, Line, Stream, utcnow
from streamd.monitor import records as monitor_records
from streamd.orchestrator import records
from streamd.orchestrator.service import Orchestrator
from streamd.policy import Ruleset
from streamd.store import Database
from streamd.validation import MAX_YEAR, MIN_YEAR, check_year
from streamd.web import record_page
from streamd.web.party import register_party
from streamd.web.routing import parse_id

SESSION_COOKIE = "streamd_session"
LANG_COOKIE = "streamd_lang"
STATIC = Path(__file__).parent / "static"
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("streamd.web", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)
HOME = {
    Role.CLERK: "/clerk",
    Role.JUDGE: "/clerk",
    Role.DEPARTMENT_HEAD: "/approvals",
    Role.COURT_LEADER: "/approvals",
    Role.TECHNICIAN: "/wall",
    Role.ADMIN: "/admin",
}
NAV = (
    ("/clerk", "今日庭审", "Today's hearings", frozenset({Role.CLERK, Role.JUDGE, Role.ADMIN})),
    (
        "/approvals",
        "审批",
        "Approvals",
        frozenset({Role.DEPARTMENT_HEAD, Role.COURT_LEADER, Role.ADMIN}),
    ),
    ("/wall", "设备监看", "Courtroom wall", frozenset({Role.TECHNICIAN, Role.ADMIN})),
    ("/admin", "统计", "Statistics", frozenset({Role.ADMIN, Role.COURT_LEADER})),
)
STATE_ZH = {
    "booked": "已预约",
    "preparing": "准备中",
    "ready": "就绪（录制中）",
    "live": "直播中",
    "paused": "已暂停",
    "off_air": "停止直播（录制中）",
    "ended": "已闭庭",
    "aborted": "已中止",
}


@dataclass(frozen=True, slots=True)
class Viewer:
    username: str
    display_name: str
    roles: frozenset[Role]
    department: str | None
    csrf: str

    def may(self, roles: Iterable[Role]) -> bool:
        return bool(self.roles & set(roles))


Load = Callable[[web.Request, Viewer], Awaitable[dict[str, Any]]]


def add_pages(
    app: web.Application,
    *,
    db: Database,
    settings: Settings,
    rules: Callable[[], Ruleset],
    orchestrator: Callable[[], Orchestrator | None],
) -> None:
    zone = settings.zone

    def lang_of(request: web.Request) -> str:
        asked = request.query.get("lang")
        if asked in ("zh", "en"):
            return asked
        return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"

    def render(
        request: web.Request, template: str, ctx: dict[str, Any], status: int = 200
    ) -> web.Response:
        lang = lang_of(request)

        def t(zh: str, en: str) -> str:
            return zh if lang == "zh" else en

        def state_name(state: str) -> str:
            return t(STATE_ZH.get(state, state), state.replace("_", " "))

        def local(moment: datetime | None, fmt: str = "%H:%M") -> str:
            return moment.astimezone(zone).strftime(fmt) if moment else "—"

        full = {
            "lang": lang,
            "t": t,
            "path": request.path,
            "state_name": state_name,
            "local": local,
            **ctx,
        }
        tpl = TEMPLATES.get_template(template)
        part = request.query.get("part")
        if part is not None:
            if part not in tpl.blocks:
                raise web.HTTPNotFound()
            body = "".join(tpl.blocks[part](tpl.new_context(full)))
        else:
            body = tpl.render(full)
        response = web.Response(text=body, content_type="text/html", status=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
            "worker-src 'self' blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.query.get("lang") in ("zh", "en"):
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Strict", path="/")
        return response

    async def viewer(request: web.Request) -> Viewer | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None

        def work(session: Session) -> Viewer | None:
            try:
                user, row = auth_core.resolve_token(session=session, token=token, kind="session")
            except auth_core.AuthError:
                return None
            dept = session.get(Department, user.department_id) if user.department_id else None
            return Viewer(
                user.username,
                user.display_name or user.username,
                frozenset(Role(r) for r in user.roles),
                dept.code if dept else None,
                row.csrf_token or "",
            )

        return await db.run(work)

    def page(template: str, roles: frozenset[Role], load: Load) -> Callable[..., Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            who = await viewer(request)
            if who is None:
                raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs)}")
            nav = [(href, zh, en) for href, zh, en, r in NAV if who.may(r)]
            if not who.may(roles):
                return render(request, "denied.html", {"who": who, "nav": nav}, status=403)
            try:
                ctx = await load(request, who)
            except authz.Denied:  # the role may, but not for this object (its department)
                return render(request, "denied.html", {"who": who, "nav": nav}, status=403)
            return render(request, template, {"who": who, "nav": nav, **ctx})

        return handler

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
            found, _ = hearings.list_hearings(session=session, query=query, zone=zone)
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
            if h is None:
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
        def work(session: Session) -> list[approvals.ApprovalOut]:
            from streamd.models import User

            user = session.exec(select(User).where(User.username == who.username)).one()
            rows = approvals.queue(session=session, user=user)
            return [approvals.to_public(session=session, row=r) for r in rows]

        return {"queue": await db.run(work)}

    # ---- technician --------------------------------------------------------------------

    async def wall(request: web.Request, who: Viewer) -> dict[str, Any]:
        orch = orchestrator()

        def work(session: Session) -> dict[str, Any]:
            rooms = list(session.exec(select(Courtroom).order_by(col(Courtroom.code))))
            alerts = list(
                session.exec(
                    select(Alert)
                    .where(col(Alert.cleared_at).is_(None))
                    .order_by(col(Alert.raised_at).desc())
                    .limit(100)
                )
            )
            live = {
                s.room: s
                for s in session.exec(
                    select(Stream).where(
                        col(Stream.state).in_(
                            [
                                StreamState.LIVE.value,
                                StreamState.PAUSED.value,
                                StreamState.READY.value,
                            ]
                        )
                    )
                )
            }
            now = utcnow()
            lines = list(
                session.exec(select(Line).where(Line.active == True).order_by(col(Line.code)))  # noqa: E712
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

    # ---- administrator -----------------------------------------------------------------

    async def admin(request: web.Request, who: Viewer) -> dict[str, Any]:
        month = _month(request, zone)

        def work(session: Session) -> dict[str, Any]:
            report = reports.monthly(
                session=session, month=month, department=None, zone=zone, rules=rules()
            )
            tables = {t.sheet: t for t in report.tables}
            use = utilisation(session, month, zone)
            verdicts = coverage_rows(session, month, zone, settings.monitor_allowance_seconds)
            curve = what_if(session, month, zone, rules())
            return {"tables": tables, "use": use, "verdicts": verdicts, "curve": curve}

        data = await db.run(work)
        t = data["tables"]
        ratio = t[reports.RATIO]
        year = t[reports.YEAR]
        breakdown = {
            "approved": len(t[reports.NOT_STREAMED].rows),
            "pending": len(t[reports.PENDING].rows),
            "no_line": len(t[reports.NO_LINE].rows),
        }
        return {
            "month": month,
            "ratio_rows": ratio.rows,
            "ratio_chart": bar_chart(
                [(str(r[0]), float(r[4] or 0.0), float(r[5] or 0.0)) for r in ratio.rows]
            ),
            "year_rows": year.rows,
            "year_chart": pair_chart(
                [(str(r[0]), int(r[1] or 0), int(r[2] or 0)) for r in year.rows]
            ),
            "breakdown": breakdown,
            "use": data["use"],
            "use_chart": bar_chart([(d, u, 0.0) for d, u in data["use"]["days"]]),
            "verdicts": data["verdicts"],
            "curve": data["curve"],
            "curve_chart": line_chart(data["curve"]),
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
        "/admin", page("admin.html", frozenset({Role.ADMIN, Role.COURT_LEADER}), admin)
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


# ---- figures for the administrator -----------------------------------------------------


def utilisation(session: Session, month: date, zone: Any) -> dict[str, Any]:
    """Share of the court's line-hours (08:30-17:30, working days) carrying a stream."""
    start, end = reports.month_bounds(month, zone)
    lines = len(list(session.exec(select(Line).where(Line.active == True))))  # noqa: E712
    streams = session.exec(
        select(Stream).where(
            col(Stream.discipline_at).is_not(None),
            col(Stream.discipline_at) >= start,
            col(Stream.discipline_at) < end,
            col(Stream.line_id).is_not(None),
        )
    ).all()
    used: dict[date, float] = {}
    now = datetime.now(UTC)
    for s in streams:
        assert s.discipline_at is not None
        until = s.adjourned_at or (s.state_at if s.state in ("ended", "aborted") else now)
        day = s.discipline_at.astimezone(zone).date()
        used[day] = used.get(day, 0.0) + max(0.0, (until - s.discipline_at).total_seconds())
    capacity = max(1, lines) * 9 * 3600
    days = []
    d = start.date()
    while d < end.date():
        if d.weekday() < 5:
            days.append((d.strftime("%m-%d"), round(used.get(d, 0.0) / capacity, 4)))
        d += timedelta(days=1)
    weeks: dict[str, list[float]] = {}
    for label, share in days:
        week = datetime.strptime(f"{month.year}-{label}", "%Y-%m-%d").strftime("%G-W%V")
        weeks.setdefault(week, []).append(share)
    return {
        "lines": lines,
        "days": days,
        "weeks": [(w, round(sum(v) / len(v), 4)) for w, v in weeks.items()],
    }


def coverage_rows(
    session: Session, month: date, zone: Any, allowance: float
) -> list[dict[str, Any]]:
    start, end = reports.month_bounds(month, zone)
    rows = session.exec(
        select(Stream, Hearing)
        .join(Hearing, col(Hearing.id) == col(Stream.hearing_id))
        .where(
            col(Stream.discipline_at).is_not(None),
            col(Hearing.planned_start) >= start,
            col(Hearing.planned_start) < end,
        )
        .order_by(col(Hearing.planned_start).desc())
        .limit(200)
    ).all()
    out = []
    now = datetime.now(UTC)
    for stream, h in rows:
        assert h.id is not None
        data = monitor_records.hearing_coverage(
            session=session, hearing_id=h.id, now=now, allowance_seconds=allowance
        )
        if data is not None:
            out.append({"h": h, "room": stream.room, "cov": data})
    return out


def what_if(session: Session, month: date, zone: Any, rules: Ruleset) -> list[tuple[int, int, int]]:
    """(lines, hearings streamed, demand) for 1..N lines over the month's bookings."""
    from streamd.allocation import Hearing as Slot
    from streamd.allocation.capacity import capacity_curve

    start, end = reports.month_bounds(month, zone)
    rows = session.exec(
        select(Booking, Hearing)
        .join(Hearing, col(Hearing.id) == col(Booking.hearing_id))
        .where(
            col(Hearing.planned_start) >= start,
            col(Hearing.planned_start) < end,
            Booking.status != "cancelled",
        )
    ).all()
    slots = [
        Slot(
            id=str(h.id),
            start=int(h.planned_start.timestamp()),
            end=int(h.planned_end.timestamp()),
            priority=1,
            eligible=b.line_status != LineStatus.EXCLUDED,
        )
        for b, h in rows
    ]
    lines = len(list(session.exec(select(Line))))
    if not slots:
        return []
    demand = sum(1 for s in slots if s.eligible)
    return [(p.lines, p.count, demand) for p in capacity_curve(slots, max(lines + 4, 4))]


# ---- small SVG charts (no chart library to ship or trust) ------------------------------


def sparkline(values: Sequence[float], width: int = 160, height: int = 32) -> dict[str, Any]:
    if not values:
        return {"points": "", "last": None, "width": width, "height": height}
    top = max(values) or 1.0
    step = width / max(1, len(values) - 1)
    pts = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    return {"points": pts, "last": values[-1], "width": width, "height": height}


def bar_chart(rows: Sequence[tuple[str, float, float]], width: int = 640) -> dict[str, Any]:
    """Bars of a share (0..1) with an optional target tick per row."""
    bar_h, gap, label_w = 18, 8, 150
    items = []
    for i, (label, value, target) in enumerate(rows):
        y = i * (bar_h + gap)
        items.append(
            {
                "label": label,
                "y": y,
                "w": round(max(0.0, min(1.0, value)) * (width - label_w - 60), 1),
                "target_x": round(label_w + min(1.0, target) * (width - label_w - 60), 1)
                if target
                else None,
                "value": value,
                "met": target == 0 or value >= target,
            }
        )
    return {
        "bars": items,
        "width": width,
        "height": max(1, len(rows)) * (bar_h + gap),
        "bar_h": bar_h,
        "label_w": label_w,
    }


def pair_chart(rows: Sequence[tuple[str, int, int]], height: int = 160) -> dict[str, Any]:
    """Last year against this year, month by month."""
    top = max([1] + [max(a, b) for _, a, b in rows])
    col_w = 44
    items = []
    for i, (label, last, this) in enumerate(rows):
        x = i * col_w
        items.append(
            {
                "label": label,
                "x": x,
                "last_h": round(last / top * (height - 20), 1),
                "this_h": round(this / top * (height - 20), 1),
                "last": last,
                "this": this,
            }
        )
    return {"bars": items, "width": max(1, len(rows)) * col_w, "height": height}


def line_chart(
    points: Sequence[tuple[int, int, int]], width: int = 480, height: int = 180
) -> dict[str, Any]:
    if not points:
        return {"path": "", "dots": [], "width": width, "height": height, "demand_y": None}
    top = max(1, max(p[2] for p in points))
    n = len(points)

    def xy(k: int, v: int) -> tuple[float, float]:
        return (30 + (k - 1) * (width - 40) / max(1, n - 1), height - 20 - v / top * (height - 40))

    dots = [
        {"x": round(xy(k, v)[0], 1), "y": round(xy(k, v)[1], 1), "k": k, "v": v}
        for k, v, _ in points
    ]
    path = "M" + " L".join(f"{d['x']},{d['y']}" for d in dots)
    return {
        "path": path,
        "dots": dots,
        "width": width,
        "height": height,
        "demand_y": round(height - 20 - (height - 40), 1),
        "demand": top,
        "ceil": math.ceil,
    }
