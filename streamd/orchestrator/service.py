"""The orchestrator: turns the clerk's console and the schedule into agent commands, and the
agents' state, acks and events into what the court sees.

Order of work for every step: decide (streamd.lifecycle), persist (database, or for a
pause the fast journal), then send; an ack is awaited, the command resent with the same
id (the agent does it once), and a command still unanswered is escalated to the
technicians. A pause reads only memory and the local journal before it is sent, so a slow
database or allocation can never hold the slate back.

After a restart nothing that changes what is live is sent again: the database and the
agents' retained state are read back, commands left unanswered are settled against what
the agents report, and only a pause the room has not carried out is sent again (fail
closed).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, overload
from urllib.parse import unquote, urlsplit

import aiomqtt
from pydantic import ValidationError

from streamd.config import Settings
from streamd.court import CourtStructure
from streamd.domain import CommandStatus
from streamd.lifecycle import RECORDING, TERMINAL, StreamAction, StreamState, step
from streamd.orchestrator import push, records, selftests, tracks
from streamd.orchestrator.alerts import AlertDesk
from streamd.orchestrator.feed import Feed
from streamd.orchestrator.journal import FastJournal
from streamd.orchestrator.records import CommandNote, Refused, StreamView
from streamd.orchestrator.repairs import PlanRepair
from streamd.orchestrator.rooms import Room, court_secret, rooms_of
from streamd.orchestrator.worker import Worker
from streamd.policy import Ruleset
from streamd.store import Database
from streamd_protocol import (
    Ack,
    AgentPhase,
    AgentState,
    Command,
    CommandKind,
    Compose,
    EndStream,
    Event,
    GoLive,
    Leaf,
    Pause,
    Prepare,
    ProcessState,
    PublishTarget,
    RestartPublisher,
    Resume,
    SelfTest,
    Stop,
    Telemetry,
    TranscriptLine,
    parse_topic,
    signed,
)
from streamd_protocol.transport import no_delay

log = logging.getLogger(__name__)
HISTORY = 180  # telemetry beats kept per room (3 minutes at one a second)

COMMAND_TTL = timedelta(seconds=60)
EXPECTED_PHASE = {
    StreamState.BOOKED: AgentPhase.IDLE,
    StreamState.PREPARING: AgentPhase.READY,
    StreamState.READY: AgentPhase.READY,
    StreamState.LIVE: AgentPhase.LIVE,
    StreamState.PAUSED: AgentPhase.PAUSED,
    StreamState.OFF_AIR: AgentPhase.READY,
}
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


class UnknownView(Refused):
    """A compose command naming a view or layout the room does not have."""


@dataclass(slots=True)
class AgentView:
    room: str
    state: AgentState | None = None
    telemetry: Telemetry | None = None
    last_seen: float = 0.0  # monotonic
    silent: bool = False
    selftest: SelfTest | None = None  # the room's latest pre-hearing self-test
    # The last few minutes of telemetry, for the technicians' wall (fps and bitrate lines).
    history: deque[Telemetry] = field(default_factory=lambda: deque(maxlen=HISTORY))

    @property
    def online(self) -> bool:
        return self.state is not None and self.state.phase is not AgentPhase.OFFLINE

    def public(self) -> dict[str, Any]:
        return {
            "room": self.room,
            "online": self.online,
            "silent": self.silent,
            "phase": self.state.phase.value if self.state else None,
            "hearing_id": self.state.hearing_id if self.state else None,
            "state": self.state.model_dump(mode="json") if self.state else None,
            "telemetry": self.telemetry.model_dump(mode="json") if self.telemetry else None,
            "selftest": self.selftest.model_dump(mode="json") if self.selftest else None,
        }


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """What the clerk is told: the state now, and what became of the command."""

    hearing_id: int
    state: StreamState
    noop: bool = False
    held: bool = False  # a pause that waits for a go_live in flight
    command_id: str | None = None
    command: CommandKind | None = None
    delivery: str | None = None  # acked | refused | unacknowledged
    message: str = ""


ROUND_TRIP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(slots=True)
class RoundTrips:
    """Command → ack seconds as histogram buckets: constant memory however long streamd runs."""

    counts: list[int] = field(default_factory=lambda: [0] * len(ROUND_TRIP_BUCKETS))
    total: int = 0
    sum: float = 0.0

    def observe(self, seconds: float) -> None:
        self.total += 1
        self.sum += seconds
        for k, bound in enumerate(ROUND_TRIP_BUCKETS):
            if seconds <= bound:
                self.counts[k] += 1
                break


@dataclass(slots=True)
class OrchestratorStats:
    malformed: int = 0
    received: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    round_trips: RoundTrips = field(default_factory=RoundTrips)
    commands: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by outcome


class Orchestrator:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        structure: CourtStructure,
        rules: Ruleset,
        mqtt_url: str,
        feed: Feed | None = None,
        may_send: Callable[[], bool] | None = None,
    ) -> None:
        self.db = db
        # Several replicas: only while this one leads (streamd.orchestrator.leadership),
        # checked at every send, so a replica that lost its lease stops at once.
        self._may_send = may_send
        self.settings = settings
        self.rules = rules
        self.court = structure.court.code
        self.rooms: dict[str, Room] = rooms_of(structure, court_secret(settings))
        self.feed = feed or Feed()
        url = urlsplit(mqtt_url)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 1883
        self._tls = url.scheme == "mqtts"
        # mqtt://streamd:PASSWORD@host: the broker user `streamd mqtt-acl` writes
        self._auth = (unquote(url.username), unquote(url.password or "")) if url.username else None
        self.views: dict[int, StreamView] = {}
        self.agents: dict[str, AgentView] = {code: AgentView(code) for code in self.rooms}
        self.stats = OrchestratorStats()
        self.journal = FastJournal(settings.data_dir / "orchestrator.journal")
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._acks: dict[str, asyncio.Future[Ack]] = {}
        self._writes: defaultdict[int, list[asyncio.Task[None]]] = defaultdict(list)
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self.work = Worker(db)
        self.alerts = AlertDesk(self.feed, self.work)
        self.repairs = PlanRepair(
            work=self.work,
            alerts=self.alerts,
            feed=self.feed,
            settings=settings,
            rules=rules,
            follow=self.follow_line,
        )
        self.started = asyncio.Event()  # recovered and subscribed
        self.prepare_facts: dict[int, dict[str, Any]] = {}

    # ---- running ---------------------------------------------------------------------

    async def run(self) -> None:
        """Recover, then serve until cancelled."""
        await self._recover()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._mqtt_loop(), name="orchestrator.mqtt")
                tg.create_task(self._store_events_loop(), name="orchestrator.events")
                tg.create_task(self._watch_agents(), name="orchestrator.liveness")
                tg.create_task(self._settle_after_restart(), name="orchestrator.reconcile")
                tg.create_task(self._schedule_loop(), name="orchestrator.scheduler")
        finally:
            # Writes still queued are in the fast journal; the next start copies them.
            await self.work.drain()

    def close(self) -> None:
        self.journal.close()

    async def _recover(self) -> None:
        for key, data in self.journal.pending():
            await self.work.call(records.persist_step, **_step_from_json(data))
            self.journal.copied(key)
        self.journal.compact()
        for view in await self.work.call(records.active_streams):
            self.views[view.hearing_id] = view
        for alert in await self.work.call(records.list_alerts, open_only=True, limit=10_000):
            self.alerts.open_keys.add(alert.key)
        log.info("orchestrator: %d active streams after recovery", len(self.views))

    # ---- MQTT ------------------------------------------------------------------------

    def _client_args(self) -> dict[str, Any]:
        digest = hashlib.sha256(self.court.encode()).hexdigest()[:12]
        args: dict[str, Any] = {
            "hostname": self._host,
            "port": self._port,
            "identifier": f"streamd-{digest}",
            "clean_session": False,  # acks and events sent while we restart are kept
            "keepalive": 5,
            "timeout": 5.0,
        }
        if self._auth is not None:
            args["username"], args["password"] = self._auth
        if self._tls:
            import ssl

            args["tls_context"] = ssl.create_default_context()
        return args

    async def _mqtt_loop(self) -> None:
        delay = 0.2
        base = f"court/{self.court}/room/+"
        while True:
            try:
                async with aiomqtt.Client(**self._client_args()) as client:
                    no_delay(client)
                    await client.subscribe(
                        [
                            (f"{base}/{Leaf.STATE.value}", 1),
                            (f"{base}/{Leaf.ACK.value}", 1),
                            (f"{base}/{Leaf.EVENTS.value}", 1),
                            (f"{base}/{Leaf.TELEMETRY.value}", 0),
                            (f"{base}/{Leaf.SELFTEST.value}", 1),
                        ]
                    )
                    self._client = client
                    self._connected.set()
                    self.started.set()
                    delay = 0.2
                    self.work.spawn(self._forward_transcript_backlog())
                    async for message in client.messages:
                        self._dispatch(str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # aiomqtt's exit can turn our cancellation into a disconnect error.
                    raise asyncio.CancelledError from exc
                log.warning("broker connection lost: %s", exc)
            finally:
                self._client = None
                self._connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        if self._may_send is not None and not self._may_send():
            raise aiomqtt.MqttError("this replica does not lead: nothing is sent")
        if not self._connected.is_set():
            await asyncio.wait_for(self._connected.wait(), self.settings.ack_timeout_seconds)
        client = self._client
        if client is None:
            raise aiomqtt.MqttError("not connected")
        await client.publish(topic, payload, qos=qos, timeout=self.settings.ack_timeout_seconds)

    def _dispatch(self, topic: str, payload: Any) -> None:
        try:
            parsed = parse_topic(topic)
            if parsed is None or parsed[0].court != self.court:
                return
            topics, leaf = parsed
            room = topics.room
            raw = payload if isinstance(payload, bytes | str) else bytes(payload or b"")
            self.stats.received[leaf.value] += 1
            if room not in self.agents:
                self.agents[room] = AgentView(room)  # an agent we have no config for: watch it
            if leaf is Leaf.STATE:
                self._on_state(room, AgentState.model_validate_json(raw))
            elif leaf is Leaf.ACK:
                self._on_ack(room, Ack.model_validate_json(raw))
            elif leaf is Leaf.EVENTS:
                self._on_event(room, Event.model_validate_json(raw))
            elif leaf is Leaf.TELEMETRY:
                self._on_telemetry(room, Telemetry.model_validate_json(raw))
            elif leaf is Leaf.SELFTEST:
                self._on_selftest(room, SelfTest.model_validate_json(raw))
        except (ValidationError, ValueError) as exc:
            self.stats.malformed += 1
            log.warning("ignoring a malformed message on %s: %s", topic, str(exc)[:200])

    def _seen(self, room: str) -> AgentView:
        agent = self.agents[room]
        agent.last_seen = time.monotonic()
        if agent.silent:
            agent.silent = False
            self.alerts.clear("agent_silent", room, None)
        return agent

    def _on_state(self, room: str, state: AgentState) -> None:
        agent = self.agents[room]
        was_online = agent.online
        agent.state = state
        if state.phase is AgentPhase.OFFLINE:
            agent.silent = False
            if was_online or agent.last_seen == 0.0:
                self._agent_lost(room, "offline")
        else:
            self._seen(room)
            if not was_online:
                self.alerts.clear("agent_offline", room, None)
                for view in self._views_in(room):
                    self.work.write(records.flag, stream_id=view.stream_id, reason=None)
            self._reconcile(room, state)
        self.feed.publish("agent", agent.public())

    def _on_ack(self, room: str, ack: Ack) -> None:
        self._seen(room)
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

    def pushing(self, room: str) -> bool:
        """The room's publisher runs and sends frames, by its latest telemetry."""
        agent = self.agents.get(room)
        t = agent.telemetry if agent is not None and agent.online else None
        return t is not None and t.publisher.state is ProcessState.RUNNING and bool(t.publisher.fps)

    def _on_event(self, room: str, event: Event) -> None:
        self._seen(room)
        self._events.put_nowait(event)
        push.note(self.alerts, self.work, room, event)
        tracks.note(self.alerts, room, event)
        self.feed.publish("event", event.model_dump(mode="json"))

    def _on_selftest(self, room: str, report: SelfTest) -> None:
        self.agents[room].selftest = report
        selftests.note(self.alerts, room, report)
        self.feed.publish("selftest", report.model_dump(mode="json"))

    def _on_telemetry(self, room: str, telemetry: Telemetry) -> None:
        agent = self._seen(room)
        agent.telemetry = telemetry
        push.pushed_again(self.alerts, self.work, room, telemetry)
        agent.history.append(telemetry)
        self.feed.publish("telemetry", telemetry.model_dump(mode="json"))

    async def _store_events_loop(self) -> None:
        while True:
            batch = [await self._events.get()]
            while not self._events.empty() and len(batch) < 500:
                batch.append(self._events.get_nowait())
            await self.work.later(records.store_events, events=batch)

    # ---- liveness --------------------------------------------------------------------

    def _views_in(self, room: str) -> list[StreamView]:
        return [v for v in self.views.values() if v.room == room]

    def _agent_lost(self, room: str, how: str) -> None:
        streams = [v for v in self._views_in(room) if v.state in RECORDING]
        hearings = ", ".join(str(v.hearing_id) for v in streams) or "-"
        if how == "offline":
            zh = f"法庭 {room} 的采集端离线（庭审 {hearings} 有风险）"
            en = f"agent of {room} went offline (hearings at risk: {hearings})"
        else:
            zh = f"法庭 {room} 的采集端 {self.settings.agent_silence_seconds:g} 秒无响应"
            en = f"agent of {room} silent for {self.settings.agent_silence_seconds:g} s"
        self.alerts.raise_(f"agent_{how}", "critical", room, None, zh, en)
        for view in streams:
            self.work.write(records.flag, stream_id=view.stream_id, reason=en)

    async def _watch_agents(self) -> None:
        limit = self.settings.agent_silence_seconds
        while True:
            await asyncio.sleep(min(1.0, limit / 4))
            now = time.monotonic()
            for agent in self.agents.values():
                if agent.online and not agent.silent and now - agent.last_seen > limit:
                    agent.silent = True
                    self._agent_lost(agent.room, "silent")
                    self.feed.publish("agent", agent.public())

    # ---- commands --------------------------------------------------------------------

    def _command(
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

    async def _deliver(self, view: StreamView, cmd: Command, *, fast: bool = False) -> Ack | None:
        """Send until acknowledged (same id each time: the agent does it once). The answer
        is recorded before returning, except on the fast path, which records it behind."""
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

            self._writes[view.stream_id].append(self.work.spawn(after_step()))
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
        return ack

    async def _settle_writes(self, view: StreamView) -> None:
        """Let the fast path's database writes for this stream land first."""
        pending = [t for t in self._writes.pop(view.stream_id, []) if not t.done()]
        if pending:
            await asyncio.gather(*pending)

    async def _view(self, hearing_id: int) -> StreamView:
        view = self.views.get(hearing_id)
        if view is None:
            view = await self.work.call(
                records.stream_for, hearing_id=hearing_id, rooms=list(self.rooms)
            )
            self.views[hearing_id] = view
        return view

    def _announce(self, view: StreamView, actor: str, reason: str | None) -> None:
        self.feed.publish(
            "stream",
            {
                "hearing_id": view.hearing_id,
                "room": view.room,
                "state": view.state.value,
                "actor": actor,
                "reason": reason,
                "at": datetime.now(UTC).isoformat(),
            },
        )

    async def act(
        self, hearing_id: int, action: StreamAction, *, actor: str, reason: str | None = None
    ) -> CommandOutcome:
        """Take one lifecycle step for a hearing. Raises `Refused` or `LookupError`."""
        if action is StreamAction.PAUSE:
            return await self.pause(hearing_id, actor=actor, reason=reason)
        async with self._locks[hearing_id]:
            view = await self._view(hearing_id)
            await self._settle_writes(view)
            decided = step(view.state, action)
            if not decided.ok:
                raise Refused(decided.error or "refused")
            if decided.noop:
                return CommandOutcome(hearing_id, view.state, noop=True, message="nothing to do")
            target: PublishTarget | None = None
            line_id: int | None = None
            if decided.command in (CommandKind.PREPARE, CommandKind.GO_LIVE):
                self._require_online(view.room)
            if decided.command is CommandKind.GO_LIVE:
                await self.repairs.before_go_live(hearing_id)
                target, line_id = await self.work.call(
                    records.publish_target, hearing_id=hearing_id, rules=self.rules
                )
            cmd = (
                self._command(view, decided.command, target=target, reason=reason)
                if decided.command is not None
                else None
            )
            before = view.state
            # A pause arriving while this puts the room on air is held, then sent after.
            view.going_live = decided.command in (CommandKind.GO_LIVE, CommandKind.RESUME)
            try:
                await self.work.call(
                    records.persist_step,
                    stream_id=view.stream_id,
                    action=action,
                    before=before,
                    after=decided.after,
                    actor=actor,
                    reason=reason,
                    command=_note(cmd),
                    room=view.room,
                    line_id=line_id,
                )
            except records.StaleState:
                view.going_live = False
                self.views.pop(hearing_id, None)  # another writer moved it: read it afresh
                raise
            except BaseException:
                view.going_live = False
                raise
            view.state = decided.after
            self._announce(view, actor, reason)
            if cmd is None:
                self._forget_if_done(view)
                return CommandOutcome(hearing_id, view.state)
            try:
                ack = await self._deliver(view, cmd)
            finally:
                view.going_live = False
            outcome = await self._answered(view, cmd, ack, before)
        if view.hold is not None and view.state is StreamState.LIVE:
            held, view.hold = view.hold, None
            await self.pause(hearing_id, actor=actor, reason=held)
        self._forget_if_done(view)
        return outcome

    async def _send_noted(self, view: StreamView, cmd: Command, actor: str) -> CommandOutcome:
        """A command that changes no stream state (restart the publisher, compose the
        picture): noted in the stream's history first, then sent, and its answer told."""
        await self.work.call(
            records.note_command,
            stream_id=view.stream_id,
            command=_note(cmd),
            room=view.room,
            actor=actor,
        )
        ack = await self._deliver(view, cmd)
        out = CommandOutcome(view.hearing_id, view.state, command_id=cmd.id, command=cmd.kind)
        if ack is None:
            return replace(out, delivery="unacknowledged", message="the agent did not answer")
        return replace(out, delivery="acked" if ack.ok else "refused", message=ack.message)

    def _require_online(self, room: str) -> None:
        agent = self.agents.get(room)
        if agent is None or not agent.online or agent.silent:
            raise Refused(f"the agent of courtroom {room} is offline / 法庭采集端离线")

    def _forget_if_done(self, view: StreamView) -> None:
        if view.state in TERMINAL:
            self.views.pop(view.hearing_id, None)

    async def _answered(
        self, view: StreamView, cmd: Command, ack: Ack | None, before: StreamState
    ) -> CommandOutcome:
        out = CommandOutcome(view.hearing_id, view.state, command_id=cmd.id, command=cmd.kind)
        if ack is None:
            return replace(out, delivery="unacknowledged", message="the agent did not answer")
        if not ack.ok:
            # The room did not do it: the stream is what it was, and the clerk is told why.
            await self.work.call(
                records.persist_step,
                stream_id=view.stream_id,
                action="refused",
                before=view.state,
                after=before,
                actor="agent",
                reason=f"{ack.error.value if ack.error else 'refused'}: {ack.message}",
                command=None,
                room=view.room,
            )
            view.state = before
            self._announce(view, "agent", ack.message)
            self.alerts.raise_(
                "command_refused",
                "warning",
                view.room,
                view.hearing_id,
                f"法庭 {view.room} 拒绝指令 {cmd.kind.value}：{ack.message}",
                f"{view.room} refused {cmd.kind.value}: {ack.message}",
            )
            return replace(out, state=before, delivery="refused", message=ack.message)
        if cmd.kind is CommandKind.PREPARE and view.state is StreamState.PREPARING:
            await self._mark_prepared(view, "recording started")
        return replace(out, state=view.state, delivery="acked", message=ack.message)

    async def restart_publisher(self, hearing_id: int, *, actor: str) -> CommandOutcome:
        """A technician's restart of the room's public encoder. The stream's state does
        not change; the command is recorded with the stream like every other."""
        async with self._locks[hearing_id]:
            view = await self._view(hearing_id)
            if view.state not in (StreamState.LIVE, StreamState.PAUSED):
                raise Refused(
                    f"直播未进行，无需重启 / nothing public to restart ({view.state.value})"
                )
            self._require_online(view.room)
            cmd = self._command(view, CommandKind.RESTART_PUBLISHER)
            return await self._send_noted(view, cmd, actor)

    async def compose(
        self,
        hearing_id: int,
        *,
        actor: str,
        pin: str | None = None,
        auto: bool = False,
        layout: str | None = None,
    ) -> CommandOutcome:
        """The clerk pins a view in the large tile, returns it to the voice, or changes the
        layout. The stream's state does not change; the command is recorded with it."""
        async with self._locks[hearing_id]:
            view = await self._view(hearing_id)
            recording = (
                StreamState.READY,
                StreamState.LIVE,
                StreamState.PAUSED,
                StreamState.OFF_AIR,
            )
            if view.state not in recording:
                raise Refused(f"未在录制，无法切换画面 / not recording ({view.state.value})")
            self._require_online(view.room)
            self._check_composition(view.room, pin, layout)
            cmd = self._command(
                view,
                CommandKind.COMPOSE,
                compose={"pin": pin, "auto": auto, "layout": layout},
            )
            return await self._send_noted(view, cmd, actor)

    def _check_composition(self, room: str, pin: str | None, layout: str | None) -> None:
        """Refuse a view or layout the room's agent says it does not have; before its first
        telemetry nothing is known, and the agent's own check answers instead."""
        agent = self.agents.get(room)
        comp = agent.telemetry.composition if agent and agent.telemetry else None
        if comp is None:
            return
        if pin is not None and pin not in comp.views:
            raise UnknownView(f"pin: {room} has no view {pin!r} / 本庭无此画面")
        if layout is not None and comp.layouts and layout not in comp.layouts:
            raise UnknownView(f"layout: {room} has no layout {layout!r} / 本庭无此布局")

    async def follow_line(self, hearing_id: int) -> None:
        """Move a hearing on air to the line the plan now gives it (its own went down):
        the publisher restarts on the new line, the recording is not touched. With no line
        left, nothing can go out: the technicians are told, the monitor counts the gap."""
        async with self._locks[hearing_id]:
            view = await self._view(hearing_id)
            if view.state not in (StreamState.LIVE, StreamState.PAUSED):
                return
            try:
                target, line_id = await self.work.call(
                    records.publish_target, hearing_id=hearing_id, rules=self.rules
                )
                cmd = self._command(view, CommandKind.RESTART_PUBLISHER, target=target)
                await self.work.call(
                    records.move_line,
                    stream_id=view.stream_id,
                    line_id=line_id,
                    command=_note(cmd),
                    room=view.room,
                    actor="orchestrator",
                )
            except Refused as exc:
                self.alerts.raise_(
                    "line_down_on_air",
                    "critical",
                    view.room,
                    hearing_id,
                    f"庭审 {hearing_id} 直播中线路故障，无其他空闲线路：{exc}",
                    f"hearing {hearing_id} is on air on a line that is down, no other line: {exc}",
                )
                return
            self.alerts.clear("line_down_on_air", view.room, hearing_id)
            ack = await self._deliver(view, cmd)
            if ack is None or not ack.ok:
                log.warning("moving hearing %s to line %s: %s", hearing_id, line_id, ack)

    async def pause(self, hearing_id: int, *, actor: str, reason: str | None) -> CommandOutcome:
        """The fast path: memory, one fsynced journal line, send. No database, no lock."""
        view = self.views.get(hearing_id) or await self._view(hearing_id)
        if view.going_live and view.state in (StreamState.READY, StreamState.PAUSED):
            view.hold = reason or "incident"
            return CommandOutcome(hearing_id, view.state, held=True, message="will pause once live")
        decided = step(view.state, StreamAction.PAUSE)
        if decided.noop or decided.command is None:
            return CommandOutcome(
                hearing_id, view.state, noop=True, message="nothing public to pause"
            )
        cmd = self._command(view, CommandKind.PAUSE, reason=reason)
        note = _note(cmd)
        assert note is not None
        data = {
            "stream_id": view.stream_id,
            "action": StreamAction.PAUSE.value,
            "before": view.state.value,
            "after": decided.after.value,
            "actor": actor,
            "reason": reason,
            "room": view.room,
            "at": cmd.issued_at.isoformat(),
            "command": {
                "id": note.id,
                "kind": note.kind,
                "issued_at": note.issued_at.isoformat(),
                "expires_at": note.expires_at.isoformat(),
            },
        }
        self.journal.step(cmd.id, data)
        before = view.state
        view.state = decided.after
        self._writes[view.stream_id].append(self.work.spawn(self._copy_step(cmd.id, data)))
        deliver = self.work.spawn(self._deliver(view, cmd, fast=True))
        self._announce(view, actor, reason)
        ack = await deliver
        if ack is not None and not ack.ok:
            await self._settle_writes(view)
            return await self._answered(view, cmd, ack, before)
        return CommandOutcome(
            hearing_id,
            view.state,
            command_id=cmd.id,
            command=CommandKind.PAUSE,
            delivery="unacknowledged" if ack is None else "acked",
            message="" if ack is None else ack.message,
        )

    async def _copy_step(self, key: str, data: dict[str, Any]) -> None:
        await self.work.later(records.persist_step, **_step_from_json(data))
        self.journal.copied(key)

    # ---- console extras --------------------------------------------------------------

    async def add_transcript(
        self, hearing_id: int, *, speaker: str, text: str, key: str | None, user: str
    ) -> tuple[int, bool]:
        view = await self._view(hearing_id)
        entry, created = await self.work.call(
            records.add_transcript,
            stream_id=view.stream_id,
            speaker=speaker,
            text=text,
            key=key,
            user=user,
        )
        if created and entry.id is not None:
            line = TranscriptLine(hearing_id=hearing_id, seq=entry.seq, speaker=speaker, text=text)
            self.work.spawn(self._forward([(entry.id, view.room, line)]))
        return entry.seq, created

    async def _forward(self, lines: list[tuple[int, str, TranscriptLine]]) -> None:
        done: list[int] = []
        for entry_id, room_code, line in lines:
            room = self.rooms.get(room_code)
            if room is None:
                continue
            try:
                await self._publish(room.topics.transcript, line.to_bytes())
            except (aiomqtt.MqttError, TimeoutError):
                break  # the rest go with the backlog on the next connection
            done.append(entry_id)
        if done:
            await self.work.later(records.mark_forwarded, entry_ids=done)

    async def _forward_transcript_backlog(self) -> None:
        rows = await self.work.call(records.unforwarded)
        lines = [
            (
                t.id,
                s.room,
                TranscriptLine(hearing_id=s.hearing_id, seq=t.seq, speaker=t.speaker, text=t.text),
            )
            for t, s in rows
            if t.id is not None
        ]
        if lines:
            await self._forward(lines)

    async def start_interruption(
        self, hearing_id: int, *, kind: str, reason: str | None, user: str
    ) -> CommandOutcome:
        view = await self._view(hearing_id)
        _, created = await self.work.call(
            records.start_interruption,
            stream_id=view.stream_id,
            kind=kind,
            reason=reason,
            user=user,
        )
        if created and view.state is StreamState.LIVE:
            zh, en = records.INTERRUPTIONS[kind]
            label = f"{zh} / {en}" + (f": {reason}" if reason else "")
            return await self.pause(hearing_id, actor=user, reason=label)
        return CommandOutcome(hearing_id, view.state, noop=not created)

    async def end_interruption(self, hearing_id: int, *, user: str) -> CommandOutcome:
        view = await self._view(hearing_id)
        row = await self.work.call(records.end_interruption, stream_id=view.stream_id, user=user)
        return CommandOutcome(hearing_id, view.state, noop=row is None)

    # ---- schedule --------------------------------------------------------------------

    async def _schedule_loop(self) -> None:
        await self.started.wait()
        while True:
            try:
                await self.prepare_due()
            except Exception:
                log.exception("preparing due hearings")
            try:
                await self.repairs.tick()
            except Exception:
                log.exception("repairing the line plan")
            await asyncio.sleep(self.settings.scheduler_seconds)

    async def prepare_due(self) -> None:
        """Start recording every hearing due within `prepare_minutes` whose room is free."""
        due = await self.work.call(
            records.due_hearings,
            now=datetime.now(UTC),
            lead=timedelta(minutes=self.settings.prepare_minutes),
            rooms=list(self.rooms),
        )
        for hearing_id, room, start in due:
            busy = [
                v
                for v in self._views_in(room)
                if v.hearing_id != hearing_id and v.state in RECORDING
            ]
            agent = self.agents.get(room)
            if busy or agent is None or not agent.online:
                if start <= datetime.now(UTC):
                    why = (
                        f"hearing {busy[0].hearing_id} still in session"
                        if busy
                        else "agent offline"
                    )
                    self.alerts.raise_(
                        "prepare_blocked",
                        "warning",
                        room,
                        hearing_id,
                        f"庭审 {hearing_id} 已到开庭时间但未能开始录制（{room}）",
                        f"hearing {hearing_id} is due but recording cannot start: {why}",
                    )
                continue
            if self._locks[hearing_id].locked():
                continue
            try:
                # What the room's self-test checks against (the planned length, the line).
                self.prepare_facts[hearing_id] = await self.work.call(
                    selftests.prepare_facts, hearing_id=hearing_id
                )
                await self.act(
                    hearing_id,
                    StreamAction.PREPARE,
                    actor="scheduler",
                    reason=f"{self.settings.prepare_minutes} minutes before the start",
                )
                self.alerts.clear("prepare_blocked", room, hearing_id)
            except (Refused, records.StaleState) as exc:
                log.warning("prepare %s: %s", hearing_id, exc)

    # ---- after a restart -------------------------------------------------------------

    def _reconcile(self, room: str, state: AgentState) -> None:
        """Compare a room's report with what the database says; never act on live state."""
        for view in self._views_in(room):
            if self._locks[view.hearing_id].locked() or view.going_live:
                continue  # a step is in flight; its ack will tell
            if state.hearing_id not in (None, view.hearing_id):
                continue
            expected = EXPECTED_PHASE.get(view.state)
            if expected is None:
                continue
            if view.state is StreamState.PREPARING and state.phase is AgentPhase.READY:
                self.work.spawn(self._promote_prepared(view))
                continue
            if expected is not state.phase and view.state in RECORDING:
                self.alerts.raise_(
                    "state_mismatch",
                    "warning",
                    room,
                    view.hearing_id,
                    f"庭审 {view.hearing_id} 记录为 {view.state.value}，"
                    f"法庭报告 {state.phase.value}",
                    f"hearing {view.hearing_id} is {view.state.value} here, "
                    f"the room reports {state.phase.value}",
                )
            elif expected is state.phase:
                self.alerts.clear("state_mismatch", room, view.hearing_id)

    async def _promote_prepared(self, view: StreamView) -> None:
        async with self._locks[view.hearing_id]:
            if view.state is StreamState.PREPARING:
                await self._mark_prepared(view, "recording confirmed by the room's state")

    async def _mark_prepared(self, view: StreamView, reason: str) -> None:
        """The room records: preparing → ready, said by the agent (ack or state)."""
        await self.work.call(
            records.persist_step,
            stream_id=view.stream_id,
            action=StreamAction.PREPARED,
            before=StreamState.PREPARING,
            after=StreamState.READY,
            actor="agent",
            reason=reason,
            command=None,
            room=view.room,
        )
        view.state = StreamState.READY
        self._announce(view, "agent", "recording started")

    async def _settle_after_restart(self) -> None:
        """Commands a previous run sent and never heard back about: settle them against
        the rooms' retained state once it has arrived. Resent only if it is a pause the
        room has not carried out."""
        await self.started.wait()
        await asyncio.sleep(self.settings.ack_timeout_seconds)
        for row in await self.work.call(records.unanswered):
            if row.id in self._acks:
                continue  # ours, in flight
            stream_view = next(
                (v for v in self.views.values() if v.stream_id == row.stream_id), None
            )
            agent = self.agents.get(row.room)
            phase = agent.state.phase if agent and agent.state else None
            expected = EXPECTED_PHASE.get(stream_view.state) if stream_view else AgentPhase.IDLE
            if phase is not None and phase is expected:
                await self.work.later(
                    records.command_answered,
                    command_id=row.id,
                    status=CommandStatus.ACKED,
                    message="confirmed by the room's state after streamd restarted",
                )
                continue
            await self.work.later(
                records.command_answered,
                command_id=row.id,
                status=CommandStatus.UNACKNOWLEDGED,
                message=f"unanswered before streamd restarted; the room reports {phase}",
            )
            if (
                stream_view is not None
                and row.kind == CommandKind.PAUSE.value
                and phase is AgentPhase.LIVE
                and stream_view.state is StreamState.PAUSED
            ):
                cmd = self._command(stream_view, CommandKind.PAUSE, reason="pause re-sent")
                self.work.spawn(self._deliver(stream_view, cmd))


@overload
def _note(cmd: Command) -> CommandNote: ...
@overload
def _note(cmd: None) -> None: ...
def _note(cmd: Command | None) -> CommandNote | None:
    if cmd is None:
        return None
    return CommandNote(cmd.id, cmd.kind.value, cmd.issued_at, cmd.expires_at)


def _step_from_json(data: dict[str, Any]) -> dict[str, Any]:
    command = data.get("command")
    return {
        "stream_id": data["stream_id"],
        "action": StreamAction(data["action"]),
        "before": StreamState(data["before"]),
        "after": StreamState(data["after"]),
        "actor": data["actor"],
        "reason": data.get("reason"),
        "room": data["room"],
        "at": datetime.fromisoformat(data["at"]),
        "command": CommandNote(
            command["id"],
            command["kind"],
            datetime.fromisoformat(command["issued_at"]),
            datetime.fromisoformat(command["expires_at"]),
        )
        if command
        else None,
    }
