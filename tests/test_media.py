"""Reading our own segment files with real ffmpeg, however short the recorder cut them."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streamd.demo.summary import undecodable
from streamd_protocol import manifest as mf
from streamd_protocol.media import ffmpeg_exe, probe, segment_format

pytestmark = [pytest.mark.ffmpeg]


def _adts_frames(tmp_path: Path) -> list[bytes]:
    """Two seconds of the agent's AAC, split at its ADTS frame headers."""
    whole = tmp_path / "tone.aac"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", "2", "-c:a", "aac", "-b:a", "96k", "-f", "adts", str(whole)],
        check=True,
    )  # fmt: skip
    data = whole.read_bytes()
    frames, at = [], 0
    while at < len(data):
        assert data[at] == 0xFF, "every frame starts with the ADTS sync word"
        size = ((data[at + 3] & 3) << 11) | (data[at + 4] << 3) | (data[at + 5] >> 5)
        frames.append(data[at : at + size])
        at += size
    return frames


def test_a_segment_of_one_or_two_audio_frames_reads_as_audio(tmp_path: Path) -> None:
    """A stop just after a segment boundary leaves an ADTS segment of a frame or two.

    libavformat guesses such a file as MPEG-TS or nothing at all ("Invalid data found when
    processing input"; CI stop 20). It is a valid recording: probe, and the demo's
    first-frame check through the manifest, must read it as the AAC it is.
    """
    frames = _adts_frames(tmp_path)
    assert len(frames) > 80
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    folder = tmp_path / "session"
    (folder / "audio").mkdir(parents=True)
    m = mf.Manifest(
        hearing_id=6, room="room-01", session="s", started_at=t0, segment_seconds=2,
        copied_from_source=False, time_overlay="agent",
    )  # fmt: skip
    for first in range(1, len(frames) - 2, 3):
        for count in (1, 2):
            rel = f"audio/a{count:03d}_{first:05d}.aac"
            cut = folder / rel
            cut.write_bytes(b"".join(frames[first : first + count]))
            found = probe(cut)
            assert found.ok, (rel, found.errors)
            assert found.duration == pytest.approx(count * 1024 / 48000, abs=1e-3)
            start = t0 + timedelta(seconds=first)
            m.segments.append(
                mf.SegmentEntry(
                    kind="audio", file=rel, run=count, start=start,
                    end=start + timedelta(seconds=found.duration), duration=found.duration,
                    bytes=cut.stat().st_size, sha256=mf.sha256_file(cut),
                )
            )  # fmt: skip
    mf.save(folder, m)
    assert undecodable(folder) == []


def test_segment_formats_follow_the_recorders_names() -> None:
    assert segment_format(Path("audio/a000_00001.aac")) == "aac"
    assert segment_format(Path("video/v000_00001.ts")) == "mpegts"
    assert segment_format(Path("received.flv")) is None
