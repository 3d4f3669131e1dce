"""What every page shares: who is looking (the session cookie), the language (Chinese first,
`?lang=en` switches and remembers), rendering a template or one marked part of it with the
court's clock, and the guard that sends a stranger to log in and refuses a role that may
not see the page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from sqlmodel import Session

from streamd import auth as auth_core
from streamd import authz
from streamd.domain import Role
from streamd.models import Department
from streamd.store import Database

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
    Role.CITY_OFFICE: "/city",
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
    ("/city", "辖区汇总", "Courts compared", frozenset({Role.CITY_OFFICE})),
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
    court_id: int | None = None  # what the pages show is this court's only
    department_id: int | None = None

    def may(self, roles: Iterable[Role]) -> bool:
        return bool(self.roles & set(roles))

    def actor(self) -> authz.Actor:
        """Who asks, as the one authorisation decision takes it."""
        return authz.Actor(self.username, self.roles, self.department_id, self.court_id)


Load = Callable[[web.Request, Viewer], Awaitable[dict[str, Any]]]


class PageKit:
    def __init__(self, *, db: Database, zone: Any) -> None:
        self.db = db
        self.zone = zone

    def lang_of(self, request: web.Request) -> str:
        asked = request.query.get("lang")
        if asked in ("zh", "en"):
            return asked
        return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"

    def render(
        self, request: web.Request, template: str, ctx: dict[str, Any], status: int = 200
    ) -> web.Response:
        lang = self.lang_of(request)

        def t(zh: str, en: str) -> str:
            return zh if lang == "zh" else en

        def state_name(state: str) -> str:
            return t(STATE_ZH.get(state, state), state.replace("_", " "))

        def local(moment: datetime | None, fmt: str = "%H:%M") -> str:
            return moment.astimezone(self.zone).strftime(fmt) if moment else "—"

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

    async def viewer(self, request: web.Request) -> Viewer | None:
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
                user.court_id,
                user.department_id,
            )

        return await self.db.run(work)

    def page(self, template: str, roles: frozenset[Role], load: Load) -> Callable[..., Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            who = await self.viewer(request)
            if who is None:
                raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs)}")
            nav = [(href, zh, en) for href, zh, en, r in NAV if who.may(r)]
            if not who.may(roles):
                return self.render(request, "denied.html", {"who": who, "nav": nav}, status=403)
            try:
                ctx = await load(request, who)
            except authz.Denied:  # the role may, but not for this object (its department)
                return self.render(request, "denied.html", {"who": who, "nav": nav}, status=403)
            return self.render(request, template, {"who": who, "nav": nav, **ctx})

        return handler
