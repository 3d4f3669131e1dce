"""The aiohttp application factory: one straight list of what the server is made of."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib.metadata import version

from aiohttp import web

from streamd import court
from streamd.broker import broker_url
from streamd.config import Settings
from streamd.monitor.service import Monitor
from streamd.orchestrator import Orchestrator
from streamd.policy import load_rules
from streamd.store import Database, current_revision, head_revision
from streamd.web.api import build_api
from streamd.web.problems import ApiProblem, problem_middleware
from streamd.web.public import add_public_routes

DB_KEY = web.AppKey("db", Database)
SETTINGS_KEY = web.AppKey("settings", Settings)
OPENAPI_KEY = web.AppKey("openapi", str)
log = logging.getLogger(__name__)


@dataclass(slots=True)
class Slot:
    """The running orchestrator, once its broker connection exists (None before)."""

    current: Orchestrator | None = None


SLOT_KEY = web.AppKey("orchestrator", Slot)


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


async def _orchestrate(app: web.Application) -> AsyncIterator[None]:
    """Start the broker (embedded unless STREAMD_MQTT_URL is set) and the orchestrator
    with the server, and stop them with it."""
    settings, db, slot = app[SETTINGS_KEY], app[DB_KEY], app[SLOT_KEY]
    if not settings.court_config_dir.is_dir():
        log.warning("no %s: courtrooms are not orchestrated", settings.court_config_dir)
        yield
        return
    structure = court.read_structure(settings.court_config_dir)
    async with broker_url(settings.mqtt_url) as url:
        orch = Orchestrator(
            db=db,
            settings=settings,
            structure=structure,
            rules=load_rules(settings.policy_file),
            mqtt_url=url,
        )
        monitor = Monitor(
            work=orch.work,
            alerts=orch.alerts,
            feed=orch.feed,
            settings=settings,
            court_name=structure.court.name,
        )
        task = asyncio.create_task(orch.run(), name="orchestrator")
        watching: list[asyncio.Task[None]] = []

        async def expose() -> None:
            # The console reaches it only once it has recovered and subscribed; the monitor
            # starts then too, so its alerts join the ones the orchestrator recovered.
            await orch.started.wait()
            slot.current = orch
            watching.append(asyncio.create_task(monitor.run(), name="monitor"))
            log.info("orchestrator on %s", url)

        exposing = asyncio.create_task(expose())
        try:
            yield
        finally:
            slot.current = None
            exposing.cancel()
            for job in [*watching, task]:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            orch.close()


def create_app(*, settings: Settings, db: Database, orchestrate: bool = False) -> web.Application:
    """The server; with `orchestrate`, also the broker link to the courtroom agents."""
    app = web.Application(middlewares=[problem_middleware], client_max_size=1_000_000)
    app[SETTINGS_KEY] = settings
    app[DB_KEY] = db
    slot = app[SLOT_KEY] = Slot()
    if orchestrate:
        app.cleanup_ctx.append(_orchestrate)
    api = build_api(db=db, settings=settings, orchestrator=lambda: slot.current)
    api.install(app)
    doc = api.openapi(title="streamd API", version=version("streamd"))
    app[OPENAPI_KEY] = json.dumps(doc, ensure_ascii=False)
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    add_public_routes(app, db=db, settings=settings)
    return app
