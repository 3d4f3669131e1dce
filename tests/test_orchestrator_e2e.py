"""End to end, as a court runs it: `streamd serve` and `streamd-agent` as their own
processes, the broker, the database and ffmpeg all real. A hearing is booked and run
through the console; streamd is killed -9 mid-hearing and restarted; the agent is killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from streamd.orchestrator.rooms import room_key
from streamd_protocol import Topics
from tests.conftest import ROOT, hearing_body
from tests.court_support import SECRET, write_court
from tests.mqtt_support import free_port, room_config, shared_broker, spawn_agent

pytestmark = [pytest.mark.slow, pytest.mark.broker, pytest.mark.ffmpeg]
STREAMD = [sys.executable, "-m", "streamd.cli"]
PASSWORD = "a-long-password"


class Streamd:
    """`streamd serve` as a child process, restartable on the same data."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, **env: str) -> None:
        out = subprocess.run(
            [*STREAMD, *args], env=self.env | env, cwd=ROOT, capture_output=True, timeout=120
        )
        assert out.returncode == 0, out.stderr.decode()

    def _launch(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            return subprocess.Popen(
                [*STREAMD, "serve", "--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def start(self) -> None:
        self.proc = await asyncio.to_thread(self._launch)
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{self.base}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"streamd did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


class Api:
    def __init__(self, http: aiohttp.ClientSession, streamd: Streamd) -> None:
        self.http = http
        self.streamd = streamd
        self.tokens: dict[str, str] = {}

    async def login(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            async with self.http.post(
                f"{self.streamd.base}/api/v1/auth/token",
                json={"username": user, "password": PASSWORD},
            ) as resp:
                assert resp.status == 200, await resp.text()
                self.tokens[user] = (await resp.json())["token"]
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def call(
        self, method: str, path: str, user: str = "clerk", body: Any = None
    ) -> tuple[int, Any]:
        async with self.http.request(
            method,
            f"{self.streamd.base}/api/v1{path}",
            json=body,
            headers=await self.login(user),
        ) as resp:
            return resp.status, await resp.json()

    async def until(self, path: str, pred: Any, within: float = 30, user: str = "clerk") -> Any:
        deadline = time.monotonic() + within
        last: Any = None
        while time.monotonic() < deadline:
            status, last = await self.call("GET", path, user)
            if status == 200 and pred(last):
                return last
            await asyncio.sleep(0.2)
        raise AssertionError(f"{path}: condition not met; last answer {last}")


@pytest.fixture
async def court(tmp_path: Path) -> AsyncIterator[tuple[Streamd, Topics, Path]]:
    host, port, private = shared_broker(tmp_path)
    folder = tmp_path / "court"
    room_path, topics = room_config(folder, port, secret=None, segment_seconds=2)
    text = room_path.read_text(encoding="utf-8")
    key = room_key(SECRET, topics)
    room_path.write_text(
        text.replace("[agent]\n", f'[agent]\ncommand_secret = "{key}"\n', 1).replace(
            '[room]\ncode = "room-01"\nname = "第一法庭"\n',
            '[room]\ncode = "room-01"\nname = "第一法庭"\ndepartment = "civil-1"\n',
        ),
        encoding="utf-8",
    )
    write_court(folder, topics.court, rooms=0)
    base = {k: v for k, v in os.environ.items() if not k.startswith("STREAMD_")}
    env = base | {
        "STREAMD_DATA_DIR": str(tmp_path / "data"),
        "STREAMD_COURT_CONFIG_DIR": str(folder),
        "STREAMD_MQTT_URL": f"mqtt://{host}:{port}",
        "STREAMD_COMMAND_SECRET": SECRET,
        "STREAMD_SCHEDULER_SECONDS": "0.5",
        "STREAMD_ACK_TIMEOUT_SECONDS": "10",
        # the monitor reads the agent's public HLS output where the agent writes it
        "STREAMD_MONITOR_HLS": str(folder / "agent" / "hls" / "index.m3u8"),
    }
    streamd = Streamd(env, tmp_path / "streamd.log")
    streamd.cli("db", "upgrade")
    streamd.cli("court", "load")
    for user, role in (("clerk", "clerk"), ("admin", "admin"), ("tech", "technician")):
        # the clerk acts for the department whose room this is (streamd.authz)
        dept = ["--department", "civil-1"] if role == "clerk" else []
        streamd.cli("users", "create", user, "--role", role, *dept, STREAMD_PASSWORD=PASSWORD)
    await streamd.start()
    try:
        yield streamd, topics, room_path
    finally:
        if streamd.proc is not None and streamd.proc.poll() is None:
            streamd.proc.terminate()
            streamd.proc.wait(20)
        if private:
            private.kill()


async def test_a_hearing_survives_a_streamd_restart_and_an_agent_crash(
    court: tuple[Streamd, Topics, Path],
) -> None:
    streamd, topics, room_path = court
    agent = await spawn_agent(room_path)
    sent: list[dict[str, Any]] = []

    async def watch_commands() -> None:
        host, _, port = streamd.env["STREAMD_MQTT_URL"][len("mqtt://") :].rpartition(":")
        async with aiomqtt.Client(host, int(port)) as c:
            await c.subscribe(topics.cmd, qos=1)
            async for message in c.messages:
                sent.append(json.loads(bytes(message.payload)))  # type: ignore[arg-type]

    watcher = asyncio.create_task(watch_commands())
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(http, streamd)
            start = datetime.now(UTC) + timedelta(minutes=2)
            status, hearing = await api.call(
                "POST",
                "/hearings",
                body=hearing_body(
                    start=start.isoformat(), end=(start + timedelta(hours=1)).isoformat()
                ),
            )
            assert status == 201, hearing
            hid = hearing["id"]
            status, booking = await api.call(
                "POST", "/bookings", body={"hearing_id": hid, "late_reason": "临时安排直播"}
            )
            assert status == 201 and booking["line"] == "L1", booking
            await api.until(f"/hearings/{hid}/stream", lambda s: s["state"] == "ready", 60)

            status, out = await api.call(
                "POST", f"/hearings/{hid}/stream/discipline-announced", body={}
            )
            assert status == 200 and out["delivery"] == "acked", out
            status, out = await api.call(
                "POST", f"/hearings/{hid}/stream/pause", body={"reason": "旁听人员喧哗"}
            )
            assert out["state"] == "paused" and out["delivery"] == "acked", out
            status, out = await api.call("POST", f"/hearings/{hid}/stream/resume", body={})
            assert out["state"] == "live" and out["delivery"] == "acked", out
            status, out = await api.call(
                "POST",
                f"/hearings/{hid}/stream/transcript",
                body={"speaker": "审判长", "text": "现在继续开庭。", "client_key": "k-000001"},
            )
            assert status == 200, out

            # streamd dies mid-hearing and comes back.
            await asyncio.sleep(1)
            before = len(sent)
            streamd.kill()
            await asyncio.sleep(1)
            await streamd.start()
            api.tokens.clear()
            view = await api.until(
                f"/hearings/{hid}/stream",
                lambda s: s["agent"] is not None and s["agent"]["online"],
                30,
            )
            assert view["state"] == "live" and view["agent"]["phase"] == "live"
            await asyncio.sleep(12)  # longer than the ack timeout: nothing is settled by resending
            assert len(sent) == before, sent[before:]
            view = await api.until(f"/hearings/{hid}/stream", lambda s: True)
            assert view["state"] == "live" and not view["at_risk"]
            status, alerts = await api.call("GET", "/alerts", user="tech")
            assert alerts["items"] == [], alerts

            # ...and carries on.
            status, out = await api.call(
                "POST", f"/hearings/{hid}/stream/pause", body={"reason": "证人情绪激动"}
            )
            assert out["delivery"] == "acked", out
            await api.call("POST", f"/hearings/{hid}/stream/resume", body={})
            status, out = await api.call("POST", f"/hearings/{hid}/stream/adjourned", body={})
            assert out["state"] == "ended" and out["delivery"] == "acked", out
            assert [c["kind"] for c in sent] == [
                "prepare", "go_live", "pause", "resume", "pause", "resume", "stop",
            ]  # fmt: skip

            view = await api.until(
                f"/hearings/{hid}/stream",
                lambda s: any(e["kind"] == "recording_stopped" for e in s["events"]),
                30,
            )
            assert [t["to_state"] for t in view["transitions"]] == [
                "preparing", "ready", "live", "paused", "live", "paused", "live", "ended",
            ]  # fmt: skip
            assert all(c["status"] == "acked" for c in view["commands"]), view["commands"]
            kinds = [e["kind"] for e in view["events"]]
            assert kinds.count("slate_shown") == 2 and kinds.count("live") >= 3, kinds
            assert "recording_started" in kinds and kinds[-1] == "recording_stopped", kinds
            seqs = [e["seq"] for e in view["events"]]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # none missing

            status, audit = await api.call(
                "GET", "/audit?object_type=stream&limit=100", user="admin"
            )
            actions = [e["action"] for e in audit["items"]]
            for action in (
                "stream.open", "stream.prepare", "stream.prepared",
                "stream.discipline_announced", "stream.pause", "stream.resume",
                "stream.adjourned",
            ):  # fmt: skip
                assert action in actions, actions
            status, record = await api.call("GET", f"/hearings/{hid}/stream/case-file")
            assert [p["reason"] for p in record["pauses"]] == ["旁听人员喧哗", "证人情绪激动"]

            # The monitor, killed with streamd, read back what it missed from the playlist.
            await asyncio.sleep(3)
            status, cov = await api.call("GET", f"/hearings/{hid}/coverage", user="admin")
            assert status == 200, cov
            assert cov["verdict"] == "full" and cov["coverage_percent"] == 100.0, cov
            assert len(cov["paused"]) == 2 and cov["slate"], cov
            assert cov["recording"]["verdict"] == "complete", cov["recording"]
            assert cov["recording"]["transcript_lines"] == 1

            # The agent dies: the technicians know within 10 s.
            killed = time.monotonic()
            agent.send_signal(signal.SIGKILL)
            await agent.wait()
            alerts = await api.until(
                "/alerts",
                lambda a: any(x["kind"] == "agent_offline" for x in a["items"]),
                10,
                user="tech",
            )
            assert time.monotonic() - killed < 10
            assert alerts["items"][0]["room"] == "room-01"
    finally:
        watcher.cancel()
        if agent.returncode is None:
            agent.kill()
            await agent.wait()
