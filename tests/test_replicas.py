"""Two `streamd serve` processes on one PostgreSQL and one broker, with a simulated room:
the console works through either, and the leader's SIGKILL loses no pause and repeats no
command (an observer on the broker counts every command id on the cmd topic)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest
import sqlalchemy as sa

from streamd import court
from streamd.auth import create_user, hasher_for
from streamd.config import load_settings
from streamd.domain import Role
from streamd.monitor.share import owner
from streamd.orchestrator.rooms import room_key
from streamd.store import Database, upgrade
from streamd_protocol import AgentPhase, Topics
from tests.conftest import PASSWORD, ROOT, hearing_body
from tests.court_support import SECRET, write_court
from tests.mqtt_support import free_port, shared_broker
from tests.simagent import SimulatedAgent, simulated
from tests.test_leadership import Blackhole

pytestmark = [pytest.mark.slow, pytest.mark.db, pytest.mark.broker, pytest.mark.postgres_only]
TAKEOVER_SECONDS = 10.0  # what the issue promises after a kill -9 of the leader


@dataclass
class Replica:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Any

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Platform:
    env: dict[str, str]
    code: str
    host: str
    broker_port: int
    http: aiohttp.ClientSession
    folder: Path
    replicas: dict[str, Replica]

    def start(self, name: str, **extra: str) -> Replica:
        port = free_port()
        log = (self.folder / f"{name}.log").open("wb")
        env = self.env | {
            "STREAMD_REPLICA": name,
            # Each replica its own disk, as on two machines.
            "STREAMD_DATA_DIR": str(self.folder / f"data-{name}"),
            **extra,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamd.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        replica = self.replicas[name] = Replica(name, port, proc, log)
        return replica

    async def ready(self, replica: Replica) -> dict[str, Any]:
        async with self.http.get(f"{replica.base}/readyz") as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())

    async def until_ready(self, replica: Replica, *, leader: bool, within: float = 60) -> float:
        deadline = time.monotonic() + within
        while True:
            assert replica.proc.poll() is None, "replica exited"
            with contextlib.suppress(aiohttp.ClientError, AssertionError):
                if (await self.ready(replica))["leader"] is leader:
                    return time.monotonic()
            assert time.monotonic() < deadline, f"{replica.name} never had leader={leader}"
            await asyncio.sleep(0.05)

    async def leader_gauge(self, replica: Replica) -> float:
        async with self.http.get(f"{replica.base}/metrics") as resp:
            text = await resp.text()
        line = next(x for x in text.splitlines() if x.startswith("streamd_leader{"))
        assert f'replica="{replica.name}"' in line
        return float(line.split()[-1])

    async def counter(self, replica: Replica, name: str, labels: str | None = None) -> float:
        """A counter as that replica's /metrics gives it, by default labelled by replica."""
        async with self.http.get(f"{replica.base}/metrics") as resp:
            text = await resp.text()
        mine = f'replica="{replica.name}"'
        line = f"{name}_total{{{labels or mine}}} "
        found = [x for x in text.splitlines() if x.startswith(line)]
        return float(found[0].split()[-1]) if found else 0.0

    async def open_alerts(self, replica: Replica) -> Counter[str]:
        _, body = await self.get(replica, "/alerts?open=true", "clerk")
        return Counter(f"{x['kind']}:{x['room']}" for x in body["items"])

    async def until_alert(self, replica: Replica, key: str, within: float = 20) -> None:
        deadline = time.monotonic() + within
        while key not in await self.open_alerts(replica):
            assert time.monotonic() < deadline, f"no {key} alert"
            await asyncio.sleep(0.1)

    def sim(self, room: str) -> SimulatedAgent:
        topics = Topics(self.code, room)
        return SimulatedAgent(self.host, self.broker_port, topics, room_key(SECRET, topics))

    async def gauge(self, replica: Replica, name: str) -> float:
        async with self.http.get(f"{replica.base}/metrics") as resp:
            text = await resp.text()
        line = next((x for x in text.splitlines() if x.startswith(f"{name} ")), None)
        return float(line.split()[-1]) if line else 0.0

    async def auth(self, replica: Replica, user: str = "clerk") -> dict[str, str]:
        async with self.http.post(
            f"{replica.base}/api/v1/auth/token", json={"username": user, "password": PASSWORD}
        ) as resp:
            assert resp.status == 200, await resp.text()
            return {"Authorization": f"Bearer {(await resp.json())['token']}"}

    async def press(
        self, replica: Replica, hearing_id: int, action: str, user: str = "clerk", **body: Any
    ) -> tuple[int, dict[str, Any]]:
        async with self.http.post(
            f"{replica.base}/api/v1/hearings/{hearing_id}/stream/{action}",
            json=body,
            headers=await self.auth(replica, user),
        ) as resp:
            return resp.status, dict(await resp.json())

    async def stream(self, replica: Replica, hearing_id: int) -> dict[str, Any]:
        async with self.http.get(
            f"{replica.base}/api/v1/hearings/{hearing_id}/stream",
            headers=await self.auth(replica),
        ) as resp:
            assert resp.status == 200, await resp.text()
            return dict(await resp.json())

    async def get(self, replica: Replica, path: str, user: str) -> tuple[int, Any]:
        async with self.http.get(
            f"{replica.base}/api/v1{path}", headers=await self.auth(replica, user)
        ) as resp:
            return resp.status, await resp.json()

    async def hearing(self, replica: Replica, user: str = "clerk", room: str = "room-01") -> int:
        start = datetime.now(UTC) + timedelta(minutes=3)
        body = hearing_body(
            courtroom=room,
            start=start.isoformat(),
            end=(start + timedelta(hours=1)).isoformat(),
            case_number=f"（2026）粤0111民初{uuid.uuid4().int % 90000 + 1}号",
        )
        clerk = await self.auth(replica, user)
        async with self.http.post(f"{replica.base}/api/v1/hearings", json=body, headers=clerk) as r:
            assert r.status == 201, await r.text()
            hearing_id = int((await r.json())["id"])
        async with self.http.post(
            f"{replica.base}/api/v1/bookings",
            json={"hearing_id": hearing_id, "late_reason": "案件紧急，临时安排直播"},
            headers=clerk,
        ) as r:
            assert r.status == 201, await r.text()
        return hearing_id

    def agent(self, code: str | None = None, room: str = "room-01") -> Any:
        topics = Topics(code or self.code, room)
        return simulated(self.host, self.broker_port, topics, room_key(SECRET, topics))


@contextlib.asynccontextmanager
async def observer(
    host: str, port: int, code: str, stamped: list[tuple[float, str]] | None = None
) -> AsyncIterator[Counter[str]]:
    """Every command id the cmd topics carry, counted (and with when it came, monotonic)."""
    seen: Counter[str] = Counter()
    ready = asyncio.Event()

    async def listen() -> None:
        async with aiomqtt.Client(host, port, identifier=f"observer-{uuid.uuid4().hex}") as c:
            await c.subscribe(f"court/{code}/room/+/cmd", qos=1)
            ready.set()
            async for message in c.messages:
                cid = json.loads(bytes(message.payload))["id"]  # type: ignore[arg-type]
                seen[cid] += 1
                if stamped is not None:
                    stamped.append((time.monotonic(), cid))

    task = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), 10)
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await task


@contextlib.contextmanager
def proxy_in_front(folder: Path, *replicas: Replica) -> Iterator[str]:
    """Debian's nginx with the compose file's proxy config (docker/nginx/streamd.conf),
    pointed at these replicas: the base URL a court's load balancer would give."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("needs nginx (.ci/run installs it)")
    port = free_port()
    conf = (ROOT / "docker" / "nginx" / "streamd.conf").read_text(encoding="utf-8")
    for name, replica in zip(("streamd-a", "streamd-b"), replicas, strict=True):
        conf = conf.replace(f"{name}:8080", f"127.0.0.1:{replica.port}")
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    root = folder / "nginx"
    root.mkdir()
    (root / "streamd.conf").write_text(conf, encoding="utf-8")
    temp = " ".join(
        f"{kind}_temp_path {root / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    (root / "nginx.conf").write_text(
        f"worker_processes 1; pid {root / 'nginx.pid'}; error_log {root / 'error.log'};\n"
        "events { worker_connections 256; }\n"
        f"http {{ access_log off; {temp} uwsgi_temp_path {root / 'uwsgi'}; "
        f"scgi_temp_path {root / 'scgi'}; include {root / 'streamd.conf'}; }}\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [nginx, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            assert proc.poll() is None, (root / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def prepare(
    pg_url: str, folder: Path, *, second: bool = False
) -> tuple[dict[str, str], str, str, int, Any]:
    """A fresh court on the database, its clerk, and the replicas' environment. `second`:
    the two-level platform, a second court (rooms b-room-0N) with its clerk `clerk_b`,
    and the intermediate court's office (`city`), in one config folder per court."""
    host, port, private = shared_broker(folder)
    code = f"t{uuid.uuid4().hex[:10]}"
    if second:
        write_court(folder / "court" / "a", code, rooms=1)
        write_court(folder / "court" / "b", f"{code}b", rooms=1, prefix="b-")
    else:
        write_court(folder / "court", code, rooms=3)
    base = {k: v for k, v in os.environ.items() if not k.startswith("STREAMD_")}
    env = base | {
        "STREAMD_DATABASE_URL": pg_url,
        "STREAMD_MQTT_URL": f"mqtt://{host}:{port}",
        "STREAMD_COURT_CONFIG_DIR": str(folder / "court"),
        "STREAMD_COMMAND_SECRET": SECRET,
        "STREAMD_PASSWORD_HASH_TIME_COST": "1",
        "STREAMD_PASSWORD_HASH_MEMORY_KIB": "8",
        "STREAMD_SCHEDULER_SECONDS": "0.2",
        "STREAMD_MONITOR_HLS": str(folder / "media" / "{room}" / "hls" / "index.m3u8"),
    }
    settings = load_settings(environ=env)
    db = Database.from_url(pg_url)
    upgrade(db.engine)
    for structure in court.read_courts(folder / "court"):
        db.call(court.apply_structure, structure=structure, actor="t")
    people = [("clerk", Role.CLERK, code)]
    if second:
        people += [("clerk_b", Role.CLERK, f"{code}b"), ("city", Role.CITY_OFFICE, code)]
    for name, role, of in people:
        db.call(
            create_user,
            username=name,
            password=PASSWORD,
            roles=[role],
            department="civil-1" if role is Role.CLERK else None,
            court=of,
            password_hasher=hasher_for(settings),
        )
    db.dispose()
    return env, code, host, port, private


@pytest.fixture
def platform_env(pg_url: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], str, str, int]]:
    env, code, host, port, private = prepare(pg_url, tmp_path)
    yield env, code, host, port
    if private:
        private.kill()


@pytest.fixture
async def platform(
    platform_env: tuple[dict[str, str], str, str, int], tmp_path: Path
) -> AsyncIterator[Platform]:
    async with running(platform_env, tmp_path) as p:
        yield p


@pytest.fixture
async def two_courts(pg_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    env, code, host, port, private = prepare(pg_url, tmp_path, second=True)
    try:
        async with running((env, code, host, port), tmp_path) as p:
            yield p
    finally:
        if private:
            private.kill()


@contextlib.asynccontextmanager
async def running(
    platform_env: tuple[dict[str, str], str, str, int], tmp_path: Path
) -> AsyncIterator[Platform]:
    """The replicas a test starts, every one killed at the end."""
    env, code, host, port = platform_env
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        p = Platform(env, code, host, port, http, tmp_path, {})
        try:
            yield p
        finally:
            for replica in p.replicas.values():
                if replica.proc.poll() is None:
                    replica.proc.kill()
                    replica.proc.wait()
                replica.log.close()


async def _phase(agent: SimulatedAgent, phase: AgentPhase, within: float) -> float:
    deadline = time.monotonic() + within
    while agent.snapshot.phase is not phase:
        assert time.monotonic() < deadline, f"the room is {agent.snapshot.phase}, not {phase}"
        await asyncio.sleep(0.02)
    return time.monotonic()


async def test_console_through_either_replica_and_a_kill_9_of_the_leader(
    platform: Platform,
) -> None:
    a = platform.start("a")
    await platform.until_ready(a, leader=True)
    b = platform.start("b")
    await platform.until_ready(b, leader=False)
    assert (await platform.ready(b))["replica"] == "b"
    assert await platform.leader_gauge(a) == 1.0 and await platform.leader_gauge(b) == 0.0
    async with (
        platform.agent() as room,
        observer(platform.host, platform.broker_port, platform.code) as seen,
    ):
        hearing = await platform.hearing(b)
        await _phase(room, AgentPhase.READY, 20)  # the leader's scheduler prepared it
        # Through the follower (passed on to the leader) and through the leader itself.
        status, out = await platform.press(b, hearing, "discipline-announced")
        assert status == 200 and out["delivery"] == "acked", out
        # What only the leader knows (the agents' live state) reads the same on the follower.
        async with platform.http.get(
            f"{b.base}/api/v1/agents", headers=await platform.auth(b)
        ) as resp:
            agents = {x["room"]: x for x in (await resp.json())["items"]}
        assert agents["room-01"]["online"] and agents["room-01"]["phase"] == "live", agents
        # The room's telemetry was dealt to both replicas; the follower sent its beats on,
        # and the leader's wall has the room's latest by either way.
        deadline = time.monotonic() + 10  # a beat a second, dealt in turn
        while not all(
            [
                await platform.counter(a, "streamd_telemetry_taken"),
                await platform.counter(b, "streamd_telemetry_forwarded"),
                await platform.counter(a, "streamd_mqtt_messages_received", 'leaf="digest"'),
            ]
        ):
            assert time.monotonic() < deadline, "the telemetry was not shared"
            await asyncio.sleep(0.2)
        taken = [await platform.counter(r, "streamd_telemetry_taken") for r in (a, b)]
        assert sum(taken) <= room.beats, (taken, room.beats)  # each beat to one replica
        status, out = await platform.press(a, hearing, "pause", reason="旁听人员喧哗")
        assert status == 200 and out["delivery"] == "acked", out
        status, out = await platform.press(b, hearing, "resume")
        assert status == 200 and out["delivery"] == "acked", out
        status, out = await platform.press(b, hearing, "pause", reason="证人情绪激动")
        assert status == 200 and out["delivery"] == "acked" and out["state"] == "paused", out
        status, out = await platform.press(a, hearing, "resume")
        assert status == 200 and room.snapshot.phase is AgentPhase.LIVE
        # An alert the leader raised before the kill, and a room that drops while no one
        # leads: both must be open, once each, under the new leader.
        gone, late = platform.sim("room-02"), platform.sim("room-03")
        await gone.start()
        await late.start()
        await gone.crash()
        await platform.until_alert(b, "agent_offline:room-02")

        a.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await late.crash()
        # The clerk presses pause on the survivor at once, mid-failover.
        status, out = await platform.press(b, hearing, "pause", reason="突发情况")
        assert status == 200, out
        during = out["delivery"]
        if during == "pending":  # no leader yet: held, shown, never lost
            shown = await platform.stream(b, hearing)
            assert [p["action"] for p in shown["pending"]] == ["pause"]
        led = await platform.until_ready(b, leader=True, within=TAKEOVER_SECONDS + 5)
        paused = await _phase(room, AgentPhase.PAUSED, TAKEOVER_SECONDS + 5)
        await asyncio.sleep(1.0)  # anything sent twice would have arrived by now
        assert (await platform.stream(b, hearing))["state"] == "paused"
        assert (await platform.stream(b, hearing))["pending"] == []
        assert await platform.leader_gauge(b) == 1.0
        await platform.until_alert(b, "agent_offline:room-03")
        alerts = await platform.open_alerts(b)
        twice = {cid: n for cid, n in seen.items() if n != 1}
        kinds = [c.kind.value for c in room.commands]
    assert alerts["agent_offline:room-02"] == 1 and alerts["agent_offline:room-03"] == 1, alerts
    print(
        f"takeover {led - killed:.2f} s, pause ({during}) in the room "
        f"{paused - killed:.2f} s after the kill, {len(seen)} command ids each seen once"
    )
    assert led - killed <= TAKEOVER_SECONDS
    assert paused - killed <= TAKEOVER_SECONDS
    assert twice == {}, twice
    assert len(seen) == len(room.commands) and kinds[-1] == "pause", kinds
    assert kinds.count("pause") == 3 and kinds.count("go_live") == 1, kinds


async def test_a_replica_cut_from_the_database_sends_nothing_once_its_lease_may_lapse(
    platform: Platform,
) -> None:
    """A's database traffic goes through a proxy the test cuts. A keeps resending a pause
    the room does not answer (from memory, no database needed), until its own deadline:
    after it, and until B leads, nothing may reach the broker."""
    url = sa.engine.make_url(platform.env["STREAMD_DATABASE_URL"])
    proxy = Blackhole(url.port or 5432)
    lease, margin = 6.0, 1.5  # the defaults
    stamped: list[tuple[float, str]] = []
    async with proxy.running() as port:
        cut_url = url.set(port=port).render_as_string(hide_password=False)
        a = platform.start(
            "a",
            STREAMD_DATABASE_URL=cut_url,
            STREAMD_ACK_TIMEOUT_SECONDS="0.6",
            STREAMD_COMMAND_RETRIES="10",  # resends up to 6.6 s after
        )
        await platform.until_ready(a, leader=True)
        b = platform.start("b")
        await platform.until_ready(b, leader=False)
        async with (
            platform.agent() as room,
            observer(platform.host, platform.broker_port, platform.code, stamped),
        ):
            hearing = await platform.hearing(b)
            await _phase(room, AgentPhase.READY, 20)
            status, out = await platform.press(a, hearing, "discipline-announced")
            assert status == 200 and out["delivery"] == "acked", out
            auth = await platform.auth(a)  # before the cut: logging in needs the database
            room.answer = False
            pausing = asyncio.create_task(
                platform.http.post(
                    f"{a.base}/api/v1/hearings/{hearing}/stream/pause",
                    json={"reason": "分区前"},
                    headers=auth,
                )
            )
            until = time.monotonic() + 10
            while not room.commands or room.commands[-1].kind.value != "pause":
                assert time.monotonic() < until, "the pause never reached the room"
                await asyncio.sleep(0.01)
            proxy.cut = True
            deadline = time.monotonic() + lease - margin  # A's at the latest
            led = await platform.until_ready(b, leader=True, within=15)
            pausing.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await pausing
    resent = [at for at, _ in stamped if at < deadline]
    between = [at for at, _ in stamped if deadline <= at <= led]
    assert len(resent) > 3  # A resent while it still led (the test can see a resend)
    assert between == [], f"{len(between)} commands sent while neither replica could lead"
    assert led - deadline <= margin + 1.5 + 1.0  # the lease ran out, B took it


async def test_two_courts_on_two_replicas_each_sees_its_own(two_courts: Platform) -> None:
    """The two-level platform: one config folder per court, one orchestrator for both.
    Each court's hearing goes live and pauses through either replica; each court's clerk
    sees nothing of the other's (lists, ids, the agents' wall); the city office sees both."""
    p = two_courts
    # Named so that each replica owns one of the two rooms (streamd.monitor.share).
    a = p.start("left")
    await p.until_ready(a, leader=True)
    b = p.start("right")
    await p.until_ready(b, leader=False)
    code_b = f"{p.code}b"
    async with (
        p.agent() as room_a,
        p.agent(code_b, "b-room-01") as room_b,
        observer(p.host, p.broker_port, p.code) as seen_a,
        observer(p.host, p.broker_port, code_b) as seen_b,
    ):
        ours = await p.hearing(b, "clerk")
        theirs = await p.hearing(a, "clerk_b", "b-room-01")
        await _phase(room_a, AgentPhase.READY, 20)
        await _phase(room_b, AgentPhase.READY, 20)
        for replica, hearing, user in ((b, ours, "clerk"), (a, theirs, "clerk_b")):
            status, out = await p.press(replica, hearing, "discipline-announced", user)
            assert status == 200 and out["delivery"] == "acked", out
        for replica, hearing, user in ((a, ours, "clerk"), (b, theirs, "clerk_b")):
            status, out = await p.press(replica, hearing, "pause", user, reason="旁听人员喧哗")
            assert status == 200 and out["delivery"] == "acked", out
        await _phase(room_a, AgentPhase.PAUSED, 5)
        await _phase(room_b, AgentPhase.PAUSED, 5)

        # The monitor's rooms are shared: each replica watches the ones it owns, none twice.
        rooms = ["room-01", "b-room-01"]
        expected = {
            r.name: sum(owner(x, [a.name, b.name]) == r.name for x in rooms) for r in (a, b)
        }
        assert expected == {"left": 1, "right": 1}
        deadline = time.monotonic() + 15
        while True:
            got = {r.name: await p.gauge(r, "streamd_monitor_streams_watched") for r in (a, b)}
            if got == expected:
                break
            assert time.monotonic() < deadline, f"watched {got}, owned {expected}"
            await asyncio.sleep(0.2)
        ready = {r.name: await p.ready(r) for r in (a, b)}
        assert ready["left"]["runs"] == ["orchestrator", "scheduler", "monitor"]
        assert ready["right"]["runs"] == ["monitor"]
        assert ready["left"]["watching"] == ready["right"]["watching"] == 1

        for replica in (a, b):
            for user, mine, other, room in (
                ("clerk", ours, theirs, "room-01"),
                ("clerk_b", theirs, ours, "b-room-01"),
            ):
                status, listed = await p.get(replica, "/hearings", user)
                assert [h["id"] for h in listed["items"]] == [mine], (replica.name, user)
                status, _ = await p.get(replica, f"/hearings/{other}", user)
                assert status == 404
                status, out = await p.press(replica, other, "pause", user, reason="越权")
                assert status == 404, out
                status, agents = await p.get(replica, "/agents", user)
                assert [x["room"] for x in agents["items"]] == [room], (replica.name, user)
            status, listed = await p.get(replica, "/hearings", "city")
            assert sorted(h["id"] for h in listed["items"]) == sorted([ours, theirs])
            status, out = await p.press(replica, ours, "resume", "city")
            assert status == 403, out
        # Behind the compose file's proxy: either replica answers, the console works, and
        # the live feed comes through unbuffered.
        with proxy_in_front(p.folder, a, b) as front:
            names = set()
            for _ in range(6):
                async with p.http.get(f"{front}/readyz") as resp:
                    assert resp.status == 200
                    names.add((await resp.json())["replica"])
            assert names == {"left", "right"}
            headers = await p.auth(a)
            async with p.http.get(f"{front}/api/v1/feed", headers=headers) as feed:
                assert feed.status == 200
                async with p.http.post(
                    f"{front}/api/v1/hearings/{ours}/stream/resume", json={}, headers=headers
                ) as resp:
                    assert resp.status == 200, await resp.text()
                    assert (await resp.json())["delivery"] == "acked"
                seen_live = False
                deadline = time.monotonic() + 5
                while not seen_live and time.monotonic() < deadline:
                    line = await asyncio.wait_for(feed.content.readline(), 5)
                    seen_live = b'"state":"live"' in line
                assert seen_live, "the resume never reached the feed through the proxy"
            await _phase(room_a, AgentPhase.LIVE, 5)
        await asyncio.sleep(0.5)
        commands_a = [c.kind.value for c in room_a.commands]
        commands_b = [c.kind.value for c in room_b.commands]
    # Each room got its own court's commands, each once; none crossed between courts.
    assert commands_a.count("pause") == 1 and commands_b.count("pause") == 1
    assert commands_a.count("resume") == 1 and "resume" not in commands_b
    assert all(n == 1 for n in seen_a.values()) and all(n == 1 for n in seen_b.values())
    assert len(seen_a) == len(commands_a) and len(seen_b) == len(commands_b)
