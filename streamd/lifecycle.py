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

from streamd_protocol import CommandKind


class StreamState(StrEnum):
    BOOKED = "booked"
    PREPARING = "preparing"  # prepare sent; the recording is starting
    READY = "ready"  # recording, nothing public
    LIVE = "live"
    PAUSED = "paused"  # recording, slate public
    OFF_AIR = "off_air"  # broadcast ended for good by an incident; recording on
    ENDED = "ended"
    ABORTED = "aborted"


class StreamAction(StrEnum):
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
class StreamStep:
    after: StreamState
    command: CommandKind | None = None
    noop: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _refuse(now: StreamState, why: str) -> StreamStep:
    return StreamStep(now, error=why)


def _same(now: StreamState) -> StreamStep:
    return StreamStep(now, noop=True)


def step(now: StreamState, action: StreamAction) -> StreamStep:
    """What `action` does in state `now`: the state after, and the command to send."""
    if action is StreamAction.REOPEN:
        # The only way out of a terminal state: an abort must never leave a hearing that
        # can no longer be recorded. An adjourned hearing stays closed.
        if now is S.ABORTED:
            return StreamStep(S.BOOKED)
        return _refuse(now, f"only an aborted stream can be reopened; it is {now.value}")
    if now in TERMINAL:
        if action in (
            StreamAction.PAUSE,
            StreamAction.ABORT,
            StreamAction.END_STREAM,
            StreamAction.ADJOURNED,
        ):
            return _same(now)
        return _refuse(now, f"the stream has {now.value}")
    if action is StreamAction.ABORT:
        return StreamStep(S.ABORTED, CommandKind.STOP if now in RECORDING else None)
    if action is StreamAction.PREPARE:
        if now is S.BOOKED:
            return StreamStep(S.PREPARING, CommandKind.PREPARE)
        return _same(now)
    if action is StreamAction.PREPARED:
        return StreamStep(S.READY) if now is S.PREPARING else _same(now)
    if action is StreamAction.DISCIPLINE_ANNOUNCED:
        if now is S.READY:
            return StreamStep(S.LIVE, CommandKind.GO_LIVE)
        if now in PUBLIC:
            return _same(now)
        if now is S.OFF_AIR:
            return _refuse(now, "the broadcast was ended; it cannot go live again")
        return _refuse(now, "the recording has not started yet: wait for the room to be ready")
    if action is StreamAction.PAUSE:
        return StreamStep(S.PAUSED, CommandKind.PAUSE) if now is S.LIVE else _same(now)
    if action is StreamAction.RESUME:
        if now is S.PAUSED:
            return StreamStep(S.LIVE, CommandKind.RESUME)
        if now is S.LIVE:
            return _same(now)
        return _refuse(now, "nothing to resume: the stream is not paused")
    if action is StreamAction.END_STREAM:
        if now in PUBLIC:
            return StreamStep(S.OFF_AIR, CommandKind.END_STREAM)
        if now in (S.READY, S.PREPARING):
            return StreamStep(S.OFF_AIR)  # never goes live; nothing public to stop
        if now is S.OFF_AIR:
            return _same(now)
        return _refuse(now, "the hearing has not started")
    assert action is StreamAction.ADJOURNED
    if now is S.BOOKED:
        return _refuse(now, "the hearing has not started")
    return StreamStep(S.ENDED, CommandKind.STOP)
