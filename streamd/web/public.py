"""Public pages, no login: hearing announcements as a page, JSON and an iCalendar feed."""

from __future__ import annotations

import json
from datetime import datetime

import jinja2
from aiohttp import web
from sqlmodel import Session, col, select

from streamd import announcements
from streamd.config import Settings
from streamd.models import Court, utcnow
from streamd.store import Database

# The announcements page carries its own small <style>; everything else is the court's own.
PUBLIC_CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'self'"
)


def public_csp(media_origin: str | None = None) -> str:
    """The public pages' policy; a watch page whose line plays at a platform's HLS address
    also lets the player fetch (hls.js: connect-src) and play (media-src) from that one
    origin, and from nowhere else."""
    if media_origin is None:
        return PUBLIC_CSP
    return (
        "default-src 'self'; img-src 'self' data:; "
        f"media-src 'self' blob: {media_origin}; connect-src 'self' {media_origin}; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'self'"
    )


TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("streamd.web", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


def add_public_routes(app: web.Application, *, db: Database, settings: Settings) -> None:
    mask = announcements.PartyMask(settings.announce_party_mask)

    def load(
        session: Session, code: str | None
    ) -> tuple[str, list[announcements.Announcement], datetime]:
        """One court's announcements (`code`), or every court's; an unknown court: 404."""
        courts = list(session.exec(select(Court).order_by(col(Court.code))))
        if code is not None:
            courts = [c for c in courts if c.code == code]
            if not courts:
                raise web.HTTPNotFound(text="no such court")
        now = utcnow()
        items = announcements.upcoming(
            session=session,
            now=now,
            days=settings.announce_horizon_days,
            zone=settings.zone,
            mask=mask,
            watch_url=settings.watch_url_template,
            court_id=courts[0].id if code is not None else None,
        )
        name = courts[0].name if len(courts) == 1 else ("辖区各法院" if courts else "streamd")
        return name, items, now

    def court_of(request: web.Request) -> str | None:
        return request.match_info.get("court")

    async def page(request: web.Request) -> web.Response:
        lang = "en" if request.query.get("lang") == "en" else "zh"
        court, items, _ = await db.run(load, code=court_of(request))
        html = TEMPLATES.get_template("announcements.html").render(
            court=court, items=items, lang=lang, t=lambda zh, en: zh if lang == "zh" else en
        )
        return web.Response(text=html, content_type="text/html", headers=_cache())

    async def as_json(request: web.Request) -> web.Response:
        _, items, _ = await db.run(load, code=court_of(request))
        return web.json_response(
            {"items": announcements.to_json(items)}, headers=_cache(), dumps=_dumps
        )

    async def as_ics(request: web.Request) -> web.Response:
        court, items, now = await db.run(load, code=court_of(request))
        return web.Response(
            body=announcements.to_ics(items, court=court, now=now),
            content_type="text/calendar",
            charset="utf-8",
            headers=_cache(),
        )

    app.router.add_get("/public/announcements", page)
    app.router.add_get("/public/announcements.json", as_json)
    app.router.add_get("/public/announcements.ics", as_ics)
    # Each court's own, on the two-level platform (the court's code, e.g. 粤0111).
    app.router.add_get("/public/{court}/announcements", page)
    app.router.add_get("/public/{court}/announcements.json", as_json)
    app.router.add_get("/public/{court}/announcements.ics", as_ics)


def _cache() -> dict[str, str]:
    return {"Cache-Control": "public, max-age=60"}


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)
