"""The aiohttp application factory: one straight list of what the server is made of."""

from __future__ import annotations

import json
from importlib.metadata import version

from aiohttp import web

from streamd.config import Settings
from streamd.store import Database, current_revision, head_revision
from streamd.web.api import build_api
from streamd.web.problems import ApiProblem, problem_middleware
from streamd.web.public import add_public_routes

DB_KEY = web.AppKey("db", Database)
SETTINGS_KEY = web.AppKey("settings", Settings)
OPENAPI_KEY = web.AppKey("openapi", str)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database answers and its schema is current."""
    db = request.app[DB_KEY]
    try:
        revision = current_revision(db.engine)
    except Exception as exc:
        raise ApiProblem(503, "Not ready", f"database unreachable: {type(exc).__name__}") from None
    head = head_revision()
    if revision != head:
        raise ApiProblem(
            503, "Not ready", f"schema at {revision}, expected {head}: run `streamd db upgrade`"
        )
    return web.json_response({"status": "ready", "schema": revision})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(text=request.app[OPENAPI_KEY], content_type="application/json")


def create_app(*, settings: Settings, db: Database) -> web.Application:
    app = web.Application(middlewares=[problem_middleware], client_max_size=1_000_000)
    app[SETTINGS_KEY] = settings
    app[DB_KEY] = db
    api = build_api(db=db, settings=settings)
    api.install(app)
    doc = api.openapi(title="streamd API", version=version("streamd"))
    app[OPENAPI_KEY] = json.dumps(doc, ensure_ascii=False)
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    add_public_routes(app, db=db, settings=settings)
    return app
