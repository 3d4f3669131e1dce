"""The VOD playlist of a recorded hearing, built from the manifest without touching media.

Pure: segments in, playlist text out. Timing comes from the manifest's durations, so the
playlist's timeline is continuous within one recorder run. `EXT-X-DISCONTINUITY` marks
only what really breaks the media clock: a new recorder run (ffmpeg restarted, its
timestamps start again) or a gap in wall-clock time. One per segment would make a
player re-initialise its decoder at every segment (a 3-hour hearing then took 11.7 s to
open in Chromium), so a run's segments must carry continuous timestamps.
`EXT-X-PROGRAM-DATE-TIME` ties each run's first segment to the wall clock, which is how
the page puts transcript lines (wall-clock stamped) on the player's timeline.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

GAP_TOLERANCE_SECONDS = 0.5  # closer than this, two segments count as back to back


@dataclass(frozen=True, slots=True)
class Piece:
    """One archived segment as the playlist needs it."""

    uri: str
    start: datetime  # wall clock, from the manifest
    duration: float  # seconds, from the manifest
    run: int


@dataclass(frozen=True, slots=True)
class Placed:
    """A piece with its position on the player's timeline (seconds from 0)."""

    piece: Piece
    at: float
    discontinuity: bool


def place(pieces: Sequence[Piece]) -> list[Placed]:
    """Order by wall clock and lay end to end; a gap is skipped, not played as silence."""
    placed: list[Placed] = []
    at = 0.0
    prev: Piece | None = None
    for piece in sorted(pieces, key=lambda p: (p.start, p.run)):
        breaks = prev is not None and (
            piece.run != prev.run
            or (piece.start - (prev.start + timedelta(seconds=prev.duration))).total_seconds()
            > GAP_TOLERANCE_SECONDS
        )
        placed.append(Placed(piece, at, breaks))
        at += piece.duration
        prev = piece
    return placed


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def media_playlist(pieces: Sequence[Piece]) -> str:
    """An HLS VOD media playlist (RFC 8216) of `pieces`; an empty list gives none."""
    if not pieces:
        raise ValueError("a playlist needs at least one segment")
    placed = place(pieces)
    target = max(1, math.ceil(max(p.piece.duration for p in placed)))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for i, item in enumerate(placed):
        if item.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        if i == 0 or item.discontinuity:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_stamp(item.piece.start)}")
        lines.append(f"#EXTINF:{item.piece.duration:.3f},")
        lines.append(item.piece.uri)
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def master_playlist(video_uri: str, audio_uri: str | None) -> str:
    """Video with the mixed audio as its rendition (the recorder writes them apart)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    if audio_uri is None:
        lines += ["#EXT-X-STREAM-INF:BANDWIDTH=2000000", video_uri]
    else:
        lines += [
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="mix",DEFAULT=YES,AUTOSELECT=YES,'
            f'URI="{audio_uri}"',
            '#EXT-X-STREAM-INF:BANDWIDTH=2000000,AUDIO="aud"',
            video_uri,
        ]
    return "\n".join(lines) + "\n"


def locator(placed: Sequence[Placed]) -> Callable[[datetime], float | None]:
    """`offset_of` for many moments on one timeline: the pieces' starts are indexed once
    and each moment is found by bisection (a 3-hour record has 5,400 pieces and 2,000
    transcript lines; scanning the pieces for each line took 3.6 s)."""
    starts = [item.piece.start for item in placed]
    longest = timedelta(seconds=max((item.piece.duration for item in placed), default=0.0))

    def find(moment: datetime) -> float | None:
        # Only pieces starting within the longest piece's length before the moment can
        # hold it; of those, the earliest wins, as a scan from the start would find it.
        lo = bisect.bisect_right(starts, moment - longest)
        hi = bisect.bisect_right(starts, moment)
        for item in placed[max(0, lo - 1) : hi]:
            into = (moment - item.piece.start).total_seconds()
            if 0 <= into < item.piece.duration:
                return item.at + into
        if placed:
            last = placed[-1]
            if (moment - last.piece.start).total_seconds() == last.piece.duration:
                return last.at + last.piece.duration
        return None

    return find


def offset_of(placed: Sequence[Placed], moment: datetime) -> float | None:
    """Where a wall-clock moment falls on the player's timeline; None inside a gap or
    outside the recording (the page shows such a line without a seek target)."""
    return locator(placed)(moment)
