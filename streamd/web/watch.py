"""`/public/watch/{id}`: one hearing for the public, its state and the player; and
`/public/watch/{id}.json`, the state the page polls. No login; 404 for anything the
announcements list would not show (streamd.watch)."""

from __future__ import annotations

from aiohttp import web
from sqlmodel import Session

from streamd import watch
from streamd.config import Settings
from streamd.policy import Ruleset
from streamd.store import Database
from streamd.web.routing import parse_id

# The page asks again this often: state changes (live, pause) show within it.
POLL_SECONDS = 3


def add_watch_routes(
    app: web.Application, *, db: Database, settings: Settings, rules: Ruleset
) -> None:
    from streamd.web.public import TEMPLATES, public_csp  # one environment for public pages

    async def load(request: web.Request) -> watch.WatchView:
        hearing_id = parse_id(request.match_info["hearing_id"])
        if hearing_id is None:
            raise web.HTTPNotFound()

        def work(session: Session) -> watch.WatchView | None:
            return watch.view(session=session, hearing_id=hearing_id, rules=rules)

        found = await db.run(work)
        if found is None:
            raise web.HTTPNotFound()
        return found

    async def page(request: web.Request) -> web.Response:
        lang = "en" if request.query.get("lang") == "en" else "zh"
        v = await load(request)
        html = TEMPLATES.get_template("watch.html").render(
            v=v,
            label=watch.LABELS[v.phase],
            start=v.start.astimezone(settings.zone),
            end=v.end.astimezone(settings.zone),
            lang=lang,
            poll=POLL_SECONDS,
            t=lambda zh, en: zh if lang == "zh" else en,
        )
        headers = {**_no_store(), "Content-Security-Policy": public_csp(v.media_origin)}
        return web.Response(text=html, content_type="text/html", headers=headers)

    async def state(request: web.Request) -> web.Response:
        v = await load(request)
        kind, url = v.play if v.play is not None else (None, None)
        return web.json_response(
            {
                "hearing_id": v.hearing_id,
                "phase": v.phase.value,
                "label_zh": watch.LABELS[v.phase][0],
                "label_en": watch.LABELS[v.phase][1],
                "play_kind": kind,
                "play_url": url,
            },
            headers=_no_store(),
        )

    app.router.add_get("/public/watch/{hearing_id}.json", state)
    app.router.add_get("/public/watch/{hearing_id}", page)


def _no_store() -> dict[str, str]:
    # The state changes within seconds (a pause must reach every viewer): never cached.
    return {"Cache-Control": "no-store"}
