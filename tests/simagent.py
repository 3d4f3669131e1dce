"""Simulated courtroom agents: the real protocol and the real decision logic
(agents.machine.decide), without ffmpeg, so one process can play hundreds of rooms.

Used by the orchestrator tests that need many rooms or misbehaving ones, and by
bench/mqtt.py. The end-to-end tests use the real agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiomqtt

from agents.machine import Snapshot, decide
from streamd_protocol import (
    Ack,
    AgentPhase,
    AgentState,
    Command,
    Composition,
    ProtocolError,
    Telemetry,
    Topics,
    TranscriptLine,
    parse_command,
    parse_transcript,
)
from streamd_protocol.transport import no_delay


@dataclass(eq=False)
class SimulatedAgent:
    host: str
    port: int
    topics: Topics
    key: str | None
    answer: bool = True  # False: receive commands and never acknowledge them
    telemetry_every: float | None = 1.0  # as a real agent does; None: silent
    composition: Composition | None = None  # a multi-view room's picture, in its telemetry
    # Called with each new command the room accepts, before the ack: a test plugs real
    # media in here (tests/mediaroom.py), or a fault.
    on_command: Callable[[Command], Awaitable[None]] | None = None
    snapshot: Snapshot = field(default_factory=Snapshot)
    commands: list[Command] = field(default_factory=list)
    transcript: list[TranscriptLine] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    beats: int = 0  # telemetry messages published
    _client: aiomqtt.Client | None = None
    _task: asyncio.Task[None] | None = None

    def _state(self) -> bytes:
        return AgentState(
            room=self.topics.room,
            phase=self.snapshot.phase,
            at=datetime.now(UTC),
            hearing_id=self.snapshot.hearing_id,
        ).to_bytes()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.connected.wait(), 10)

    async def _run(self) -> None:
        offline = AgentState(
            room=self.topics.room, phase=AgentPhase.OFFLINE, at=datetime.now(UTC)
        ).to_bytes()
        async with aiomqtt.Client(
            self.host,
            self.port,
            keepalive=5,
            will=aiomqtt.Will(self.topics.state, offline, qos=1, retain=True),
        ) as client:
            self._client = client
            no_delay(client)
            await client.subscribe([(self.topics.cmd, 1), (self.topics.transcript, 1)])
            await client.publish(self.topics.state, self._state(), qos=1, retain=True)
            self.connected.set()
            beat = asyncio.create_task(self._beat(client)) if self.telemetry_every else None
            try:
                await self._listen(client)
            finally:
                if beat is not None:
                    beat.cancel()

    async def _beat(self, client: aiomqtt.Client) -> None:
        assert self.telemetry_every is not None
        while True:
            now = datetime.now(UTC)
            tele = Telemetry(
                room=self.topics.room,
                at=now,
                phase=self.snapshot.phase,
                hearing_id=self.snapshot.hearing_id,
                composition=self.composition,
            )
            await client.publish(self.topics.telemetry, tele.to_bytes(), qos=0)
            self.beats += 1
            await asyncio.sleep(self.telemetry_every)

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if str(message.topic) == self.topics.transcript:
                with contextlib.suppress(ProtocolError):
                    self.transcript.append(parse_transcript(bytes(message.payload)))  # type: ignore[arg-type]
                continue
            await self._on_command(client, bytes(message.payload))  # type: ignore[arg-type]

    async def _on_command(self, client: aiomqtt.Client, raw: bytes) -> None:
        now = datetime.now(UTC)
        try:
            cmd = parse_command(raw, now=now, secret=self.key)
        except ProtocolError as exc:
            ack = Ack(
                command_id=exc.command_id,
                ok=False,
                error=exc.code,
                message=exc.message,
                phase=self.snapshot.phase,
                at=now,
            )
            await client.publish(self.topics.ack, ack.to_bytes(), qos=1)
            return
        duplicate = any(c.id == cmd.id for c in self.commands)
        self.commands.append(cmd)
        if not self.answer:
            return
        if not duplicate:
            decision = decide(self.snapshot, cmd)
            self.snapshot = decision.after
            if decision.ok and self.on_command is not None:
                await self.on_command(cmd)
            ack = Ack(
                command_id=cmd.id,
                kind=cmd.kind,
                hearing_id=cmd.hearing_id,
                ok=decision.ok,
                error=decision.error,
                message=decision.message,
                phase=self.snapshot.phase,
                at=now,
            )
        else:
            ack = Ack(
                command_id=cmd.id,
                kind=cmd.kind,
                ok=True,
                duplicate=True,
                phase=self.snapshot.phase,
                at=now,
            )
        await client.publish(self.topics.ack, ack.to_bytes(), qos=1)
        await client.publish(self.topics.state, self._state(), qos=1, retain=True)

    def kinds(self) -> list[str]:
        return [c.kind.value for c in self.commands]

    def _drop(self) -> None:
        if self._client is not None:
            sock = self._client._client.socket()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # the fd stays valid for paho

    async def crash(self) -> None:
        """Drop the connection without a goodbye: the broker sends the last will."""
        self._drop()
        await self.stop()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        # aiomqtt's message iterator sometimes sits on a cancellation for a long time;
        # dropping the connection ends it at once.
        _, pending = await asyncio.wait({self._task}, timeout=1.0)
        if pending:
            self._drop()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError, OSError):
            await self._task


@contextlib.asynccontextmanager
async def simulated(
    host: str, port: int, topics: Topics, key: str | None, **kw: Any
) -> AsyncIterator[SimulatedAgent]:
    agent = SimulatedAgent(host, port, topics, key, **kw)
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop()
