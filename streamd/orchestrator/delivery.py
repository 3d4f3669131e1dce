"""Commands to the rooms: built, signed, sent until acknowledged, their answers recorded.

The same id is sent each time (the agent carries a command out once). The answer is written
before `deliver` returns, except on the pause's fast path, which writes it behind the
step itself; `settle` lets those writes land before the next step of the same stream.
An unanswered command flags the stream at risk before the technicians are alerted.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt

from streamd.config import Settings
from streamd.domain import CommandStatus
from streamd.orchestrator import records
from streamd.orchestrator.alerts import AlertDesk
from streamd.orchestrator.records import Refused, StreamView
from streamd.orchestrator.rooms import Room
from streamd.orchestrator.stats import OrchestratorStats
from streamd.orchestrator.worker import Worker
from streamd_protocol import (
    Ack,
    Command,
    CommandKind,
    Compose,
    EndStream,
    GoLive,
    Pause,
    Prepare,
    PublishTarget,
    RestartPublisher,
    Resume,
    Stop,
    signed,
)

log = logging.getLogger(__name__)
COMMAND_TTL = timedelta(seconds=60)
_BUILD: dict[CommandKind, type[Any]] = {
    CommandKind.PREPARE: Prepare,
    CommandKind.GO_LIVE: GoLive,
    CommandKind.PAUSE: Pause,
    CommandKind.RESUME: Resume,
    CommandKind.END_STREAM: EndStream,
    CommandKind.STOP: Stop,
    CommandKind.RESTART_PUBLISHER: RestartPublisher,
    CommandKind.COMPOSE: Compose,
}
Publish = Callable[[str, bytes], Coroutine[Any, Any, None]]


class Delivery:
    def __init__(
        self,
        *,
        settings: Settings,
        rooms: dict[str, Room],
        publish: Publish,
        work: Worker,
        alerts: AlertDesk,
        stats: OrchestratorStats,
    ) -> None:
        self.settings = settings
        self.rooms = rooms
        self._publish = publish
        self.work = work
        self.alerts = alerts
        self.stats = stats
        self._acks: dict[str, asyncio.Future[Ack]] = {}
        self._writes: defaultdict[int, list[asyncio.Task[None]]] = defaultdict(list)
        # What the room's self-test checks against (the planned length, the line), set by
        # the scheduler and sent with the hearing's prepare.
        self.prepare_facts: dict[int, dict[str, Any]] = {}

    def build(
        self,
        view: StreamView,
        kind: CommandKind,
        *,
        target: PublishTarget | None = None,
        reason: str | None = None,
        compose: dict[str, Any] | None = None,
    ) -> Command:
        now = datetime.now(UTC)
        fields: dict[str, Any] = {
            "id": f"{kind.value}-{uuid.uuid4().hex[:20]}",
            "room": view.room,
            "hearing_id": view.hearing_id,
            "issued_at": now,
            "expires_at": now + COMMAND_TTL,
        }
        if kind in (CommandKind.GO_LIVE, CommandKind.RESTART_PUBLISHER):
            fields["target"] = target
        if kind is CommandKind.PAUSE:
            fields["reason"] = (reason or "incident")[:500]
        if kind is CommandKind.PREPARE:
            fields.update(self.prepare_facts.pop(view.hearing_id, {}))
        if kind is CommandKind.COMPOSE:
            fields.update(compose or {})
        cmd: Command = _BUILD[kind](**fields)
        return cmd

    def in_flight(self, command_id: str) -> bool:
        return command_id in self._acks

    def answered(self, ack: Ack) -> None:
        """An ack arrived: wake its sender, or settle a command a previous run sent."""
        if ack.command_id is None:
            return
        future = self._acks.get(ack.command_id)
        if future is not None and not future.done():
            future.set_result(ack)
        elif future is None:  # sent by a previous run of streamd: settle it now
            self.work.spawn(
                self.work.later(
                    records.command_answered,
                    command_id=ack.command_id,
                    status=CommandStatus.ACKED if ack.ok else CommandStatus.REFUSED,
                    error=ack.error.value if ack.error else None,
                    message=ack.message,
                )
            )

    def behind(self, view: StreamView, write: Coroutine[Any, Any, None]) -> None:
        """Run a database write of the fast path behind the ones before it."""
        self._writes[view.stream_id].append(self.work.spawn(write))

    async def settle(self, view: StreamView) -> None:
        """Let the fast path's database writes for this stream land first."""
        pending = [t for t in self._writes.pop(view.stream_id, []) if not t.done()]
        if pending:
            await asyncio.gather(*pending)

    async def deliver(self, view: StreamView, cmd: Command, *, fast: bool = False) -> Ack | None:
        """Send until acknowledged; the answer is recorded before returning, except on the
        fast path, which records it behind."""
        room = self.rooms.get(view.room)
        if room is None:
            raise Refused(f"courtroom {view.room} has no agent configured")
        payload = signed(cmd, room.key)
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._acks[cmd.id] = future
        started = time.perf_counter()
        attempts = 0
        ack: Ack | None = None
        try:
            for _ in range(1 + self.settings.command_retries):
                attempts += 1
                try:
                    await self._publish(room.topics.cmd, payload)
                except (aiomqtt.MqttError, TimeoutError) as exc:
                    log.warning("sending %s to %s: %s", cmd.id, view.room, exc)
                try:
                    ack = await asyncio.wait_for(
                        asyncio.shield(future), self.settings.ack_timeout_seconds
                    )
                    break
                except TimeoutError:
                    continue
        finally:
            self._acks.pop(cmd.id, None)
        if ack is not None:
            self.stats.round_trips.observe(time.perf_counter() - started)
        await self._record(view, cmd, ack, attempts, fast=fast)
        return ack

    async def _record(
        self, view: StreamView, cmd: Command, ack: Ack | None, attempts: int, *, fast: bool
    ) -> None:
        status = (
            CommandStatus.UNACKNOWLEDGED
            if ack is None
            else (CommandStatus.ACKED if ack.ok else CommandStatus.REFUSED)
        )
        self.stats.commands[status] += 1
        answered = self.work.later(
            records.command_answered,
            command_id=cmd.id,
            status=status,
            attempts=attempts,
            error=ack.error.value if ack is not None and ack.error else None,
            message=ack.message if ack is not None else None,
        )
        flagged = (
            self.work.later(
                records.flag,
                stream_id=view.stream_id,
                reason=f"{cmd.kind.value} not acknowledged",
            )
            if ack is None
            else None
        )
        if fast:
            prior = list(self._writes[view.stream_id])  # the step itself lands first

            async def after_step() -> None:
                await asyncio.gather(*prior)
                await answered
                if flagged is not None:
                    await flagged

            self.behind(view, after_step())
        else:
            await answered
            if flagged is not None:
                await flagged  # the stream shows at risk before anyone is alerted
        if ack is None:
            self.alerts.raise_(
                "command_unacknowledged",
                "critical",
                view.room,
                view.hearing_id,
                f"法庭 {view.room} 未确认指令 {cmd.kind.value}（庭审 {view.hearing_id}）",
                f"{view.room} did not acknowledge {cmd.kind.value} for hearing "
                f"{view.hearing_id} after {attempts} attempts",
            )
        elif ack.ok:
            self.alerts.clear("command_unacknowledged", view.room, view.hearing_id)
