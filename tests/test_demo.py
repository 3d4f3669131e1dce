"""`streamd demo`, as a newcomer and a script run it: the compressed day with real agents,
ffmpeg and the embedded broker, then `streamd coverage --all --json` on what it left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import psutil
import pytest

from streamd.demo.day import DAY
from streamd_protocol import manifest as mf
from tests.conftest import ROOT
from tests.mqtt_support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.ffmpeg, pytest.mark.heavy]
STREAMD = [sys.executable, "-m", "streamd.cli"]
SPEED = "180"  # the day (6.5 hours less most of lunch) in about 97 s


def _env(data: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STREAMD_")}
    return base | {"STREAMD_DATA_DIR": str(data)}


def _coverage(data: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [*STREAMD, "coverage", "--all", "--json"],
        env=_env(data),
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr.decode()
    found: list[dict[str, Any]] = json.loads(out.stdout)
    return found


def _logs(data: Path, lines: int = 30) -> str:
    """The end of every log the demo wrote (streamd's and each agent's): a failed day on a
    CI machine says which process stopped and why, not only that hearings went unrecorded."""
    parts = []
    for log in sorted((data / "logs").glob("*.log")):
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        parts.append(f"--- {log.name}\n" + "\n".join(tail))
    return "\n".join(parts)


def _first_frame_decodes(folder: Path) -> None:
    manifest = mf.load(folder)
    assert manifest.segments, folder
    assert mf.verify(folder) == []
    for kind in ("video", "audio"):
        seg = next(s for s in manifest.segments if s.kind == kind)
        with av.open(str(folder / seg.file)) as c:
            streams = c.streams.video if kind == "video" else c.streams.audio
            assert next(c.decode(streams[0])) is not None


def test_the_demo_runs_a_day_and_leaves_verdicts_and_playable_recordings(
    tmp_path: Path,
) -> None:
    data = tmp_path / "demo"
    port = free_port()
    # From a folder with nothing of the repository: the sample court comes from the package.
    empty = tmp_path / "empty"
    empty.mkdir()
    out = subprocess.run(
        [
            *STREAMD,
            "demo",
            "--data-dir",
            str(data),
            "--port",
            str(port),
            "--speed",
            SPEED,
            "--once",
        ],
        env=_env(tmp_path / "elsewhere"),
        cwd=empty,
        capture_output=True,
        timeout=600,
    )
    text = out.stdout.decode()
    assert out.returncode == 0, text[-4000:] + out.stderr.decode()[-4000:] + _logs(data)
    assert "the day is over. 10 hearings, 7 streamed" in text, text + _logs(data)
    assert "10/10 recordings complete and playable" in text, text + _logs(data)
    assert f"http://127.0.0.1:{port}/hls/room-01/index.m3u8" in text
    assert "clerk     / clerk-demo-2026     clerk" in text

    summary = json.loads((data / "summary.json").read_text(encoding="utf-8"))
    assert summary["problems"] == []  # includes "every closed segment is in both roots"
    assert "segments in both roots" in text
    for h in summary["hearings"]:  # every hearing's recording reached the archive and backup
        assert h["archived_segments"] > 0, h
        assert (data / "archive" / str(h["hearing_id"])).is_dir()
        assert (data / "archive-backup" / str(h["hearing_id"])).is_dir()
    ids = {h["key"]: h["hearing_id"] for h in summary["hearings"]}
    lines = {h["key"]: h["line"] for h in summary["hearings"]}
    by_id = {c["hearing_id"]: c for c in _coverage(data)}
    assert len(by_id) == 10
    cov = {key: by_id[hid] for key, hid in ids.items()}

    # Two lines, and at 09:30 three streamable hearings: one is told why it has none.
    assert sorted(k for k, line in lines.items() if line is None) == ["C", "E", "G"]
    no_line = next(h for h in summary["hearings"] if h["key"] == "C")
    assert "无空闲线路" in no_line["not_streamed"]
    for key in ("C", "E", "G"):  # no line, not public, divorce: never on air
        assert cov[key]["verdict"] == "not_streamed", cov[key]
        assert cov[key]["live"] == [], cov[key]
    # The incident pause: authorised, so coverage stays whole; the slate was seen.
    assert cov["A"]["verdict"] == "full" and cov["A"]["coverage_percent"] == 100.0
    assert len(cov["A"]["paused"]) == 1 and cov["A"]["slate"], cov["A"]
    # The hung encoder: the agent's watchdog (3 s) restarts it; the monitor counts the gap.
    assert cov["H"]["verdict"] == "gaps" and cov["H"]["gap_seconds"] >= 2, cov["H"]
    for key in ("B", "D", "F", "I", "J"):
        assert cov[key]["verdict"] == "full", (key, cov[key])
    # 三同步: every hearing, streamed or not, is recorded whole, checksums verified.
    for key, c in cov.items():
        rec = c["recording"]
        assert rec["verdict"] == "complete", (key, rec)
        assert rec["transcript_lines"] >= 2, (key, rec)
        for folder in rec["folders"]:
            _first_frame_decodes(Path(folder))
    # room-04's evidence camera stops 6 s into each hearing there: a gap in its own track
    # only, and the record still complete.
    room_04 = [h.key for h in DAY if h.room == "room-04"]
    for key in room_04:
        gaps = [g for f in cov[key]["recording"]["folders"] for g in mf.load(Path(f)).gaps]
        assert [g.track for g in gaps] == ["evidence"], (key, gaps)


def test_ctrl_c_mid_day_adjourns_and_leaves_playable_recordings(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    log = (tmp_path / "demo.out").open("wb")
    proc = subprocess.Popen(
        [*STREAMD, "demo", "--data-dir", str(data), "--port", str(free_port()), "--speed", "60"],
        env=_env(tmp_path),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while "直播开始" not in (tmp_path / "demo.out").read_text(encoding="utf-8"):
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "demo.out"
            ).read_text(encoding="utf-8")
            time.sleep(0.5)
        time.sleep(5)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    text = (tmp_path / "demo.out").read_text(encoding="utf-8")
    assert "stopping mid-day" in text, text
    opened = [c for c in _coverage(data) if c["recording"]["verdict"] != "not_recorded"]
    assert opened, text
    for c in opened:
        assert c["recording"]["verdict"] == "complete", c
        for folder in c["recording"]["folders"]:
            _first_frame_decodes(Path(folder))
    left = [p.cmdline() for p in psutil.process_iter() if _mentions(p, str(data))]
    assert left == [], "agents or ffmpeg left running"


def _mentions(proc: psutil.Process, text: str) -> bool:
    try:
        return any(text in arg for arg in proc.cmdline())
    except psutil.Error:
        return False
