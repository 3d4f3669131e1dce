"""A hearing's stream lifecycle, decided without touching anything.

`booked → preparing → ready → live ⇄ paused → ended`, `aborted` from anywhere (an
administrator may reopen an aborted stream: back to `booked`), and
`off_air` when an incident ends the broadcast while the hearing (and its recording) go on.
The orchestrator persists the step, then sends its command. Repeats are no-ops, so a
double click does one thing; a pause is never an error, because a clerk who presses pause
must never be told no (tests/test_lifecycle.py checks the rules with hypothesis).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streamd.protocol import CommandKind


class StreamState(StrEnum):
    BOOKED = "booked"
    PREPARING = "preparing"  # prepare sent; the recording is starting
    READY = "ready"  # recording, nothing public
    LIVE = "live"
    PAUSED = "paused"  # recording, slate public
    OFF_AIR = "off_air"  # broadcast ended for good by an incident; recording on
    ENDED = "ended"
    ABORTED = "aborted"


class Action(StrEnum):
    PREPARE = "prepare"  # the scheduler, minutes before the start
    PREPARED = "prepared"  # the agent acknowledged prepare
    DISCIPLINE_ANNOUNCED = "discipline_announced"  # 宣布法庭纪律: go live
    PAUSE = "pause"
    RESUME = "resume"
    END_STREAM = "end_stream"
    ADJOURNED = "adjourned"  # 休庭/闭庭: stop everything
    ABORT = "abort"
    REOPEN = "reopen"  # an administrator undoes an abort: back to booked, with a reason


S = StreamState
TERMINAL = frozenset({S.ENDED, S.ABORTED})
RECORDING = frozenset({S.PREPARING, S.READY, S.LIVE, S.PAUSED, S.OFF_AIR})
PUBLIC = frozenset({S.LIVE, S.PAUSED})


@dataclass(frozen=True, slots=True)
class Step:
    after: StreamState
    command: CommandKind | None = None
    noop: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _refuse(now: StreamState, why: str) -> Step:
    return Step(now, error=why)


def _same(now: StreamState) -> Step:
    return Step(now, noop=True)


def step(now: StreamState, action: Action) -> Step:
    """What `action` does in state `now`: the state after, and the command to send."""
    if action is Action.REOPEN:
        # The only way out of a terminal state: an abort must never leave a hearing that
        # can no longer be recorded. An adjourned hearing stays closed.
        if now is S.ABORTED:
            return Step(S.BOOKED)
        return _refuse(now, f"only an aborted stream can be reopened; it is {now.value}")
    if now in TERMINAL:
        if action in (Action.PAUSE, Action.ABORT, Action.END_STREAM, Action.ADJOURNED):
            return _same(now)
        return _refuse(now, f"the stream has {now.value}")
    if action is Action.ABORT:
        return Step(S.ABORTED, CommandKind.STOP if now in RECORDING else None)
    if action is Action.PREPARE:
        if now is S.BOOKED:
            return Step(S.PREPARING, CommandKind.PREPARE)
        return _same(now)
    if action is Action.PREPARED:
        return Step(S.READY) if now is S.PREPARING else _same(now)
    if action is Action.DISCIPLINE_ANNOUNCED:
        if now is S.READY:
            return Step(S.LIVE, CommandKind.GO_LIVE)
        if now in PUBLIC:
            return _same(now)
        if now is S.OFF_AIR:
            return _refuse(now, "the broadcast was ended; it cannot go live again")
        return _refuse(now, "the recording has not started yet: wait for the room to be ready")
    if action is Action.PAUSE:
        return Step(S.PAUSED, CommandKind.PAUSE) if now is S.LIVE else _same(now)
    if action is Action.RESUME:
        if now is S.PAUSED:
            return Step(S.LIVE, CommandKind.RESUME)
        if now is S.LIVE:
            return _same(now)
        return _refuse(now, "nothing to resume: the stream is not paused")
    if action is Action.END_STREAM:
        if now in PUBLIC:
            return Step(S.OFF_AIR, CommandKind.END_STREAM)
        if now in (S.READY, S.PREPARING):
            return Step(S.OFF_AIR)  # never goes live; nothing public to stop
        if now is S.OFF_AIR:
            return _same(now)
        return _refuse(now, "the hearing has not started")
    assert action is Action.ADJOURNED
    if now is S.BOOKED:
        return _refuse(now, "the hearing has not started")
    return Step(S.ENDED, CommandKind.STOP)
