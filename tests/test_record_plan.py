"""The VOD playlist planner as pure rules: valid HLS, durations as given, a
discontinuity exactly where the recorder restarted or the wall clock jumped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import m3u8
from hypothesis import given
from hypothesis import strategies as st

from streamd.record.plan import Piece, master_playlist, media_playlist, offset_of, place

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

# (run increment, gap before, duration): one list entry per segment
steps = st.lists(
    st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.0, 0.2, 3.0]), st.floats(0.5, 10.0)),
    min_size=1,
    max_size=40,
)


def _pieces(spec: list[tuple[int, float, float]]) -> list[Piece]:
    out, run, at = [], 0, T0
    for i, (bump, gap, duration) in enumerate(spec):
        run += bump
        at += timedelta(seconds=gap)
        out.append(Piece(f"files/{i + 1}", at, round(duration, 3), run))
        at += timedelta(seconds=round(duration, 3))
    return out


@given(steps)
def test_the_playlist_parses_and_keeps_every_duration(spec: list[tuple[int, float, float]]) -> None:
    pieces = _pieces(spec)
    parsed = m3u8.loads(media_playlist(pieces))
    assert parsed.is_endlist and parsed.playlist_type == "vod"
    assert [s.uri for s in parsed.segments] == [p.uri for p in pieces]
    assert [s.duration for s in parsed.segments] == [p.duration for p in pieces]
    assert parsed.target_duration >= max(p.duration for p in pieces)
    expected = [i > 0 and (bump > 0 or gap > 0.5) for i, (bump, gap, _) in enumerate(spec)]
    assert [s.discontinuity for s in parsed.segments] == expected
    assert parsed.segments[0].program_date_time == pieces[0].start


@given(steps)
def test_a_moment_inside_a_segment_lands_on_its_place(spec: list[tuple[int, float, float]]) -> None:
    placed = place(_pieces(spec))
    for item in placed:
        into = item.piece.duration / 2
        got = offset_of(placed, item.piece.start + timedelta(seconds=into))
        assert got is not None and abs(got - (item.at + into)) < 1e-6


def test_one_run_without_gaps_has_no_discontinuity_and_a_gap_moment_no_offset() -> None:
    pieces = [Piece(f"files/{i}", T0 + timedelta(seconds=2 * i), 2.0, 0) for i in range(1800)]
    text = media_playlist(pieces)  # a hour in 2 s segments
    assert "#EXT-X-DISCONTINUITY" not in text
    later = Piece("files/x", T0 + timedelta(hours=2), 2.0, 1)
    placed = place([*pieces[:2], later])
    assert offset_of(placed, T0 + timedelta(seconds=30)) is None
    assert offset_of(placed, T0 + timedelta(hours=2, seconds=1)) == 5.0


def test_the_master_names_the_audio_rendition() -> None:
    parsed = m3u8.loads(master_playlist("video.m3u8", "audio.m3u8"))
    assert parsed.is_variant
    assert parsed.media[0].uri == "audio.m3u8" and parsed.media[0].type == "AUDIO"
    assert parsed.playlists[0].uri == "video.m3u8"
