"""The aiohttp application factory: one straight list of what the server is made of."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from streamd import court
from streamd.broker import broker_url, court_accounts
from streamd.config import Settings
from streamd.metrics import registry_for
from streamd.monitor import follower as monitor_follower
from streamd.monitor import service as monitor_service
from streamd.monitor import share as monitor_share
from streamd.orchestrator import Intake, Leadership, Orchestrator, court_secret, pending
from streamd.policy import load_rules
from streamd.store import Database, current_revision, head_revision
from streamd.web.api import build_api
from streamd.web.archive_api import add_archive_routes
from streamd.web.hls import add_hls_routes
from streamd.web.pages import add_pages
from streamd.web.problems import ApiProblem, problem_middleware
from streamd.web.public import PUBLIC_CSP, add_public_routes
from streamd.web.relay import relay_middleware
from streamd.web.replica import ReplicaCollector, app_leadership
from streamd.web.watch import add_watch_routes

DB_KEY = web.AppKey("db", Database)
SETTINGS_KEY = web.AppKey("settings", Settings)
OPENAPI_KEY = web.AppKey("openapi", str)
log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class Slot:
    """The running orchestrator, once its broker connection exists (None before)."""

    current: Orchestrator | None = None


SLOT_KEY = web.AppKey("orchestrator", Slot)


@dataclass(slots=True)
class MonitorSlot:
    current: monitor_service.Monitor | None = None


MONITOR_KEY = web.AppKey("monitor", MonitorSlot)
LEADERSHIP_KEY = web.AppKey("leadership", Leadership)


@dataclass(slots=True)
class RelaySlot:
    """The HTTP client that passes console requests to the leader (None when stopped)."""

    current: aiohttp.ClientSession | None = None


RELAY_KEY = web.AppKey("relay", RelaySlot)
REPLICA_KEY = web.AppKey("replica", ReplicaCollector)
METRICS_KEY = web.AppKey("metrics", CollectorRegistry)
HTTP_LATENCY_KEY = web.AppKey("http_latency", Histogram)
# The classic text format: what Debian's Prometheus 2.x and promtool read. (The client's
# newest default announces version 1.0.0, which those do not know.)
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@web.middleware
async def latency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request's latency by route pattern (never the raw path: ids are unbounded)."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = request.match_info.route.resource
        pattern = route.canonical if route is not None else "unmatched"
        request.app[HTTP_LATENCY_KEY].labels(request.method, pattern, str(status)).observe(
            time.perf_counter() - started
        )


API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"


def security_headers(secure: bool) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """Headers every response carries, set as it is prepared (so errors, files and the
    event stream get them too)."""

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Server"] = "streamd"  # not the framework and its version
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("Referrer-Policy", "same-origin")
        path = request.path
        if path.startswith("/api/"):
            # Party names and decisions: never in a shared or browser cache.
            response.headers["Cache-Control"] = "no-store"
            response.headers.setdefault("Content-Security-Policy", API_CSP)
        elif path.startswith("/public/"):
            response.headers.setdefault("Content-Security-Policy", PUBLIC_CSP)
        else:
            response.headers.setdefault("Content-Security-Policy", API_CSP)
        if secure:
            response.headers["Strict-Transport-Security"] = HSTS

    return on_prepare


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format; the collectors query the database, so off the loop."""
    body = await asyncio.get_running_loop().run_in_executor(
        None, generate_latest, request.app[METRICS_KEY]
    )
    return web.Response(body=body, headers={"Content-Type": PROMETHEUS_TEXT})


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
    leadership = request.app[LEADERSHIP_KEY]
    monitor = request.app[MONITOR_KEY].current
    return web.json_response(
        {
            "status": "ready",
            "schema": revision,
            "replica": leadership.replica,
            "leader": leadership.leading,
            "epoch": leadership.epoch if leadership.leading else None,
            # The leader runs the orchestrator and the scheduler; every replica's monitor
            # watches its share of the public outputs (streamd.monitor.share).
            "runs": (["orchestrator", "scheduler"] if leadership.leading else [])
            + (["monitor"] if monitor is not None else []),
            "watching": monitor.stats.watching if monitor is not None else 0,
        }
    )


async def openapi(request: web.Request) -> web.Response:
    return web.Response(text=request.app[OPENAPI_KEY], content_type="application/json")


async def _orchestrate(app: web.Application) -> AsyncIterator[None]:
    """Start the broker (embedded unless STREAMD_MQTT_URL is set) with the server, and the
    single-instance work (orchestrator, scheduler, monitor) whenever this replica leads."""
    settings, leadership = app[SETTINGS_KEY], app[LEADERSHIP_KEY]
    if not settings.court_config_dir.is_dir():
        log.warning("no %s: courtrooms are not orchestrated", settings.court_config_dir)
        yield
        return
    courts = court.read_courts(settings.court_config_dir)
    # An embedded broker gets production's logins and ACL: no anonymous client may
    # publish telemetry or commands on the court's tree.
    accounts = court_accounts(courts, court_secret(settings))
    async with broker_url(settings.mqtt_url, accounts) as url:
        # Forwarded console requests wait for the leader's answer, which waits for an ack.
        client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_connect=1.0))
        app[RELAY_KEY].current = client
        # The monitor's rooms are shared among the live replicas (streamd.monitor.share),
        # and so is the telemetry, over the broker's shared subscription where it has one.
        share = monitor_share.Share(leadership.replica)
        intake = Intake(
            courts=[c.court.code for c in courts],
            mqtt_url=url,
            replica=leadership.replica,
            shared=settings.mqtt_url is not None and settings.mqtt_share_telemetry,
        )
        app[REPLICA_KEY].intake = intake

        mine: list[monitor_service.Monitor] = []  # the follower's monitor, while it runs

        def shown(monitor: monitor_service.Monitor | None) -> None:
            """/metrics shows this replica's monitor: the follower's, or the leader's
            (set by _lead), never cleared from under the leader's."""
            slot = app[MONITOR_KEY]
            if monitor is not None:
                mine[:] = [monitor]
                slot.current = monitor
            elif mine and slot.current is mine[0]:
                slot.current = None
                mine.clear()

        tasks = [
            asyncio.create_task(
                leadership.run(lambda: _lead(app, courts, url, share, intake)),
                name=f"leadership[{leadership.replica}]",
            ),
            asyncio.create_task(intake.run(), name="telemetry share"),
            asyncio.create_task(
                monitor_follower.keep_members(leadership, share), name="replica members"
            ),
            asyncio.create_task(
                monitor_follower.follow(
                    leadership=leadership,
                    share=share,
                    db=app[DB_KEY],
                    settings=settings,
                    court_names=court.court_names(courts),
                    on_change=shown,
                ),
                name="monitor share",
            ),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await leadership.release()
            app[RELAY_KEY].current = None
            await client.close()


async def _lead(
    app: web.Application,
    courts: list[court.CourtStructure],
    url: str,
    share: monitor_share.Share,
    intake: Intake,
) -> None:
    """The single-instance work, for as long as this replica leads (cancelled when not)."""
    settings, db, slot = app[SETTINGS_KEY], app[DB_KEY], app[SLOT_KEY]
    leadership = app[LEADERSHIP_KEY]
    orch = Orchestrator(
        db=db,
        settings=settings,
        courts=courts,
        rules=load_rules(settings.policy_file),
        mqtt_url=url,
        may_send=lambda: leadership.leading,
        intake=intake,
    )
    monitor = monitor_service.Monitor(
        work=orch.work,
        alerts=orch.alerts,
        settings=settings,
        court_names=court.court_names(courts),
        owns=share.owns,
        pushing=orch.pushing,
    )
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(orch.run(), name="orchestrator")
            # The console reaches it only once it has recovered and subscribed; the monitor
            # starts then too, so its alerts join the ones the orchestrator recovered.
            await orch.started.wait()
            slot.current = orch
            app[MONITOR_KEY].current = monitor
            tg.create_task(monitor.run(), name="monitor")
            tg.create_task(
                pending.carry_out_loop(orch, min(settings.scheduler_seconds, pending.POLL_SECONDS)),
                name="held-requests",
            )
            log.info(
                "orchestrator on %s (replica %s leads)", court.redact_url(url), leadership.replica
            )
    finally:
        slot.current = None
        app[MONITOR_KEY].current = None
        orch.close()


def create_app(*, settings: Settings, db: Database, orchestrate: bool = False) -> web.Application:
    """The server; with `orchestrate`, also the broker link to the courtroom agents."""
    leadership = app_leadership(settings, db)
    relay = RelaySlot()
    app = web.Application(
        middlewares=[
            latency_middleware,
            problem_middleware,
            relay_middleware(leadership, lambda: relay.current),
        ],
        client_max_size=1_000_000,
    )
    app[SETTINGS_KEY] = settings
    app[DB_KEY] = db
    app[LEADERSHIP_KEY] = leadership
    app[RELAY_KEY] = relay
    app.on_response_prepare.append(security_headers(settings.secure_cookies))
    slot = app[SLOT_KEY] = Slot()
    watching = app[MONITOR_KEY] = MonitorSlot()
    app[METRICS_KEY], app[HTTP_LATENCY_KEY] = registry_for(
        db, settings, lambda: slot.current, lambda: watching.current
    )
    collector = ReplicaCollector(leadership)
    app[METRICS_KEY].register(collector)
    app[REPLICA_KEY] = collector
    app.router.add_get("/metrics", metrics)
    if orchestrate:
        app.cleanup_ctx.append(_orchestrate)
    # argon2 is slow by design: its own two threads, never the database's pool.
    verifier = ThreadPoolExecutor(max_workers=2, thread_name_prefix="password-verify")

    async def _stop_verifier(_: web.Application) -> None:
        verifier.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(_stop_verifier)
    api = build_api(db=db, settings=settings, orchestrator=lambda: slot.current, verifier=verifier)
    api.install(app)
    doc = api.openapi(title="streamd API", version=version("streamd"))
    app[OPENAPI_KEY] = json.dumps(doc, ensure_ascii=False)
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    add_public_routes(app, db=db, settings=settings)
    add_hls_routes(app, settings=settings, db=db)
    add_archive_routes(app, db=db, settings=settings)
    rules = load_rules(settings.policy_file)
    add_watch_routes(app, db=db, settings=settings, rules=rules)
    add_pages(app, db=db, settings=settings, rules=lambda: rules, orchestrator=lambda: slot.current)
    return app
