"""The stream lifecycle rules, exhaustively and under random sequences."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streamd.lifecycle import PUBLIC, TERMINAL, StreamAction, StreamState, step
from streamd_protocol import CommandKind

A = StreamAction
S = StreamState


def run(*actions: StreamAction) -> StreamState:
    state = S.BOOKED
    for action in actions:
        result = step(state, action)
        assert result.ok, (state, action, result.error)
        state = result.after
    return state


def test_the_hearing_day() -> None:
    assert run(A.PREPARE, A.PREPARED) is S.READY
    assert step(S.READY, A.DISCIPLINE_ANNOUNCED).command is CommandKind.GO_LIVE
    assert run(A.PREPARE, A.PREPARED, A.DISCIPLINE_ANNOUNCED, A.PAUSE) is S.PAUSED
    assert run(A.PREPARE, A.PREPARED, A.DISCIPLINE_ANNOUNCED, A.PAUSE, A.RESUME) is S.LIVE
    end = step(S.LIVE, A.ADJOURNED)
    assert end.after is S.ENDED and end.command is CommandKind.STOP


def test_double_clicks_do_one_thing() -> None:
    for state, action in (
        (S.LIVE, A.DISCIPLINE_ANNOUNCED),
        (S.PAUSED, A.PAUSE),
        (S.LIVE, A.RESUME),
        (S.OFF_AIR, A.END_STREAM),
        (S.ENDED, A.ADJOURNED),
        (S.ABORTED, A.ABORT),
        (S.PREPARING, A.PREPARE),
    ):
        result = step(state, action)
        assert result.ok and result.noop and result.command is None and result.after is state


def test_a_pause_is_never_refused() -> None:
    for state in S:
        assert step(state, A.PAUSE).ok


def test_an_ended_broadcast_never_comes_back() -> None:
    off = step(S.LIVE, A.END_STREAM)
    assert off.after is S.OFF_AIR and off.command is CommandKind.END_STREAM
    for action in (A.DISCIPLINE_ANNOUNCED, A.RESUME):
        assert not step(S.OFF_AIR, action).ok
    assert step(S.OFF_AIR, A.ADJOURNED).command is CommandKind.STOP


def test_only_an_aborted_stream_reopens_and_to_booked() -> None:
    assert step(S.ABORTED, A.REOPEN) == step(S.ABORTED, A.REOPEN)
    assert step(S.ABORTED, A.REOPEN).after is S.BOOKED
    assert step(step(S.ABORTED, A.REOPEN).after, A.PREPARE).ok  # recordable again
    for state in set(S) - {S.ABORTED}:
        assert not step(state, A.REOPEN).ok
    assert not step(S.ABORTED, A.PREPARE).ok  # without the reopen, nothing records


def test_going_live_needs_a_recording() -> None:
    for state in (S.BOOKED, S.PREPARING):
        assert not step(state, A.DISCIPLINE_ANNOUNCED).ok


@given(st.lists(st.sampled_from(list(StreamAction)), max_size=40))
def test_invariants(actions: list[StreamAction]) -> None:
    state = S.BOOKED
    for action in actions:
        result = step(state, action)
        if not result.ok:
            assert result.after is state and result.command is None
        if result.noop:
            assert result.after is state and result.command is None
        if state in TERMINAL and action is not A.REOPEN:
            assert result.after is state  # terminal states absorb everything but a reopen
        if action is A.REOPEN:
            assert result.after is (S.BOOKED if state is S.ABORTED else state)
            assert result.command is None
        if result.after in PUBLIC and state not in PUBLIC:
            # Only the announcement of court discipline puts a room on air.
            assert action is A.DISCIPLINE_ANNOUNCED and state is S.READY
        if state is S.PAUSED and result.after is S.LIVE:
            assert action is A.RESUME
        if result.after is S.LIVE and state is not S.LIVE:
            assert result.command in (CommandKind.GO_LIVE, CommandKind.RESUME)
        if state in PUBLIC and result.after not in PUBLIC:
            # Leaving the air always tells the agent.
            assert result.command in (CommandKind.END_STREAM, CommandKind.STOP)
        state = result.after
