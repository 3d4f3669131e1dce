"""A run after a restart never overlaps the run before it, so the hole between them is
declared however short the restart: a generated source runs ahead of the wall clock, and
the stopped run's last segment may end after the moment it was stopped."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agents.config import load
from agents.recorder import Recorder
from streamd_protocol import manifest as mf
from streamd_protocol.manifest import Manifest, RunEntry, SegmentEntry
from tests.mqtt_support import room_config


async def _nothing(*_: Any, **__: Any) -> None:
    return None


async def test_the_next_run_starts_after_the_last_recorded_media_and_its_hole_is_declared(
    tmp_path: Path,
) -> None:
    cfg = load(room_config(tmp_path, 1883)[0])
    folder = tmp_path / "recordings" / "6" / "20261202T090000Z"
    for sub in ("video", "audio", "runs", "set_aside"):
        (folder / sub).mkdir(parents=True)
    t0 = datetime(2026, 12, 2, 9, 0, 10, tzinfo=UTC)  # run 0 stopped here (SIGTERM)
    ahead = timedelta(seconds=0.6)  # ...yet its media ran this far ahead of the clock
    segs = []
    for n, (start, end) in enumerate([(t0 - timedelta(seconds=1.7), t0 + ahead - timedelta(
            seconds=0.3)), (t0 + ahead - timedelta(seconds=0.3), t0 + ahead)]):  # fmt: skip
        f = folder / "video" / f"v000_{n:05d}.ts"
        f.write_bytes(b"\x47" * 188 * (n + 1))
        segs.append(SegmentEntry(kind="video", file=f"video/{f.name}", run=0, start=start,
                                 end=end, duration=(end - start).total_seconds(),
                                 bytes=f.stat().st_size, sha256=mf.sha256_file(f)))  # fmt: skip
    restarted = t0 + timedelta(seconds=0.03)  # in-process: tens of milliseconds
    m = Manifest(
        hearing_id=6, room=cfg.room.code, session=folder.name, started_at=t0 - timedelta(minutes=1),
        segment_seconds=2, copied_from_source=False, time_overlay="agent", segments=segs,
        runs=[RunEntry(run=0, started_at=t0 - timedelta(minutes=1), anchor=0.0, ended_at=t0,
                       end_reason="stopped"),
              RunEntry(run=1, started_at=restarted)],
    )  # fmt: skip
    mf.save(folder, m)
    for n in range(2):
        (folder / "video" / f"v001_{n:05d}.ts").write_bytes(b"\x47" * 188 * 3)
    (folder / "runs" / "r001_video.csv").write_text(
        "v001_00000.ts,0.0,2.0\nv001_00001.ts,2.0,4.0\n"
    )
    rec = Recorder(cfg, folder, 6, _nothing)
    await rec._scan(1, final=True)
    video = sorted(rec.manifest.segments, key=lambda s: s.start)
    assert [s.run for s in video] == [0, 0, 1, 1], "no run overlaps the one before"
    for before, after in itertools.pairwise(video):
        hole = (after.start - before.end).total_seconds()
        assert hole > -0.01, (before.file, after.file, hole)
    [first] = [s for s in video if s.file.endswith("v001_00000.ts")]
    assert any(abs((g.end - first.start).total_seconds()) < 0.01 for g in rec.manifest.gaps), (
        "the restart is a declared gap"
    )
