"""The agent's decisions, pure: what each command does in each phase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agents.machine import Effect, Snapshot, decide
from streamd_protocol import (
    AgentPhase,
    Command,
    EndStream,
    ErrorCode,
    GoLive,
    Pause,
    Prepare,
    PublishTarget,
    RestartPublisher,
    Resume,
    Shutdown,
    Stop,
)

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
P = AgentPhase


def make(kind: type[Any], hearing: int | None = 1) -> Command:
    base: dict[str, Any] = {
        "id": "x",
        "room": "r",
        "issued_at": T0,
        "expires_at": T0 + timedelta(seconds=30),
    }
    if hearing is not None:
        base["hearing_id"] = hearing
    if kind is GoLive:
        base["target"] = PublishTarget(kind="hls")
    if kind is Pause:
        base["reason"] = "incident"
    cmd: Command = kind(**base)
    return cmd


def test_the_hearing_lifecycle() -> None:
    s = Snapshot()
    d = decide(s, make(Prepare))
    assert d.after == Snapshot(P.READY, 1) and d.effects == (Effect.START_RECORDING,)
    d = decide(d.after, make(GoLive))
    assert d.after.phase is P.LIVE and d.effects == (Effect.PUBLISH_LIVE,)
    d = decide(d.after, make(Pause))
    assert d.after.phase is P.PAUSED and d.effects == (Effect.PUBLISH_SLATE,)
    refused = decide(d.after, make(GoLive))
    assert refused.error is ErrorCode.WRONG_STATE and "resume" in refused.message
    d = decide(d.after, make(Resume))
    assert d.after.phase is P.LIVE and d.effects == (Effect.PUBLISH_LIVE,)
    d = decide(d.after, make(Stop))
    assert d.after == Snapshot() and d.effects == (Effect.STOP_PUBLISHING, Effect.STOP_RECORDING)


def test_end_stream_stops_the_public_stream_and_keeps_recording() -> None:
    for phase in (P.LIVE, P.PAUSED):
        d = decide(Snapshot(phase, 1), make(EndStream))
        assert d.after == Snapshot(P.READY, 1) and d.effects == (Effect.STOP_PUBLISHING,)
    again = decide(Snapshot(P.READY, 1), make(EndStream))
    assert again.ok and again.effects == ()
    assert decide(Snapshot(), make(EndStream)).ok


def test_another_hearing_is_refused_while_one_records() -> None:
    busy = Snapshot(P.LIVE, 1)
    for kind in (Prepare, GoLive, Pause, Resume, EndStream, Stop):
        d = decide(busy, make(kind, hearing=2))
        assert d.error is ErrorCode.WRONG_STATE and "hearing 1" in d.message


def test_repeats_are_harmless() -> None:
    assert decide(Snapshot(P.READY, 1), make(Prepare)).effects == ()
    assert decide(Snapshot(P.LIVE, 1), make(GoLive)).effects == ()
    assert decide(Snapshot(P.PAUSED, 1), make(Pause)).effects == ()
    assert decide(Snapshot(), make(Stop)).ok and decide(Snapshot(), make(Stop)).effects == ()
    # A pause with nothing public is satisfied, not an error: it must never fail.
    assert decide(Snapshot(P.READY, 1), make(Pause)).ok
    assert decide(Snapshot(), make(GoLive)).error is ErrorCode.WRONG_STATE


KINDS = st.sampled_from(
    [Prepare, GoLive, Pause, Resume, EndStream, Stop, Shutdown, RestartPublisher]
)


@given(st.lists(st.tuples(KINDS, st.integers(1, 3)), max_size=40))
def test_recording_ends_only_on_stop_and_nothing_airs_without_it(
    steps: list[tuple[type[Any], int]],
) -> None:
    s = Snapshot()
    for kind, hearing in steps:
        cmd = make(kind, None if kind is Shutdown else hearing)
        d = decide(s, cmd)
        if Effect.STOP_RECORDING in d.effects:
            assert kind in (Stop, Shutdown)
        if not d.ok:
            assert d.after == s and not d.effects
        if d.after.phase in (P.LIVE, P.PAUSED):
            assert d.after.recording and d.after.hearing_id is not None
        if d.after.phase is P.LIVE and s.phase is not P.LIVE:
            assert kind in (GoLive, Resume)
        if s.phase is P.PAUSED and d.after.phase is P.LIVE:
            assert kind is Resume  # only resume lifts a pause
        if kind is RestartPublisher:  # the same public output again, never more
            assert d.after == s
            assert (Effect.PUBLISH_LIVE in d.effects) == (s.phase is P.LIVE and d.ok)
            assert (Effect.PUBLISH_SLATE in d.effects) == (s.phase is P.PAUSED and d.ok)
        s = d.after
