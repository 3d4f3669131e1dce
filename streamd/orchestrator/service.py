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
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from streamd.config import Settings
from streamd.court import CourtStructure
from streamd.lifecycle import TERMINAL, StreamAction, StreamState, step
from streamd.orchestrator import console, records, recovery, repairs, scheduler, steps
from streamd.orchestrator.alerts import AlertDesk
from streamd.orchestrator.delivery import Delivery
from streamd.orchestrator.feed import Feed
from streamd.orchestrator.intake import Intake
from streamd.orchestrator.journal import FastJournal
from streamd.orchestrator.link import Link
from streamd.orchestrator.liveness import AgentView, AgentWatch
from streamd.orchestrator.outcome import CommandOutcome
from streamd.orchestrator.records import Refused, StreamView
from streamd.orchestrator.rooms import Room, court_secret, rooms_of
from streamd.orchestrator.stats import OrchestratorStats
from streamd.orchestrator.worker import Worker
from streamd.policy import Ruleset
from streamd.store import Database
from streamd_protocol import Ack, Command, CommandKind, PublishTarget

log = logging.getLogger(__name__)


class Orchestrator:
    """The streams' lifecycle (act, pause) over the parts that talk to the rooms: the
    broker link, command delivery, the agents' watch, recovery, the scheduler, the plan's
    live repair (which moves a hearing to another line) and the console's extra commands."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        courts: Sequence[CourtStructure],
        rules: Ruleset,
        mqtt_url: str,
        feed: Feed | None = None,
        may_send: Callable[[], bool] | None = None,
        intake: Intake | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.rules = rules
        self.courts = tuple(c.court.code for c in courts)
        self.rooms: dict[str, Room] = rooms_of(courts, court_secret(settings))
        self.feed = feed or Feed()
        # Several replicas: only while this one leads (streamd.orchestrator.leadership),
        # checked at every send, so a replica that lost its lease stops at once.
        self.link = Link(
            courts=self.courts,
            mqtt_url=mqtt_url,
            timeout=settings.ack_timeout_seconds,
            may_send=may_send,
        )
        # This replica's share of the telemetry, fed to the watch while this one leads;
        # alone (no replicas), its own plain subscription.
        self.intake = intake or Intake(
            courts=self.courts, mqtt_url=mqtt_url, replica="solo", shared=False
        )
        self._own_intake = intake is None
        self.views: dict[int, StreamView] = {}
        self.agents: dict[str, AgentView] = {code: AgentView(code) for code in self.rooms}
        self.stats = OrchestratorStats()
        self.journal = FastJournal(settings.data_dir / "orchestrator.journal")
        self.locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.work = Worker(db)
        self.alerts = AlertDesk(self.feed, self.work)
        self.delivery = Delivery(
            settings=settings,
            rooms=self.rooms,
            publish=self.link.publish,
            work=self.work,
            alerts=self.alerts,
            stats=self.stats,
        )
        self.watch = AgentWatch(
            courts=self.courts,
            settings=settings,
            agents=self.agents,
            views=self.views,
            alerts=self.alerts,
            work=self.work,
            feed=self.feed,
            stats=self.stats,
            delivery=self.delivery,
            reconcile=lambda room, state: recovery.reconcile(self, room, state),
        )
        self.repairs = repairs.PlanRepair(
            work=self.work,
            alerts=self.alerts,
            feed=self.feed,
            settings=settings,
            rules=rules,
            follow=lambda hearing_id: repairs.follow_line(self, hearing_id),
        )
        self.started = asyncio.Event()  # recovered and subscribed

    # ---- running ---------------------------------------------------------------------

    async def run(self) -> None:
        """Recover, then serve until cancelled."""
        await recovery.recover(self)
        self.intake.sink = self.watch.on_telemetry
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(
                    self.link.run(self.watch.dispatch, self._connected), name="orchestrator.mqtt"
                )
                if self._own_intake:
                    tg.create_task(self.intake.run(), name="orchestrator.telemetry")
                tg.create_task(self.watch.store_events(), name="orchestrator.events")
                tg.create_task(self.watch.watch(), name="orchestrator.liveness")
                tg.create_task(recovery.settle_after_restart(self), name="orchestrator.reconcile")
                tg.create_task(scheduler.run(self), name="orchestrator.scheduler")
                tg.create_task(self.alerts.follow_others(), name="orchestrator.alerts")
        finally:
            self.intake.sink = None  # a follower's beats go to the next leader
            # Writes still queued are in the fast journal; the next start copies them.
            await self.work.drain()

    def _connected(self) -> None:
        self.started.set()
        self.work.spawn(console.forward_backlog(self))

    def close(self) -> None:
        self.journal.close()

    def pushing(self, room: str) -> bool:
        """The room's publisher runs and sends frames, by its latest telemetry."""
        return self.watch.pushing(room)

    async def prepare_due(self) -> None:
        """Start recording every hearing due soon whose room is free (the scheduler's)."""
        await scheduler.prepare_due(self)

    # ---- the console's commands that change no stream state (streamd.orchestrator.console)

    async def restart_publisher(self, hearing_id: int, *, actor: str) -> CommandOutcome:
        return await console.restart_publisher(self, hearing_id, actor=actor)

    async def compose(
        self,
        hearing_id: int,
        *,
        actor: str,
        pin: str | None = None,
        auto: bool = False,
        layout: str | None = None,
    ) -> CommandOutcome:
        return await console.compose(
            self, hearing_id, actor=actor, pin=pin, auto=auto, layout=layout
        )

    async def add_transcript(
        self, hearing_id: int, *, speaker: str, text: str, key: str | None, user: str
    ) -> tuple[int, bool]:
        return await console.add_transcript(
            self, hearing_id, speaker=speaker, text=text, key=key, user=user
        )

    async def start_interruption(
        self, hearing_id: int, *, kind: str, reason: str | None, user: str
    ) -> CommandOutcome:
        return await console.start_interruption(
            self, hearing_id, kind=kind, reason=reason, user=user
        )

    async def end_interruption(self, hearing_id: int, *, user: str) -> CommandOutcome:
        return await console.end_interruption(self, hearing_id, user=user)

    # ---- the lifecycle ---------------------------------------------------------------

    async def stream(self, hearing_id: int) -> StreamView:
        """The hearing's stream as this process holds it, read from the database once."""
        view = self.views.get(hearing_id)
        if view is None:
            view = await self.work.call(
                records.stream_for, hearing_id=hearing_id, rooms=list(self.rooms)
            )
            self.views[hearing_id] = view
        return view

    def announce(self, view: StreamView, actor: str, reason: str | None) -> None:
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

    def require_online(self, room: str) -> None:
        agent = self.agents.get(room)
        if agent is None or not agent.online or agent.silent:
            raise Refused(f"the agent of courtroom {room} is offline / 法庭采集端离线")

    def _forget_if_done(self, view: StreamView) -> None:
        if view.state in TERMINAL:
            self.views.pop(view.hearing_id, None)

    async def act(
        self, hearing_id: int, action: StreamAction, *, actor: str, reason: str | None = None
    ) -> CommandOutcome:
        """Take one lifecycle step for a hearing. Raises `Refused` or `LookupError`."""
        if action is StreamAction.PAUSE:
            return await self.pause(hearing_id, actor=actor, reason=reason)
        async with self.locks[hearing_id]:
            view = await self.stream(hearing_id)
            await self.delivery.settle(view)
            decided = step(view.state, action)
            if not decided.ok:
                raise Refused(decided.error or "refused")
            if decided.noop:
                return CommandOutcome(hearing_id, view.state, noop=True, message="nothing to do")
            target: PublishTarget | None = None
            line_id: int | None = None
            if decided.command in (CommandKind.PREPARE, CommandKind.GO_LIVE):
                self.require_online(view.room)
            if decided.command is CommandKind.GO_LIVE:
                await self.repairs.before_go_live(hearing_id)
                target, line_id = await self.work.call(
                    records.publish_target, hearing_id=hearing_id, rules=self.rules
                )
            cmd = (
                self.delivery.build(view, decided.command, target=target, reason=reason)
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
                    command=steps.note(cmd),
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
            self.announce(view, actor, reason)
            if cmd is None:
                self._forget_if_done(view)
                return CommandOutcome(hearing_id, view.state)
            try:
                ack = await self.delivery.deliver(view, cmd)
            finally:
                view.going_live = False
            outcome = await self._answered(view, cmd, ack, before)
        if view.hold is not None and view.state is StreamState.LIVE:
            held, view.hold = view.hold, None
            await self.pause(hearing_id, actor=actor, reason=held)
        self._forget_if_done(view)
        return outcome

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
            self.announce(view, "agent", ack.message)
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
            await self.prepared(view, "recording started")
        return replace(out, state=view.state, delivery="acked", message=ack.message)

    async def pause(self, hearing_id: int, *, actor: str, reason: str | None) -> CommandOutcome:
        """The fast path: memory, one fsynced journal line, send. No database, no lock."""
        view = self.views.get(hearing_id) or await self.stream(hearing_id)
        if view.going_live and view.state in (StreamState.READY, StreamState.PAUSED):
            view.hold = reason or "incident"
            return CommandOutcome(hearing_id, view.state, held=True, message="will pause once live")
        decided = step(view.state, StreamAction.PAUSE)
        if decided.noop or decided.command is None:
            return CommandOutcome(
                hearing_id, view.state, noop=True, message="nothing public to pause"
            )
        cmd = self.delivery.build(view, CommandKind.PAUSE, reason=reason)
        data = steps.entry(
            view, cmd, action=StreamAction.PAUSE, after=decided.after, actor=actor, reason=reason
        )
        self.journal.step(cmd.id, data)
        before = view.state
        view.state = decided.after
        self.delivery.behind(view, self._copy_step(cmd.id, data))
        deliver = self.work.spawn(self.delivery.deliver(view, cmd, fast=True))
        self.announce(view, actor, reason)
        ack = await deliver
        if ack is not None and not ack.ok:
            await self.delivery.settle(view)
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
        await self.work.later(records.persist_step, **steps.from_entry(data))
        self.journal.copied(key)

    async def prepared(self, view: StreamView, reason: str) -> None:
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
        self.announce(view, "agent", "recording started")
