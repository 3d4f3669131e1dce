"""`streamd demo`: the whole system on one machine, running a compressed court day.

One process tree: streamd (HTTP, orchestrator, monitor) and the embedded broker in this
process, one `streamd-agent` child per courtroom, each with its own ffmpeg children for
the recording and the public HLS output, which streamd serves. Nothing is simulated but
the courtroom itself (ffmpeg's test picture and tone) and the clerks (`clerk.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiohttp import web

from streamd import court
from streamd.auth import create_user, hasher_for
from streamd.broker import EmbeddedBroker, court_accounts
from streamd.config import Settings
from streamd.demo import archived, summary
from streamd.demo import stage as stage_mod
from streamd.demo.clerk import Api, ApiError, Clerks
from streamd.demo.day import DAY, ROOMS, compress
from streamd.domain import Role
from streamd.monitor import records
from streamd.mqtt_acl import mqtt_password
from streamd.orchestrator import court_secret
from streamd.store import Database, upgrade

log = logging.getLogger(__name__)
DEMO_USERS: tuple[tuple[str, Role, str, str | None], ...] = (
    ("clerk", Role.CLERK, "书记员 王敏", "civil-1"),
    ("clerk-civil-2", Role.CLERK, "书记员 孙丽", "civil-2"),
    ("clerk-criminal", Role.CLERK, "书记员 郑宇", "criminal"),
    ("judge", Role.JUDGE, "承办法官 李明", "civil-1"),
    ("depthead", Role.DEPARTMENT_HEAD, "庭长 陈刚", "civil-1"),
    ("leader", Role.COURT_LEADER, "分管院领导 周华", None),
    ("tech", Role.TECHNICIAN, "技术人员 赵强", None),
    ("admin", Role.ADMIN, "司法公开办 刘洋", None),
    ("city", Role.CITY_OFFICE, "中院司法公开办 陈静", None),
)
PASSWORD_SUFFIX = "-demo-2026"  # demo logins: NAME-demo-2026, printed at start
LEAD_SECONDS = 8.0  # from booking the day to its first hearing
AGENTS_ONLINE_WITHIN_S = 60.0
# After the last adjournment: one HLS segment, one playlist poll and the ledger's allowance.
CATCH_UP_SECONDS = 4.0
AGENT_STOP_S = 20.0
EXIT_FAILED = 1


@dataclass(frozen=True, slots=True)
class Options:
    data_dir: Path
    sample_dir: Path
    speed: float
    once: bool


class Agents:
    """One `streamd-agent` process per room, logging to the demo's logs folder."""

    def __init__(self, stage: stage_mod.Stage) -> None:
        self.stage = stage
        self.procs: dict[str, asyncio.subprocess.Process] = {}

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMD_")}
        for room in ROOMS:
            with (self.stage.logs_dir / f"{room}.log").open("ab") as out:
                self.procs[room] = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "agents.cli",
                    "--config",
                    str(self.stage.room_config(room)),
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    env=env,
                    # Ctrl-C in the terminal reaches the demo only, which adjourns what is
                    # in session and then stops each agent in order.
                    start_new_session=True,
                )

    async def hang_publisher(self, room: str) -> bool:
        """Freeze the room's public encoder (SIGSTOP), as a hung encoder would: alive and
        silent. The agent's stall watchdog must notice, kill it and start another. (A kill
        is restarted so fast that the public gap can be under the monitor's 0.5 s grain.)"""
        proc = self.procs.get(room)
        if proc is None:
            return False
        hls = str(self.stage.agents_dir / room / "hls")
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return False
        for child in children:
            with contextlib.suppress(psutil.Error):
                if any(hls in arg for arg in child.cmdline()):
                    child.send_signal(signal.SIGSTOP)
                    return True
        return False

    async def stop(self) -> None:
        """SIGTERM: each agent closes its segments and manifest, then exits."""
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for room, proc in self.procs.items():
            try:
                await asyncio.wait_for(proc.wait(), AGENT_STOP_S)
            except TimeoutError:
                log.warning("agent %s did not stop in %.0f s; killed", room, AGENT_STOP_S)
                proc.kill()
                await proc.wait()


def _say(text: str) -> None:
    print(text, flush=True)


async def _wait_online(api: Api) -> None:
    deadline = asyncio.get_running_loop().time() + AGENTS_ONLINE_WITHIN_S
    online: list[str] = []
    while asyncio.get_running_loop().time() < deadline:
        status, out = await api.call("GET", "/agents")
        if status == 200:
            online = [a["room"] for a in out["items"] if a["online"]]
            if set(ROOMS) <= set(online):
                return
        await asyncio.sleep(0.3)
    raise ApiError(f"agents online after {AGENTS_ONLINE_WITHIN_S:.0f} s: {online or 'none'}")


def _prepare_database(settings: Settings, stage: stage_mod.Stage) -> Database:
    db = Database.from_url(settings.effective_database_url)
    upgrade(db.engine)
    db.call(court.apply_structure, structure=court.read_structure(stage.court_dir), actor="demo")
    for name, role, display, department in DEMO_USERS:
        db.call(
            create_user,
            username=name,
            password=name + PASSWORD_SUFFIX,
            roles=[role],
            display_name=display,
            department=department,
            password_hasher=hasher_for(settings),
        )
    return db


def _banner(settings: Settings, base: str, stage: stage_mod.Stage, ends: datetime) -> None:
    _say(f"streamd demo: {len(DAY)} hearings in {len(ROOMS)} courtrooms, data in {stage.data_dir}")
    _say(f"  open {base}/  (clerk console, technician wall, statistics; 中文 / English)")
    _say(f"  API {base}/api/v1/openapi.json  metrics {base}/metrics")
    _say(f"  public announcements {base}/public/announcements")
    for room in ROOMS:
        _say(f"  watch {room}: {base}/hls/{room}/index.m3u8")
    _say("  logins:")
    for name, role, _, _ in DEMO_USERS:
        _say(f"    {name:9} / {name + PASSWORD_SUFFIX:19} {role.value}")
    _say(f"  the day ends at {ends.astimezone(settings.zone).strftime('%H:%M:%S')}; Ctrl-C stops.")


def _log_to(folder: Path) -> None:
    """The terminal shows the court's day; the servers' logs go to logs/streamd.log."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    to_file = logging.FileHandler(folder / "streamd.log", encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(to_file)
    loud = logging.StreamHandler()
    loud.setLevel(logging.ERROR)
    root.addHandler(loud)
    logging.getLogger("transitions").setLevel(logging.WARNING)  # amqtt's state machine


async def run(base_settings: Settings, options: Options) -> int:
    stage = stage_mod.claim(options.data_dir)
    _log_to(stage.logs_dir)
    broker = EmbeddedBroker()
    # streamd logs in to the embedded broker as to production's, each agent as its room.
    plain = stage_mod.settings_for(base_settings, stage, mqtt_url=broker.url, speed=options.speed)
    secret = court_secret(plain)
    login = f"streamd:{mqtt_password(secret, 'streamd')}@"
    url = broker.url.replace("://", "://" + login, 1)
    settings = stage_mod.settings_for(base_settings, stage, mqtt_url=url, speed=options.speed)
    stage_mod.write_court(stage, options.sample_dir, settings)
    broker.accounts = court_accounts(court.read_courts(stage.court_dir), secret)
    await broker.start()
    db = await asyncio.to_thread(_prepare_database, settings, stage)

    from streamd.web import create_app

    runner = web.AppRunner(create_app(settings=settings, db=db, orchestrate=True))
    await runner.setup()
    agents = Agents(stage)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    base = f"http://{settings.host}:{settings.port}"
    status = 0
    clerks: Clerks | None = None
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        await agents.start()
        async with aiohttp.ClientSession() as http:
            await _wait_online(Api(http, base, "tech", "tech" + PASSWORD_SUFFIX))
            script = compress(
                DAY,
                start=datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS),
                speed=options.speed,
            )
            clerks = Clerks(
                {
                    dept: Api(http, base, name, name + PASSWORD_SUFFIX)
                    for name, role, _, dept in DEMO_USERS
                    if role is Role.CLERK and dept is not None
                },
                script,
                _say,
                agents.hang_publisher,
            )
            await clerks.file_and_book()
            _banner(settings, base, stage, script.ends)
            day = asyncio.create_task(clerks.run_day())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({day, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not day.done():
                day.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await day
                _say("streamd demo: stopping mid-day; adjourning what is in session")
                await clerks.adjourn_all()
                return 0
            stopped.cancel()
            await asyncio.sleep(CATCH_UP_SECONDS)
            status = await _summarise(db, settings, clerks, stage)
            if not options.once:
                _say(f"streamd demo: still serving {base}/ ; Ctrl-C stops.")
                await stop.wait()
    except (ApiError, OSError) as exc:
        _say(f"streamd demo: {exc}")
        status = EXIT_FAILED
    finally:
        await agents.stop()
        await runner.cleanup()
        await broker.stop()
        db.dispose()
        _say(f"streamd demo: stopped; recordings in {stage.agents_dir}")
    return status


async def _summarise(
    db: Database, settings: Settings, clerks: Clerks, stage: stage_mod.Stage
) -> int:
    now = datetime.now(UTC)

    def coverage(hid: int) -> dict[str, Any] | None:
        return db.call(
            records.hearing_coverage,
            hearing_id=hid,
            now=now,
            allowance_seconds=settings.monitor_allowance_seconds,
        )

    outcomes = list(clerks.outcomes.values())
    found: dict[int, dict[str, Any]] = {}
    for o in outcomes:
        if o.hearing_id is not None:
            data = await asyncio.to_thread(coverage, o.hearing_id)
            if data is not None:
                found[o.hearing_id] = data
    table = await asyncio.to_thread(summary.rows, outcomes, found)
    kept = await archived.wait_and_check(db, settings, found)
    for r in table:
        r.archived, r.archive_problems = kept.get(r.hearing_id, (0, ["no recording"]))
    _say(summary.render(table))
    problems = [f"{o.timed.hearing.key}: {note}" for o in outcomes for note in o.notes] + [
        f"{r.key}: {p}" for r in table for p in r.problems()
    ]
    missing = [o.timed.hearing.key for o in outcomes if o.hearing_id not in found]
    problems += [f"{key}: no coverage" for key in missing]
    (stage.data_dir / "summary.json").write_text(
        json.dumps(
            {
                "hearings": [
                    {
                        "key": r.key,
                        "hearing_id": r.hearing_id,
                        "line": r.line,
                        "not_streamed": r.not_streamed,
                        "coverage": r.coverage,
                        "undecodable": r.undecodable,
                        "archived_segments": r.archived,
                    }
                    for r in table
                ],
                "problems": problems,
            },
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    if problems:
        _say("streamd demo: problems:\n" + "\n".join(f"  {p}" for p in problems))
        return EXIT_FAILED
    return 0
