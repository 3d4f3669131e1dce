"""A real recorded hearing in the archive: ffmpeg segments (two runs with a gap between,
as after a recorder restart), their manifest and transcript, and the archive's rows."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from streamd.archive import ledger
from streamd.store import Database
from streamd_protocol import manifest as mf
from streamd_protocol.archive import FileKind, kind_of
from streamd_protocol.media import ffmpeg_exe

SEGMENT = 2
SESSION = "20261202T090000Z"
START = datetime.fromisoformat("2026-12-02T09:00:00+00:00")
LINES = [
    ("审判长", "现在开庭。"),
    ("书记员", "请当事人陈述身份。"),
    ("原告", "我是原告张伟。"),
    ("被告", "我是被告李娜。"),
    ("审判长", "休庭。"),
]


@dataclass(frozen=True, slots=True)
class Recording:
    folder: Path
    manifest: mf.Manifest
    run_seconds: tuple[int, ...]
    gap_seconds: float


def _run(folder: Path, run: int, seconds: int) -> None:
    """One ffmpeg run: H.264 video and AAC audio segments, timestamps continuous within
    the run (as the recorder writes them) and starting again at the next run."""
    for sub in ("video", "audio", "runs"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    common = ["-f", "segment", "-segment_time", str(SEGMENT), "-segment_list_type", "csv"]
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency={440 + 110 * run}:duration={seconds}",
         "-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
         "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT})", "-pix_fmt", "yuv420p",
         *common, "-segment_format", "mpegts",
         "-segment_list", str(folder / "runs" / f"r{run:03d}_video.csv"),
         str(folder / "video" / f"v{run:03d}_%05d.ts"),
         "-map", "1:a", "-c:a", "aac", "-b:a", "64k",
         *common, "-segment_format", "adts",
         "-segment_list", str(folder / "runs" / f"r{run:03d}_audio.csv"),
         str(folder / "audio" / f"a{run:03d}_%05d.aac")],
        check=True, timeout=120,
    )  # fmt: skip


def make(
    root: Path, hearing_id: int, runs: tuple[int, ...] = (6, 4), gap: float = 3.0
) -> Recording:
    folder = root / str(hearing_id) / SESSION
    manifest = mf.Manifest(
        hearing_id=hearing_id, room="room-01", session=SESSION, started_at=START,
        segment_seconds=SEGMENT, copied_from_source=False, time_overlay="agent",
    )  # fmt: skip
    at = START
    for run, seconds in enumerate(runs):
        _run(folder, run, seconds)
        manifest.runs.append(mf.RunEntry(run=run, started_at=at, anchor=at.timestamp()))
        for kind, sub in (("video", "video"), ("audio", "audio")):
            with (folder / "runs" / f"r{run:03d}_{kind}.csv").open() as fh:
                for name, begin, end in csv.reader(fh):
                    path = folder / sub / name
                    manifest.segments.append(
                        mf.SegmentEntry(
                            kind=kind, file=f"{sub}/{name}", run=run,  # type: ignore[arg-type]
                            start=at + timedelta(seconds=float(begin)),
                            end=at + timedelta(seconds=float(end)),
                            duration=round(float(end) - float(begin), 3),
                            bytes=path.stat().st_size, sha256=mf.sha256_file(path),
                        )
                    )  # fmt: skip
        ended = at + timedelta(seconds=seconds)
        manifest.runs[-1].ended_at = ended
        if run + 1 < len(runs):
            manifest.runs[-1].end_reason = "ffmpeg exited"
            manifest.gaps.append(
                mf.GapEntry(start=ended, end=ended + timedelta(seconds=gap), seconds=gap,
                            cause="recorder restarted")
            )  # fmt: skip
        at = ended + timedelta(seconds=gap)
    with (folder / mf.TRANSCRIPT).open("w", encoding="utf-8") as fh:
        for i, (speaker, text) in enumerate(LINES):
            # Lines in the first run only spread over it; the last falls in the second run.
            when = START + timedelta(seconds=1 + i * 1.5 if i < 4 else runs[0] + gap + 1.5)
            line = {"seq": i + 1, "speaker": speaker, "text": text, "at": when.isoformat()}
            fh.write(json.dumps(line | {"offset": 0}, ensure_ascii=False) + "\n")
    mf.save(folder, manifest)
    return Recording(folder, manifest, runs, gap)


def archive(db: Database, rec: Recording, hearing_id: int) -> None:
    """The rows the archive would have written on receiving every file."""
    by_file = {s.file: s for s in rec.manifest.segments}
    files = sorted(str(p.relative_to(rec.folder)) for p in rec.folder.rglob("*") if p.is_file())

    def write(session: Session) -> None:
        for rel in files:
            try:
                kind = kind_of(rel)
            except ValueError:
                continue
            data = (rec.folder / rel).read_bytes()
            seg = by_file.get(rel)
            ledger.add(
                session=session, hearing_id=hearing_id, room="room-01", session_name=SESSION,
                path=rel, kind=FileKind(kind), size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                offset=(seg.start - START).total_seconds() if seg else None,
                duration=seg.duration if seg else None,
            )  # fmt: skip

    db.call(write)
