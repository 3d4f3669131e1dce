"""The courtroom agent: MQTT on one side, the recorder and publisher on the other.

The media side never waits on the broker. The broker connection comes and goes (jittered
backoff capped at 1 s, forever); commands are handled one at a time by a worker so a
pause is never stuck behind the message loop; events are logged to disk first and
published in order whenever a connection exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt

from agents import selftest, status
from agents.composer import Director
from agents.config import AgentConfig
from agents.journal import Journal
from agents.machine import Effect, Snapshot, decide, resume_effects
from agents.pretrial import Pretrial
from agents.publisher import Publisher
from agents.recorder import Recorder
from agents.shipper import Shipper, supervise
from agents.units import session_folder
from agents.version import VERSION
from streamd_protocol import (
    Ack,
    Command,
    Compose,
    ErrorCode,
    Event,
    EventKind,
    Leaf,
    Mask,
    Prepare,
    ProtocolError,
    SelfTest,
    Topics,
    no_delay,
    parse_command,
    parse_transcript,
    slate,
)

log = logging.getLogger(__name__)
RECONNECT_CAP = 1.0


class Agent:
    def __init__(self, cfg: AgentConfig, *, probes: selftest.Probes | None = None) -> None:
        self.cfg = cfg
        self.pretrial = Pretrial(cfg, self._publish_selftest, probes)
        self.topics = Topics(cfg.court, cfg.room.code)
        self.journal = Journal(cfg.data_dir)
        self.slate_image = slate.render(
            cfg.data_dir / "slate", cfg.court_name, cfg.agent.picture.size
        )
        self.recorder: Recorder | None = None
        self.publisher = Publisher(
            cfg, cfg.data_dir / "publish", self.slate_image, self.emit, self._next_publish_run
        )
        # Ships closed files to the archive; the recording never waits on it.
        self.shipper = Shipper(cfg, lambda: self.journal.state.session)
        # A room with several cameras: who is in the large tile (agents/composer.py).
        self.director = Director(cfg, self._on_switch) if cfg.agent.multiview else None
        self._client: aiomqtt.Client | None = None
        self._commands: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._pending_acks: list[Ack] = []
        self._events_ready = asyncio.Event()
        self._exit = asyncio.Event()
        self._shutdown = False
        self.connected = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._exit.set)
        await self.emit(EventKind.AGENT_STARTED, f"agent {VERSION} started")
        if self.director is not None:
            self.director.restore(self.journal.state.pin, self.journal.state.layout)
            self.director.start()
        await self._recover()
        worker = asyncio.create_task(self._command_worker(), name="commands")
        tasks = [
            asyncio.create_task(self._mqtt_loop(), name="mqtt"),
            asyncio.create_task(self._telemetry_loop(), name="telemetry"),
            asyncio.create_task(supervise(self.shipper), name="shipper"),
        ]
        await self._exit.wait()
        # The command in hand is finished, not cancelled half-way; then media closes.
        self._commands.put_nowait(None)
        await worker
        self.pretrial.cancel()
        await self._close_media()
        if self.director is not None:
            await self.director.stop()
        if self._shutdown:
            await self._flush(within=2.0)
        for t in tasks:
            t.cancel()
        # aiomqtt can absorb a cancellation mid-publish; exiting must not depend on it.
        await asyncio.wait(tasks, timeout=5)

    def stop(self) -> None:
        self._exit.set()

    async def _recover(self) -> None:
        """Carry on where a killed agent was: same session, same public output."""
        st = self.journal.state
        effects = resume_effects(st.phase)
        if not effects:
            return
        await self._apply(effects)
        await self.emit(
            EventKind.RECOVERED,
            f"resumed {st.phase.value} for hearing {st.hearing_id} after a restart",
            hearing_id=st.hearing_id,
            phase=st.phase.value,
        )

    async def _close_media(self) -> None:
        """Close segments cleanly; the journal keeps the phase unless this is a shutdown."""
        await self.publisher.stop()
        if self.recorder is not None:
            await self.recorder.stop()
            self.recorder = None

    def _next_publish_run(self) -> int:
        self.journal.state.publish_runs += 1
        self.journal.save()
        return self.journal.state.publish_runs

    # -- MQTT --------------------------------------------------------------------------

    async def _mqtt_loop(self) -> None:
        delay = 0.2
        while True:
            try:
                async with aiomqtt.Client(**status.broker_args(self.cfg, self.topics)) as client:
                    no_delay(client)
                    self._client = client
                    delay = 0.2
                    await client.subscribe(self.topics.cmd, qos=1)
                    await client.subscribe(self.topics.transcript, qos=1)
                    self.connected.set()
                    # Publishing waits for PUBACKs; the message loop must not wait with it, or
                    # a broker that dies right now goes unnoticed until the publish times out.
                    drain = asyncio.create_task(self._drain_loop(client))
                    try:
                        async for message in client.messages:
                            await self._on_message(str(message.topic), message.payload)
                    finally:
                        drain.cancel()
            except aiomqtt.MqttError as exc:
                log.warning("broker: %s; reconnecting in %.1f s", exc, delay)
            finally:
                self._client = None
                self.connected.clear()
            # Jittered so a court's agents do not all knock at once when the broker returns;
            # capped at 1 s so a restarted broker has its agents back within about a second.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, RECONNECT_CAP)

    async def _on_message(self, topic: str, payload: Any) -> None:
        raw = payload if isinstance(payload, bytes) else str(payload).encode()
        if topic == self.topics.cmd:
            self._commands.put_nowait(raw)
        elif topic == self.topics.transcript:
            await self._on_transcript(raw)

    async def _publish(self, topic: str, payload: bytes, *, qos: int, retain: bool = False) -> bool:
        client = self._client
        if client is None:
            return False
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=5.0)
        except aiomqtt.MqttError:
            return False
        return True

    async def publish_state(self) -> None:
        state = status.state_of(self.cfg, self.journal.state, self.recorder, self.publisher)
        await self._publish(self.topics.state, state.to_bytes(), qos=1, retain=True)

    async def _publish_selftest(self, report: SelfTest) -> bool:
        return await self._publish(
            self.topics[Leaf.SELFTEST], report.to_bytes(), qos=1, retain=True
        )

    async def emit(self, kind: EventKind, message: str = "", **data: Any) -> None:
        hearing_id = data.pop("hearing_id", None)
        seq = self.journal.count
        event = Event(
            id=f"{self.cfg.room.code}-{seq}",
            seq=seq,
            room=self.cfg.room.code,
            kind=kind,
            at=datetime.now(UTC),
            hearing_id=hearing_id,
            message=message,
            data=data,
        )
        self.journal.append_event(event)
        self._events_ready.set()
        if kind in (EventKind.SEGMENT_CLOSED, EventKind.RECORDING_STOPPED):
            self.shipper.wake()

    async def _drain_loop(self, client: aiomqtt.Client) -> None:
        """On connect the state first; then logged events in order, and held-back acks."""
        await self.publish_state()
        if self.pretrial.last is not None:
            await self._publish_selftest(self.pretrial.last)
        while True:
            self._events_ready.clear()
            await self._flush()
            await self._events_ready.wait()

    async def _flush(self, within: float | None = None) -> None:
        async with asyncio.timeout(within):
            for event in self.journal.unsent():
                if not await self._publish(self.topics.events, event.to_bytes(), qos=1):
                    return
                self.journal.mark_sent(1)
            while self._pending_acks:
                if not await self._publish(
                    self.topics.ack, self._pending_acks[0].to_bytes(), qos=1
                ):
                    return
                self._pending_acks.pop(0)

    async def _telemetry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.agent.telemetry_seconds)
            if self._client is None:
                continue
            t = status.telemetry_of(
                self.cfg, self.journal.state, self.recorder, self.publisher, self.director
            )
            await self._publish(self.topics.telemetry, t.to_bytes(), qos=0)

    # -- commands ----------------------------------------------------------------------

    async def _command_worker(self) -> None:
        while (raw := await self._commands.get()) is not None:
            try:
                await self._handle(raw)
            except Exception:  # the worker must outlive any one command
                log.exception("command failed")

    async def _answer(self, ack: Ack) -> None:
        if not await self._publish(self.topics.ack, ack.to_bytes(), qos=1):
            self._pending_acks.append(ack)

    def _ack(self, cmd: Command | None, *, cid: str | None = None, **kw: Any) -> Ack:
        return Ack(
            command_id=cmd.id if cmd else cid,
            kind=cmd.kind if cmd else None,
            hearing_id=cmd.hearing_id if cmd else None,
            phase=self.journal.state.phase,
            at=datetime.now(UTC),
            **kw,
        )

    async def _reject(
        self, cmd: Command | None, code: ErrorCode, message: str, cid: str | None
    ) -> None:
        self.journal.count_rejection(code.value)
        ack = self._ack(cmd, cid=cid, ok=False, error=code, message=message)
        if cmd is not None:
            self.journal.remember_ack(ack)
        self.journal.save()
        await self._answer(ack)
        await self.emit(
            EventKind.COMMAND_REJECTED,
            f"{code.value}: {message}",
            hearing_id=cmd.hearing_id if cmd else None,
            command_id=cid,
            error=code.value,
        )
        await self.publish_state()

    async def _handle(self, raw: bytes) -> None:
        try:
            cmd = parse_command(raw, now=datetime.now(UTC), secret=self.cfg.secret)
        except ProtocolError as exc:
            await self._reject(None, exc.code, exc.message, exc.command_id)
            return
        if cmd.room != self.cfg.room.code:
            await self._reject(
                None, ErrorCode.UNAUTHORISED, f"room: this is {self.cfg.room.code}", cmd.id
            )
            return
        earlier = self.journal.ack_of(cmd.id)
        if earlier is not None:
            await self._answer(
                earlier.model_copy(update={"duplicate": True, "at": datetime.now(UTC)})
            )
            return
        if isinstance(cmd, Compose):
            problem = (
                "compose: this room has no views"
                if self.director is None
                else self.director.problem(cmd.pin, cmd.layout)
            )
            if problem is not None:
                await self._reject(cmd, ErrorCode.MALFORMED, problem, cmd.id)
                return
        st = self.journal.state
        before = st.model_copy()
        decision = decide(Snapshot(st.phase, st.hearing_id), cmd)
        if not decision.ok:
            assert decision.error is not None
            await self._reject(cmd, decision.error, decision.message, cmd.id)
            return
        # Persist the decision before acting on it: a crash from here on resumes it.
        session = None
        if Effect.START_RECORDING in decision.effects:
            session = str(session_folder(self.cfg.data_dir, cmd.hearing_id or 0))
        st.follow(cmd, decision, session)
        self.journal.save()
        error: str | None = None
        try:
            await self._apply(decision.effects)
        except Exception as exc:
            log.exception("applying %s", cmd.kind)
            error = f"{type(exc).__name__}: {exc}"
            if {Effect.START_RECORDING, Effect.PUBLISH_LIVE} & set(decision.effects):
                # Nothing started: say so, rather than claim a phase the room is not in.
                self.journal.state = st = before.model_copy(update={"acks": st.acks})
                if Effect.START_RECORDING in decision.effects:
                    self.recorder = None
        if error is None:
            ack = self._ack(cmd, ok=True, message=decision.message)
        else:
            self.journal.count_rejection(ErrorCode.FAILED.value)
            ack = self._ack(cmd, ok=False, error=ErrorCode.FAILED, message=error)
        self.journal.remember_ack(ack)
        self.journal.save()
        await self._answer(ack)
        await self.publish_state()
        if isinstance(cmd, Prepare) and error is None:
            self.pretrial.start(cmd)

    async def _apply(self, effects: tuple[Effect, ...]) -> None:
        """Carry out effects as the journal (already saved) describes the room."""
        st = self.journal.state
        for effect in effects:
            if effect is Effect.STOP_PUBLISHING:
                await self.publisher.stop()
            elif effect is Effect.STOP_RECORDING and self.recorder is not None:
                await self.recorder.stop()
                self.recorder = None
            elif effect is Effect.START_RECORDING:
                assert st.session is not None and st.hearing_id is not None
                self.recorder = Recorder(self.cfg, Path(st.session), st.hearing_id, self.emit)
                await self.recorder.start()
            elif effect is Effect.PUBLISH_LIVE:
                assert st.target is not None and st.hearing_id is not None
                await self.publisher.live(st.hearing_id, st.target, st.mask or Mask())
            elif effect is Effect.PUBLISH_SLATE:
                assert st.target is not None and st.hearing_id is not None
                await self.publisher.slate(st.hearing_id, st.target, st.pause_reason or "")
            elif effect is Effect.COMPOSE and self.director is not None:
                await self.director.compose(st.pin, st.layout)
            elif effect is Effect.EXIT:
                self._shutdown = True
                self._exit.set()

    async def _on_switch(self, view: str | None, why: str) -> None:
        await self.emit(
            EventKind.VIEW_SWITCHED,
            f"large tile: {view or '-'} ({why})",
            hearing_id=self.journal.state.hearing_id,
            view=view,
            why=why,
            layout=self.director.layout if self.director else None,
        )

    async def _on_transcript(self, raw: bytes) -> None:
        try:
            line = parse_transcript(raw)
        except ProtocolError as exc:
            self.journal.count_rejection("transcript_malformed")
            self.journal.save()
            await self.emit(EventKind.TRANSCRIPT_REJECTED, exc.message)
            return
        rec = self.recorder
        if rec is None or rec.hearing_id != line.hearing_id:
            self.journal.count_rejection("transcript_not_recording")
            self.journal.save()
            await self.emit(
                EventKind.TRANSCRIPT_REJECTED,
                f"not recording hearing {line.hearing_id}",
                hearing_id=line.hearing_id,
                seq=line.seq,
            )
            return
        rec.add_transcript(line)
