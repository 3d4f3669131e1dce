"""The agent's spool read from real session folders: what is pending, in which order,
and what retention may remove (only with keep_days, only what the archive holds whole)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents import manifest as mf
from agents.config import AgentConfig, load
from agents.manifest import Manifest, SegmentEntry
from agents.shipper import LOG_NAME, Shipper
from tests.mqtt_support import room_config

STAMP = "20261202T090000Z"


def config(tmp: Path, **archive: object) -> AgentConfig:
    path, _ = room_config(tmp, 1883)
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in archive.items())
    with path.open("a") as fh:
        fh.write(f'[agent.archive]\nurl = "http://127.0.0.1:9"\n{lines}')
    return load(path)


def session(cfg: AgentConfig, hid: int, stamp: str, n: int, *, closed: bool) -> Path:
    folder = cfg.data_dir / "recordings" / str(hid) / stamp
    (folder / "video").mkdir(parents=True)
    (folder / "runs").mkdir()
    start = datetime(2026, 12, 2, 9, tzinfo=UTC)
    segs = []
    for i in range(n):
        f = folder / "video" / f"v000_{i:05d}.ts"
        f.write_bytes(b"x" * (i + 1))
        segs.append(
            SegmentEntry(
                kind="video",
                file=f"video/{f.name}",
                run=0,
                start=start + timedelta(seconds=2 * i),
                end=start + timedelta(seconds=2 * i + 2),
                duration=2.0,
                bytes=i + 1,
                sha256=mf.sha256_file(f),
            )
        )
    (folder / "runs" / "r000_video.csv").write_text("v000_00000.ts,0,2\n")
    m = Manifest(
        hearing_id=hid,
        room="room-01",
        session=stamp,
        started_at=start,
        closed_at=start + timedelta(minutes=1) if closed else None,
        segment_seconds=2,
        copied_from_source=False,
        time_overlay="agent",
        segments=segs,
    )
    mf.save(folder, m)
    return folder


def test_a_finished_session_ships_its_segments_then_run_lists_transcript_and_manifest_last(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path)
    old = session(cfg, 3, STAMP, 2, closed=True)
    live = session(cfg, 4, "20261202T100000Z", 3, closed=False)
    shipper = Shipper(cfg, lambda: str(live))
    backlog, now = shipper.scan()
    assert [i.path for i in backlog] == [
        "video/v000_00000.ts", "video/v000_00001.ts", "runs/r000_video.csv",
        "transcript.jsonl", "manifest.json",
    ]  # fmt: skip
    assert [i.path for i in now] == [f"video/v000_{i:05d}.ts" for i in range(3)]
    assert backlog[0].offset == 0.0 and backlog[1].offset == 2.0
    assert shipper.stats.pending == 8 and old.exists()


def test_retention_removes_only_sessions_archived_whole_and_only_when_asked(
    tmp_path: Path,
) -> None:
    for keep in (None, 1):
        cfg = config(tmp_path / str(keep), **({"keep_days": keep} if keep else {}))
        done = session(cfg, 3, STAMP, 1, closed=True)
        pending = session(cfg, 5, STAMP, 1, closed=True)
        log = cfg.data_dir / "shipping" / LOG_NAME
        log.parent.mkdir(parents=True)
        old = time.time() - 3 * 86400
        keys = [f"3/{STAMP}/{p}" for p in ("video/v000_00000.ts", "runs/r000_video.csv",
                                           "transcript.jsonl", "manifest.json")]  # fmt: skip
        log.write_text(
            "".join(json.dumps({"key": k, "at": old}) + "\n" for k in keys)
            + json.dumps({"done": f"3/{STAMP}", "at": old})
            + "\n"
        )
        shipper = Shipper(cfg, lambda: None)
        shipper.scan()
        shipper._retire()
        assert pending.exists(), "a session the archive lacks is never removed"
        assert done.exists() is (keep is None), "removed only with keep_days, once confirmed"
