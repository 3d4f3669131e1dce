"""The demo's day and its compressed clock (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamd.demo.day import DAY, IDLE_KEPT, LINES, ROOMS, CueKind, compress

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@given(st.floats(min_value=1, max_value=600))
def test_compression_scales_every_time_and_keeps_each_hearings_cues_in_order(
    speed: float,
) -> None:
    script = compress(DAY, start=T0, speed=speed)
    assert min(t.start for t in script.hearings) == T0
    for t in script.hearings:
        planned = timedelta(hours=t.hearing.end.hour - t.hearing.start.hour) + timedelta(
            minutes=t.hearing.end.minute - t.hearing.start.minute
        )
        assert abs((t.end - t.start) - planned / speed) < timedelta(microseconds=2)
        kinds = [c.kind for c in script.cues if c.hearing == t.hearing.key]
        assert kinds[0] is CueKind.OPEN and kinds[-1] is CueKind.ADJOURN
        mine = [c for c in script.cues if c.hearing == t.hearing.key]
        assert all(t.start <= c.at <= t.end for c in mine)
    assert [c.at for c in script.cues] == sorted(c.at for c in script.cues)


def test_lunch_is_cut_to_a_short_break_and_nothing_else_moves() -> None:
    """No hearing runs from 11:45 to 13:30: the compressed day keeps five court minutes of
    it. Before the break every time is as the speed says; after, all of it is earlier by
    the same amount, so every hearing keeps its length and its order."""
    speed = 60.0
    script = compress(DAY, start=T0, speed=speed)
    morning = [t for t in script.hearings if t.hearing.start < time(12)]
    afternoon = [t for t in script.hearings if t.hearing.start > time(12)]
    assert morning and afternoon
    last_out = max(t.end for t in morning)
    first_in = min(t.start for t in afternoon)
    assert first_in - last_out == IDLE_KEPT / speed
    for t in morning:
        at = timedelta(hours=t.hearing.start.hour - 9, minutes=t.hearing.start.minute)
        assert t.start == T0 + at / speed
    cut = timedelta(hours=13, minutes=30) - timedelta(hours=11, minutes=45) - IDLE_KEPT
    for t in afternoon:
        at = timedelta(hours=t.hearing.start.hour - 9, minutes=t.hearing.start.minute)
        assert t.start == T0 + (at - cut) / speed


def test_the_day_shows_every_feature() -> None:
    """Rooms never double-booked; more streamable hearings than lines at once; a pause,
    a hung encoder, a non-public and a divorce case."""
    for room in ROOMS:
        mine = sorted((h.start, h.end) for h in DAY if h.room == room)
        assert all(a[1] <= b[0] for a, b in pairwise(mine)), room
    assert {h.room for h in DAY} == set(ROOMS)
    half_past_nine = time(9, 30)
    at_930 = [h for h in DAY if h.public and h.start <= half_past_nine < h.end]
    assert len(at_930) > LINES
    kinds = {h.incident.kind for h in DAY if h.incident}
    assert kinds == {CueKind.PAUSE, CueKind.HANG}
    assert any(not h.public for h in DAY) and any("离婚" in h.cause for h in DAY)


def test_bad_scripts_are_refused() -> None:
    with pytest.raises(ValueError, match="speed"):
        compress(DAY, start=T0, speed=0)
    with pytest.raises(ValueError, match="timezone"):
        compress(DAY, start=T0.replace(tzinfo=None), speed=1)
