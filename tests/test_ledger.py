"""The coverage ledger against a brute-force, millisecond-by-millisecond oracle."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streamd.lifecycle import StreamState as S
from streamd.monitor import intervals as iv
from streamd.monitor.ledger import Observation, Seen, Verdict, compute

HORIZON = 400

spans = st.lists(
    st.tuples(st.integers(0, HORIZON), st.integers(0, HORIZON)).map(lambda t: (min(t), max(t))),
    max_size=6,
)


def bits(spans: iv.Spans | list[tuple[int, int]]) -> set[int]:
    return {t for s, e in spans for t in range(s, e)}


@given(spans, spans)
def test_interval_algebra_matches_sets(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    na, nb = iv.normalize(a), iv.normalize(b)
    assert bits(iv.union(na, nb)) == bits(a) | bits(b)
    assert bits(iv.subtract(na, nb)) == bits(a) - bits(b)
    assert bits(iv.intersect(na, nb)) == bits(a) & bits(b)
    assert iv.total(na) == len(bits(a))
    for out in (iv.union(na, nb), iv.subtract(na, nb), iv.intersect(na, nb)):
        assert list(out) == sorted(out)
        assert all(s < e for s, e in out)
        assert all(out[k][1] < out[k + 1][0] for k in range(len(out) - 1))


# A stream's life: ready, then live, with pauses and resumes, then maybe off air, then
# ended (or still running).
@st.composite
def histories(draw: st.DrawFn) -> list[tuple[int, S]]:
    times = sorted(draw(st.lists(st.integers(0, HORIZON), min_size=1, max_size=8)))
    states = [S.READY, S.LIVE]
    for _ in times[2:]:
        states.append(draw(st.sampled_from([S.PAUSED, S.LIVE, S.OFF_AIR, S.ENDED, S.ABORTED])))
    return list(zip(times, states, strict=False))


observations = st.lists(
    st.builds(
        lambda k, s: Observation(k, min(s), max(s)),
        st.sampled_from(list(Seen)),
        st.tuples(st.integers(0, HORIZON), st.integers(0, HORIZON)),
    ),
    max_size=10,
)


def oracle(
    history: list[tuple[int, S]], obs: list[Observation], now: int, allowance: int
) -> tuple[set[int], set[int], set[int]]:
    """Required, gaps and extra, one millisecond at a time."""

    def state_at(t: int) -> S | None:
        current = None
        for at, s in history:
            if at <= t:
                current = s
        return current

    start = next((at for at, s in history if s is S.LIVE), None)
    if start is None:
        required: set[int] = set()
        end = None
    else:
        end = next((at for at, s in history if s in (S.ENDED, S.ABORTED) and at >= start), None)
        required = set(range(start, end if end is not None else max(start, now)))
    changes = [at for at, _ in history if end is None or at <= end]
    if start is None:
        changes = [at for at, _ in history]
    forgiven = {t for c in changes for t in range(c - allowance, c + allowance)}
    aired = (Seen.PICTURE, Seen.BLACK, Seen.FROZEN)
    on_air = bits([(o.start, o.end) for o in obs if o.kind in aired])
    courtroom = bits([(o.start, o.end) for o in obs if o.kind in (Seen.PICTURE, Seen.FROZEN)])
    must_air = {t for t in required if state_at(t) not in (S.PAUSED, S.OFF_AIR)}
    gaps = must_air - on_air - forgiven
    if start is not None and end is None:
        gaps -= set(range(now - allowance, now))
    extra = courtroom - must_air - forgiven
    return required, gaps, extra


@settings(max_examples=400)
@given(histories(), observations, st.integers(0, HORIZON + 50), st.integers(0, 30))
def test_ledger_matches_the_oracle(
    history: list[tuple[int, S]], obs: list[Observation], now: int, allowance: int
) -> None:
    cov = compute(history, obs, now=now, allowance_ms=allowance)
    required, gaps, extra = oracle(history, obs, now, allowance)
    assert cov.required_ms == len(required)
    assert bits(cov.gaps) == gaps
    assert bits(cov.extra) == extra
    # The promises the court relies on:
    assert cov.covered_ms + cov.gap_ms == cov.required_ms
    must_air = bits(iv.subtract((cov.required,), cov.authorised)) if cov.required else set()
    assert not bits(cov.extra) & must_air
    assert bits(cov.gaps) <= must_air
    if cov.required is None:
        assert cov.verdict is Verdict.NOT_STREAMED


def test_a_clean_hearing_with_a_pause_is_fully_covered() -> None:
    history = [
        (0, S.READY), (10_000, S.LIVE), (60_000, S.PAUSED), (90_000, S.LIVE), (120_000, S.ENDED),
    ]  # fmt: skip
    obs = [
        Observation(Seen.PICTURE, 11_000, 60_500),
        Observation(Seen.SLATE, 60_500, 91_000),
        Observation(Seen.PICTURE, 91_000, 120_300),
    ]
    cov = compute(history, obs, now=200_000)
    assert (cov.required_ms, cov.gap_ms, cov.extra_ms) == (110_000, 0, 0)
    assert cov.verdict is Verdict.FULL and cov.fraction == 1
    assert cov.authorised == ((60_000, 90_000),)


def test_an_encoder_outage_is_a_gap_and_picture_in_a_pause_is_extra() -> None:
    history = [(0, S.LIVE), (100_000, S.PAUSED), (130_000, S.LIVE), (200_000, S.ENDED)]
    obs = [
        Observation(Seen.PICTURE, 0, 40_000),
        Observation(Seen.PICTURE, 60_000, 115_000),  # the slate never came for 15 s
        Observation(Seen.SLATE, 115_000, 130_000),
        Observation(Seen.BLACK, 130_000, 140_000),
        Observation(Seen.PICTURE, 140_000, 200_000),
    ]
    cov = compute(history, obs, now=300_000)
    assert cov.gaps == ((40_000, 60_000),)
    assert cov.extra == ((102_000, 115_000),)
    assert cov.verdict is Verdict.GAPS_AND_EXTRA
    assert [i.kind for i in cov.incidents] == ["gap", "extra", "black"]
    assert cov.covered_ms == 180_000


def test_picture_before_the_announcement_is_extra_and_nothing_aired_is_all_gap() -> None:
    history = [(0, S.READY), (50_000, S.LIVE), (80_000, S.ENDED)]
    cov = compute(history, [Observation(Seen.PICTURE, 10_000, 30_000)], now=90_000)
    assert cov.extra == ((10_000, 30_000),)
    assert cov.gaps == ((52_000, 78_000),)
    never = compute([(0, S.READY), (5_000, S.ABORTED)], [], now=9_000)
    assert never.verdict is Verdict.NOT_STREAMED and never.required_ms == 0


def test_one_hearing_owns_an_output_at_a_time() -> None:
    from streamd.monitor.records import Target, owners
    from streamd.play import LinePlay

    def t(hid: int, state: S, at: int, room: str = "room-01") -> Target:
        return Target(hid, room, state, at, at, LinePlay("hls", "k", None, False))

    template = "/hls/{room}/index.m3u8"
    # the next hearing is being prepared while this one runs over: the running one owns it
    got = owners([t(2, S.PREPARING, 50), t(1, S.LIVE, 10)], template)
    assert [x.hearing_id for x in got.values()] == [1]
    # ended a moment ago and the next not yet on air: output now is the ended one's extra
    got = owners([t(2, S.READY, 50), t(1, S.ENDED, 60)], template)
    assert [x.hearing_id for x in got.values()] == [1]
    # the next goes live: it takes the output over
    got = owners([t(2, S.LIVE, 70), t(1, S.ENDED, 60)], template)
    assert [x.hearing_id for x in got.values()] == [2]
    # two rooms, two outputs; a stream without a line has nothing to watch
    got = owners(
        [
            t(1, S.LIVE, 1),
            t(3, S.LIVE, 1, "room-02"),
            Target(4, "room-03", S.LIVE, 1, 1, None),
        ],
        template,
    )
    assert sorted(x.hearing_id for x in got.values()) == [1, 3]
    # A platform's line is watched at its play address, the push address never by default.
    play = LinePlay("rtmp://h/live/", "key", "https://p/live/l1.m3u8", False)
    assert Target(5, "r", S.LIVE, 0, 0, play).where(template) == "https://p/live/l1.m3u8"
    same = LinePlay("rtmp://h/live/", "key", None, True)
    assert Target(5, "r", S.LIVE, 0, 0, same).where(template) == "rtmp://h/live/key"
    assert Target(5, "r", S.LIVE, 0, 0, LinePlay("rtmp://h/", "k", None, False)).where("") is None
