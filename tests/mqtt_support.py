"""Brokers and a test-side streamd stand-in for the agent tests.

The tests talk to a real broker: Mosquitto on 127.0.0.1:1883 where it runs (CI, developer
machines), or one the tests start themselves: the `mosquitto` binary when installed, else
amqtt (a pure-Python broker from PyPI), so a pip-only machine runs the same tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt

from agents.agent import Agent
from agents.config import AgentConfig
from streamd_protocol import Ack, CommandKind, Leaf, Topics, parse_topic, sign

ROOT = Path(__file__).resolve().parent.parent


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivateBroker:
    """A broker process of the test's own, so the test may kill and restart it."""

    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        mosquitto = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if os.environ.get("STREAMD_TEST_BROKER") == "amqtt":
            mosquitto = None  # exercise the pip-only path on a machine that has both
        if mosquitto:
            conf = self.folder / "mosquitto.conf"
            # set_tcp_nodelay: as production should run it (see streamd.broker.no_delay)
            conf.write_text(
                f"listener {self.port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
            )
            argv = [mosquitto, "-c", str(conf)]
        else:
            conf = self.folder / "amqtt.yaml"
            conf.write_text(
                "listeners:\n  default:\n    type: tcp\n"
                f"    bind: 127.0.0.1:{self.port}\n"
                "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
                "    allow_anonymous: true\n"
            )
            argv = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(conf)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"broker on {self.port} did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def shared_broker(tmp: Path) -> tuple[str, int, PrivateBroker | None]:
    if _port_open("127.0.0.1", 1883):
        return "127.0.0.1", 1883, None
    broker = PrivateBroker(tmp)
    broker.start()
    return "127.0.0.1", broker.port, broker


def room_config(
    folder: Path, port: int, *, secret: str | None = "s3cret", **agent: Any
) -> tuple[Path, Topics]:
    """A room file for a fresh court code, so parallel tests never share topics."""
    court = f"t{uuid.uuid4().hex[:10]}"
    folder.mkdir(parents=True, exist_ok=True)
    settings = {
        "court": court,
        "court_name": "示例区人民法院",
        "data_dir": str(folder / "agent"),
        "segment_seconds": 2,
        "telemetry_seconds": 0.5,
        "stall_seconds": 3.0,
        **agent,
    }
    if secret is not None:
        settings["command_secret"] = secret
    lines = ['[room]\ncode = "room-01"\nname = "第一法庭"\n', "[agent]"]
    source = settings.pop("source", {"video_size": "320x180", "fps": 25})
    for key, value in settings.items():
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    lines.append(f'[agent.broker]\nurl = "mqtt://127.0.0.1:{port}"')
    lines.append("[agent.source]")
    for key, value in source.items():
        lines.append(f"{key} = {json.dumps(value)}")
    path = folder / "room-01.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, Topics(court, "room-01")


class Court:
    """streamd's side of the conversation, reduced to what the tests need."""

    def __init__(self, client: aiomqtt.Client, topics: Topics, secret: str | None) -> None:
        self.client = client
        self.topics = topics
        self.secret = secret
        self.inbox: dict[Leaf, list[Any]] = defaultdict(list)
        self._arrived = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.subscribe(f"{self.topics.base}/#", qos=1)
        self._task = asyncio.create_task(self._listen())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        async for message in self.client.messages:
            parsed = parse_topic(str(message.topic))
            if parsed is None or parsed[0] != self.topics:
                continue
            if parsed[1] in (Leaf.CMD, Leaf.TRANSCRIPT):
                continue  # our own publications
            payload = message.payload
            assert isinstance(payload, bytes)
            async with self._arrived:
                self.inbox[parsed[1]].append(json.loads(payload))
                self._arrived.notify_all()

    async def wait_for(self, leaf: Leaf, pred: Any, within: float = 20.0, nth: int = 0) -> Any:
        """The `nth` (from 0) message on `leaf` that satisfies `pred`, waiting for it."""

        async def found() -> Any:
            async with self._arrived:
                while True:
                    hits = [item for item in self.inbox[leaf] if pred(item)]
                    if len(hits) > nth:
                        return hits[nth]
                    await self._arrived.wait()

        return await asyncio.wait_for(found(), within)

    def command(
        self,
        kind: CommandKind,
        hearing_id: int | None = 1,
        *,
        ttl: float = 30,
        age: float = 0,
        **fields: Any,
    ) -> dict[str, Any]:
        now = datetime.now(UTC) - timedelta(seconds=age)
        data: dict[str, Any] = {
            "v": 1,
            "id": uuid.uuid4().hex,
            "kind": kind.value,
            "room": self.topics.room,
            "issued_at": now.isoformat(),
            "expires_at": (now + timedelta(seconds=ttl)).isoformat(),
            **fields,
        }
        if hearing_id is not None:
            data["hearing_id"] = hearing_id
        if self.secret is not None:
            data["sig"] = sign(data, self.secret)
        return data

    async def publish(self, payload: bytes | dict[str, Any]) -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        await self.client.publish(self.topics.cmd, raw, qos=1)

    async def send(
        self, kind: CommandKind, hearing_id: int | None = 1, *, within: float = 30, **fields: Any
    ) -> Ack:
        cmd = self.command(kind, hearing_id, **fields)
        await self.publish(cmd)
        return await self.ack_of(cmd["id"], within=within)

    async def ack_of(self, command_id: str | None, *, within: float = 30, nth: int = 0) -> Ack:
        raw = await self.wait_for(
            Leaf.ACK, lambda a: a.get("command_id") == command_id, within, nth
        )
        return Ack.model_validate(raw)

    async def transcript(self, hearing_id: int, seq: int, speaker: str, text: str) -> None:
        line = {"v": 1, "hearing_id": hearing_id, "seq": seq, "speaker": speaker, "text": text}
        await self.client.publish(self.topics.transcript, json.dumps(line).encode(), qos=1)

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.inbox[Leaf.EVENTS] if e["kind"] == kind]


@contextlib.asynccontextmanager
async def broker_for(tmp: Path) -> AsyncIterator[tuple[str, int]]:
    """A broker for one test: the shared one, or a private one killed afterwards."""
    host, port, private = shared_broker(tmp)
    try:
        yield host, port
    finally:
        if private:
            private.kill()


@contextlib.asynccontextmanager
async def court_on(
    host: str, port: int, topics: Topics, secret: str | None = "s3cret"
) -> AsyncIterator[Court]:
    async with aiomqtt.Client(host, port) as client:
        court = Court(client, topics, secret)
        await court.start()
        try:
            yield court
        finally:
            await court.close()


@contextlib.asynccontextmanager
async def running_agent(cfg: AgentConfig) -> AsyncIterator[Agent]:
    """An agent in this event loop, connected; stopped as SIGTERM would stop it."""
    agent = Agent(cfg)
    running = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.connected.wait(), 10)
        yield agent
    finally:
        agent.stop()
        await asyncio.wait_for(running, 30)


async def spawn_agent(path: Path, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    """`streamd-agent --config path` as its own process, output discarded."""
    return await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "agents.cli", "--config", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
