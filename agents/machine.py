"""What a command does to a courtroom, decided without touching anything.

The agent persists the decision, then carries out its effects. Two rules hold for every
sequence of commands (tests/test_agent_machine.py checks them with hypothesis): only
`stop` and `shutdown` end a recording, and nothing is published unless a recording runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streamd_protocol import (
    AgentPhase,
    Command,
    Compose,
    EndStream,
    ErrorCode,
    GoLive,
    Pause,
    Prepare,
    RestartPublisher,
    Resume,
    Shutdown,
    Stop,
)


class Effect(StrEnum):
    START_RECORDING = "start_recording"
    STOP_RECORDING = "stop_recording"
    PUBLISH_LIVE = "publish_live"
    PUBLISH_SLATE = "publish_slate"
    STOP_PUBLISHING = "stop_publishing"
    EXIT = "exit"
    COMPOSE = "compose"  # move tiles inside the running encoders


@dataclass(frozen=True, slots=True)
class Snapshot:
    phase: AgentPhase = AgentPhase.IDLE
    hearing_id: int | None = None

    @property
    def recording(self) -> bool:
        return self.phase in (AgentPhase.READY, AgentPhase.LIVE, AgentPhase.PAUSED)


# What a restarted agent redoes to put a room back in the phase its journal says.
_RESUME: dict[AgentPhase, tuple[Effect, ...]] = {
    AgentPhase.READY: (Effect.START_RECORDING,),
    AgentPhase.LIVE: (Effect.START_RECORDING, Effect.PUBLISH_LIVE),
    AgentPhase.PAUSED: (Effect.START_RECORDING, Effect.PUBLISH_SLATE),
}


def resume_effects(phase: AgentPhase) -> tuple[Effect, ...]:
    """The effects that bring a restarted agent back to `phase`; none unless it recorded."""
    return _RESUME.get(phase, ())


@dataclass(frozen=True, slots=True)
class Decision:
    after: Snapshot
    effects: tuple[Effect, ...] = ()
    error: ErrorCode | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


def _refuse(now: Snapshot, message: str) -> Decision:
    return Decision(now, error=ErrorCode.WRONG_STATE, message=message)


def decide(now: Snapshot, cmd: Command) -> Decision:
    if isinstance(cmd, Shutdown):
        effects: tuple[Effect, ...] = ()
        if now.recording:
            effects = (Effect.STOP_PUBLISHING, Effect.STOP_RECORDING)
        return Decision(Snapshot(), (*effects, Effect.EXIT), message="shutting down")
    if now.recording and cmd.hearing_id != now.hearing_id:
        return _refuse(now, f"busy with hearing {now.hearing_id}")
    if isinstance(cmd, Prepare):
        if now.recording:
            return Decision(now, message="already recording")
        return Decision(
            Snapshot(AgentPhase.READY, cmd.hearing_id), (Effect.START_RECORDING,), message=""
        )
    if not now.recording:
        if isinstance(cmd, Stop | Pause | EndStream | RestartPublisher | Compose):
            return Decision(now, message="nothing to do: not recording")
        return _refuse(now, "not prepared: send prepare first")
    if isinstance(cmd, Compose):
        return Decision(now, (Effect.COMPOSE,), message="composition changed")
    if isinstance(cmd, GoLive):
        if now.phase is AgentPhase.READY:
            return Decision(Snapshot(AgentPhase.LIVE, now.hearing_id), (Effect.PUBLISH_LIVE,))
        if now.phase is AgentPhase.LIVE:
            return Decision(now, message="already live")
        return _refuse(now, "paused: only resume lifts a pause")
    if isinstance(cmd, Pause):
        if now.phase is AgentPhase.LIVE:
            return Decision(Snapshot(AgentPhase.PAUSED, now.hearing_id), (Effect.PUBLISH_SLATE,))
        return Decision(now, message=f"nothing public to pause ({now.phase.value})")
    if isinstance(cmd, Resume):
        if now.phase is AgentPhase.PAUSED:
            return Decision(Snapshot(AgentPhase.LIVE, now.hearing_id), (Effect.PUBLISH_LIVE,))
        if now.phase is AgentPhase.LIVE:
            return Decision(now, message="already live")
        return _refuse(now, "not live yet: send go_live")
    if isinstance(cmd, RestartPublisher):
        # The same public output again, from a fresh encoder: never more than was public.
        if now.phase is AgentPhase.LIVE:
            return Decision(now, (Effect.PUBLISH_LIVE,), message="publisher restarted")
        if now.phase is AgentPhase.PAUSED:
            return Decision(now, (Effect.PUBLISH_SLATE,), message="slate restarted")
        return Decision(now, message="nothing public to restart")
    if isinstance(cmd, EndStream):
        if now.phase in (AgentPhase.LIVE, AgentPhase.PAUSED):
            return Decision(Snapshot(AgentPhase.READY, now.hearing_id), (Effect.STOP_PUBLISHING,))
        return Decision(now, message="nothing public to end")
    assert isinstance(cmd, Stop)
    stop: tuple[Effect, ...] = (Effect.STOP_RECORDING,)
    if now.phase in (AgentPhase.LIVE, AgentPhase.PAUSED):
        stop = (Effect.STOP_PUBLISHING, Effect.STOP_RECORDING)
    return Decision(Snapshot(), stop)
