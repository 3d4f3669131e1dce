"""How long a hearing holds its line during the day (`allocation.holds`), exhaustively:
the live plan is only as good as these estimates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamd.allocation.holds import Phase, hold

times = st.integers(0, 20_000)
lengths = st.integers(1, 10_000)
steps = st.integers(1, 3_000)
rolls = st.integers(0, 600)


@given(times, lengths, times, st.one_of(st.none(), times), steps, rolls, rolls)
def test_on_air_holds_from_now_past_now_and_at_least_its_length_from_going_live(
    start: int, length: int, now: int, since: int | None, step: int, pre: int, post: int
) -> None:
    end = start + length
    h = hold(
        start=start,
        end=end,
        phase=Phase.ON_AIR,
        now=now,
        step=step,
        preroll=pre,
        postroll=post,
        since=since,
    )
    expected = max(end, (start if since is None else since) + length)
    assert h.start == now
    assert h.end > now  # a hearing on air always holds its line a while longer
    assert h.end >= expected + post
    assert h.late == (since is not None and since > start)
    assert h.overrun == (now >= expected)
    if h.overrun:
        # Whole steps beyond the expected end, the first one that reaches past now.
        assert (h.end - post - expected) % step == 0
        assert now < h.end - post <= now + step
    else:
        assert h.end == expected + post


@given(times, lengths, times, steps)
def test_an_overrun_estimate_moves_only_at_step_boundaries(
    start: int, length: int, now: int, step: int
) -> None:
    """Planning changes once a step, not once a second, and never shrinks as time goes on."""
    end = start + length

    def at(t: int) -> int:
        return hold(
            start=start, end=end, phase=Phase.ON_AIR, now=t, step=step, preroll=0, postroll=0
        ).end

    assert at(now + 1) >= at(now)
    if now >= end and (now - end + 1) % step:
        assert at(now + 1) == at(now)


@given(times, lengths, times, steps, rolls, rolls)
def test_a_hearing_not_yet_live_holds_its_planned_time_and_is_moved_by_no_guess(
    start: int, length: int, now: int, step: int, pre: int, post: int
) -> None:
    end = start + length
    h = hold(
        start=start, end=end, phase=Phase.WAITING, now=now, step=step, preroll=pre, postroll=post
    )
    if start < now < end:
        assert h.late and (h.start, h.end) == (now, end + post)
    else:
        assert not h.late and not h.overrun
        assert (h.start, h.end) == (start - pre, end + post)


@given(times, lengths, times, rolls)
def test_going_live_now_holds_the_planned_length_from_now(
    start: int, length: int, now: int, post: int
) -> None:
    end = start + length
    h = hold(start=start, end=end, phase=Phase.STARTING, now=now, step=60, preroll=0, postroll=post)
    assert h.start == now
    assert h.end == max(end, now + length) + post
    assert h.late == (now > start)
    # Once on air from that moment, it is expected to end the same.
    on_air = hold(
        start=start,
        end=end,
        phase=Phase.ON_AIR,
        now=now,
        step=60,
        preroll=0,
        postroll=post,
        since=now,
    )
    assert on_air.end == h.end


def test_nonsense_is_refused() -> None:
    with pytest.raises(ValueError, match="end after"):
        hold(start=5, end=5, phase=Phase.WAITING, now=0, step=60, preroll=0, postroll=0)
    with pytest.raises(ValueError, match="step"):
        hold(start=0, end=5, phase=Phase.ON_AIR, now=9, step=0, preroll=0, postroll=0)
