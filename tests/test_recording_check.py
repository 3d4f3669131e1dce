"""The recording half of the ledger: a manifest's segments against the hearing and the disk."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamd.monitor.recording import check
from streamd_protocol import manifest as mf

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def session(folder: Path, *, video: int, audio: int, skip: int | None = None) -> Path:
    """`video`/`audio` 10 s segments from T0; `skip`: a video segment index never written."""
    m = mf.Manifest(
        hearing_id=7, room="room-01", session="s1", started_at=T0, segment_seconds=10,
        copied_from_source=False, time_overlay="agent",
    )  # fmt: skip
    (folder / "video").mkdir(parents=True)
    (folder / "audio").mkdir()
    for kind, count in (("video", video), ("audio", audio)):
        for k in range(count):
            if kind == "video" and k == skip:
                continue
            rel = f"{kind}/{kind[0]}001_{k:05d}.ts"
            data = bytes([k]) * 600
            (folder / rel).write_bytes(data)
            start = T0 + timedelta(seconds=10 * k)
            m.segments.append(
                mf.SegmentEntry(
                    kind=kind, file=rel, run=1, start=start, end=start + timedelta(seconds=10),
                    duration=10.0, bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                )
            )  # fmt: skip
    mf.save(folder, m)
    (folder / mf.TRANSCRIPT).write_text('{"seq": 0, "text": "现在开庭"}\n', encoding="utf-8")
    return folder


def test_a_whole_recording_is_complete(tmp_path: Path) -> None:
    folder = session(tmp_path / "s", video=6, audio=6)
    got = check([str(folder)], (ms(T0 + timedelta(seconds=5)), ms(T0 + timedelta(seconds=55))))
    assert got.verdict == "complete", got.problems
    assert got.video_seconds == got.audio_seconds == 60 and got.transcript_lines == 1


def test_missing_tampered_and_short_recordings_are_named(tmp_path: Path) -> None:
    folder = session(tmp_path / "s", video=6, audio=4, skip=2)
    (folder / "audio" / "a001_00001.ts").write_bytes(b"t" * 600)  # same size as before
    (folder / "video" / "v001_00003.ts").unlink()
    required = (ms(T0), ms(T0 + timedelta(seconds=60)))
    got = check([str(folder)], required)
    assert got.verdict == "incomplete"
    problems = "\n".join(got.problems)
    assert "v001_00003.ts: listed but missing" in problems
    assert "a001_00001.ts: SHA-256 does not match" in problems
    assert "video and audio differ by 10.0 s" in problems
    # a missing or tampered segment is no recording: gaps where they were
    assert got.video_gaps == ((ms(T0 + timedelta(seconds=20)), ms(T0 + timedelta(seconds=40))),)
    assert got.audio_gaps == (
        (ms(T0 + timedelta(seconds=10)), ms(T0 + timedelta(seconds=20))),
        (ms(T0 + timedelta(seconds=40)), required[1]),
    )
    assert check([], required).verdict == "not_recorded"
    assert check([str(tmp_path / "elsewhere")], required).verdict == "unreachable"
