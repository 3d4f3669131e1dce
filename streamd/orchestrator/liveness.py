"""What the rooms say, and when they fall silent.

Every message from an agent lands here: its retained state (compared with the database by
the reconcile step, never acted on), acks (handed to delivery), events (stored in batches
and turned into alerts), self-tests and telemetry (kept for the technicians' wall; it comes
through every replica's intake, streamd.orchestrator.intake, directly or in a follower's
digest). An agent that goes offline, or says nothing for `agent_silence_seconds`, raises a
critical alert and flags every stream it records as at risk.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from streamd.config import Settings
from streamd.lifecycle import RECORDING
from streamd.orchestrator import push, records, selftests, tracks
from streamd.orchestrator.alerts import AlertDesk
from streamd.orchestrator.delivery import Delivery
from streamd.orchestrator.feed import Feed
from streamd.orchestrator.intake import is_digest, parse_digest
from streamd.orchestrator.records import StreamView
from streamd.orchestrator.stats import OrchestratorStats
from streamd.orchestrator.worker import Worker
from streamd_protocol import (
    Ack,
    AgentPhase,
    AgentState,
    Event,
    Leaf,
    ProcessState,
    SelfTest,
    Telemetry,
    parse_topic,
)

log = logging.getLogger(__name__)
HISTORY = 180  # telemetry beats kept per room (3 minutes at one a second)


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


def place(history: deque[Telemetry], beat: Telemetry) -> bool:
    """Put a beat in the room's history in order by the agent's clock (a full history keeps
    its newest); True when it is the room's latest. Beats dealt to two replicas can arrive
    out of order: a late one fills the wall's line and changes nothing else."""
    if not history or beat.at >= history[-1].at:
        history.append(beat)
        return True
    if len(history) == history.maxlen:
        if beat.at <= history[0].at:
            return False
        history.popleft()
    history.insert(bisect.bisect_right(history, beat.at, key=lambda t: t.at), beat)
    return False


class AgentWatch:
    def __init__(
        self,
        *,
        courts: Sequence[str],
        settings: Settings,
        agents: dict[str, AgentView],
        views: dict[int, StreamView],
        alerts: AlertDesk,
        work: Worker,
        feed: Feed,
        stats: OrchestratorStats,
        delivery: Delivery,
        reconcile: Callable[[str, AgentState], None],
    ) -> None:
        self.courts = frozenset(courts)
        self.settings = settings
        self.agents = agents
        self.views = views
        self.alerts = alerts
        self.work = work
        self.feed = feed
        self.stats = stats
        self.delivery = delivery
        self._reconcile = reconcile
        self._events: asyncio.Queue[Event] = asyncio.Queue()

    def dispatch(self, topic: str, payload: Any) -> None:
        try:
            if is_digest(topic):
                self.on_digest(payload if isinstance(payload, bytes | str) else bytes(payload))
                return
            parsed = parse_topic(topic)
            if parsed is None or parsed[0].court not in self.courts:
                return
            topics, leaf = parsed
            room = topics.room
            raw = payload if isinstance(payload, bytes | str) else bytes(payload or b"")
            self.stats.received[leaf.value] += 1
            if room not in self.agents:
                self.agents[room] = AgentView(room)  # an agent we have no config for: watch it
            if leaf is Leaf.STATE:
                self.on_state(room, AgentState.model_validate_json(raw))
            elif leaf is Leaf.ACK:
                self._seen(room)
                self.delivery.answered(Ack.model_validate_json(raw))
            elif leaf is Leaf.EVENTS:
                self.on_event(room, Event.model_validate_json(raw))
            elif leaf is Leaf.SELFTEST:
                self.on_selftest(room, SelfTest.model_validate_json(raw))
        except (ValidationError, ValueError) as exc:
            self.stats.malformed += 1
            log.warning("ignoring a malformed message on %s: %s", topic, str(exc)[:200])

    def views_in(self, room: str) -> list[StreamView]:
        return [v for v in self.views.values() if v.room == room]

    def _seen(self, room: str, heard: float | None = None) -> AgentView:
        agent = self.agents[room]
        agent.last_seen = max(agent.last_seen, time.monotonic() if heard is None else heard)
        if agent.silent:
            agent.silent = False
            self.alerts.clear("agent_silent", room, None)
        return agent

    def on_state(self, room: str, state: AgentState) -> None:
        agent = self.agents[room]
        was_online = agent.online
        agent.state = state
        if state.phase is AgentPhase.OFFLINE:
            agent.silent = False
            if was_online or agent.last_seen == 0.0:
                self._lost(room, "offline")
        else:
            self._seen(room)
            if not was_online:
                self.alerts.clear("agent_offline", room, None)
                for view in self.views_in(room):
                    self.work.write(records.flag, stream_id=view.stream_id, reason=None)
            self._reconcile(room, state)
        self.feed.publish("agent", agent.public())

    def pushing(self, room: str) -> bool:
        """The room's publisher runs and sends frames, by its latest telemetry."""
        agent = self.agents.get(room)
        t = agent.telemetry if agent is not None and agent.online else None
        return t is not None and t.publisher.state is ProcessState.RUNNING and bool(t.publisher.fps)

    def on_event(self, room: str, event: Event) -> None:
        self._seen(room)
        self._events.put_nowait(event)
        push.note(self.alerts, self.work, room, event)
        tracks.note(self.alerts, room, event)
        self.feed.publish("event", event.model_dump(mode="json"))

    def on_selftest(self, room: str, report: SelfTest) -> None:
        self.agents[room].selftest = report
        selftests.note(self.alerts, room, report)
        self.feed.publish("selftest", report.model_dump(mode="json"))

    def on_telemetry(self, room: str, telemetry: Telemetry, heard: float) -> None:
        """A beat, heard at `heard` (monotonic) by this replica's intake or a follower's."""
        self.stats.received[Leaf.TELEMETRY.value] += 1
        if room not in self.agents:
            self.agents[room] = AgentView(room)
        agent = self._seen(room, heard)
        if not place(agent.history, telemetry):
            return
        agent.telemetry = telemetry
        push.pushed_again(self.alerts, self.work, room, telemetry)
        self.feed.publish("telemetry", telemetry.model_dump(mode="json"))

    def on_digest(self, raw: bytes | str) -> None:
        """A follower's share of the beats, each with its age on the follower's clock."""
        digest = parse_digest(raw)
        self.stats.received["digest"] += 1
        now = time.monotonic()
        for beat in digest.beats:
            if beat.court in self.courts:
                self.on_telemetry(beat.room, beat.telemetry, now - beat.age)

    async def store_events(self) -> None:
        """Write the rooms' events in batches, until cancelled."""
        while True:
            batch = [await self._events.get()]
            while not self._events.empty() and len(batch) < 500:
                batch.append(self._events.get_nowait())
            await self.work.later(records.store_events, events=batch)

    def _lost(self, room: str, how: str) -> None:
        streams = [v for v in self.views_in(room) if v.state in RECORDING]
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

    async def watch(self) -> None:
        """Raise the silence alert for every agent quiet too long, until cancelled."""
        limit = self.settings.agent_silence_seconds
        while True:
            await asyncio.sleep(min(1.0, limit / 4))
            now = time.monotonic()
            for agent in self.agents.values():
                if agent.online and not agent.silent and now - agent.last_seen > limit:
                    agent.silent = True
                    self._lost(agent.room, "silent")
                    self.feed.publish("agent", agent.public())
