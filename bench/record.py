"""Record page benchmark (the first run hung in preparation: `-t` stood after `-i`, so it
bounded only the video output and the looped input fed the audio output forever; it is an
input option now): click-to-first-frame and page load in Chromium, per recorder
timestamp layout, on a long hearing.

    .venv/bin/python -m bench.record                 # a 3-hour hearing, 20 seeks per layout
    .venv/bin/python -m bench.record --hours 0.5 --seeks 10

Three copies of one synthetic hearing (2 s H.264 + AAC segments, one transcript line every
5 s) are archived and played by the real record page in Debian's Chromium (headless, via
Playwright), served by the real application on loopback:

- `continuous`: timestamps run on across a recorder run's segments (ffmpeg's segment
  muxer without `reset_timestamps`); the playlist has no discontinuity.
- `reset`: every segment starts again at 0 (`reset_timestamps=1`), same playlist.
- `reset+disc`: the same segments with an `EXT-X-DISCONTINUITY` before each one.

Page load is from navigation to the first decoded frame (`loadeddata`); click-to-first-
frame from the click on a random transcript line to the first frame presented after the
seek (`requestVideoFrameCallback`). A seek that lands more than 0.5 s from its line, or not
within 10 s, is counted as a miss. The peer of each figure is the same figure for the
other layouts in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import math
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Page, async_playwright
from sqlmodel import Session, select

from streamd import court, sample
from streamd.archive import ledger
from streamd.auth import create_user
from streamd.config import load_settings
from streamd.models import Courtroom, Department, Hearing
from streamd.store import Database, upgrade
from streamd.web import create_app
from streamd_protocol import manifest as mf
from streamd_protocol.archive import FileKind
from streamd_protocol.media import ffmpeg_exe

PASSWORD = "bench-password-123"
SESSION = "20261202T090000Z"
START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
LAYOUTS = ("continuous", "reset", "reset+disc")


def clip(tmp: Path) -> Path:
    out = tmp / "clip.mkv"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15:duration=20",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=20",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "32k", str(out)],
        check=True,
    )  # fmt: skip
    return out


def segment(src: Path, folder: Path, seconds: float, reset: bool) -> None:
    for sub in ("video", "audio", "runs"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    split = ["-f", "segment", "-segment_time", "2", "-segment_list_type", "csv",
             "-reset_timestamps", "1" if reset else "0"]  # fmt: skip
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y",
         "-stream_loop", "-1", "-t", str(seconds), "-i", str(src),
         "-map", "0:v", "-c", "copy", *split, "-segment_format", "mpegts",
         "-segment_list", str(folder / "runs/r000_video.csv"), str(folder / "video/v000_%05d.ts"),
         "-map", "0:a", "-c", "copy", *split, "-segment_format", "adts",
         "-segment_list", str(folder / "runs/r000_audio.csv"), str(folder / "audio/a000_%05d.aac")],
        check=True,
    )  # fmt: skip


def archive(db: Database, root: Path, hearing_id: int, src: Path, layout: str) -> int:
    """Write one layout's recording and its archive rows; returns the transcript lines."""
    tmp = root / "_work" / layout
    if not (tmp / "video").exists():
        segment(src, tmp, SECONDS, reset=layout != "continuous")
    folder = root / str(hearing_id) / SESSION
    folder.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(tmp, folder)  # each hearing its own files, as the archive keeps them
    manifest = mf.Manifest(
        hearing_id=hearing_id, room="room-01", session=SESSION, started_at=START,
        segment_seconds=2, copied_from_source=True, time_overlay="agent",
    )  # fmt: skip
    for kind in ("video", "audio"):
        with (folder / f"runs/r000_{kind}.csv").open() as fh:
            for i, (name, begin, end) in enumerate(csv.reader(fh)):
                path = folder / kind / name
                run = i if layout == "reset+disc" else 0  # a run per segment: a discontinuity
                manifest.segments.append(
                    mf.SegmentEntry(
                        kind=kind, file=f"{kind}/{name}", run=run,  # type: ignore[arg-type]
                        start=START + timedelta(seconds=float(begin)),
                        end=START + timedelta(seconds=float(end)),
                        duration=round(float(end) - float(begin), 3),
                        bytes=path.stat().st_size, sha256=mf.sha256_file(path),
                    )
                )  # fmt: skip
    mf.save(folder, manifest)
    count = int(SECONDS // 5)
    with (folder / mf.TRANSCRIPT).open("w", encoding="utf-8") as fh:
        for i in range(count):
            at = (START + timedelta(seconds=2.5 + 5 * i)).isoformat()
            line = {"seq": i + 1, "speaker": "审判长", "text": f"第{i + 1}句。", "at": at}
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")

    def write(session: Session) -> None:
        by_file = {s.file: s for s in manifest.segments}
        for rel in ["manifest.json", "transcript.jsonl", *by_file]:
            data = (folder / rel).read_bytes()
            seg = by_file.get(rel)
            kind = FileKind(seg.kind) if seg else FileKind(rel.split(".")[0])
            ledger.add(
                session=session, hearing_id=hearing_id, room="room-01", session_name=SESSION,
                path=rel, kind=kind, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                offset=(seg.start - START).total_seconds() if seg else None,
                duration=seg.duration if seg else None,
            )  # fmt: skip

    db.call(write)
    return count


def add_hearing(db: Database, n: int) -> int:
    def write(session: Session) -> int:
        room = session.exec(select(Courtroom).where(Courtroom.code == "room-01")).one()
        dept = session.exec(select(Department)).first()
        assert dept is not None and dept.id is not None and room.id is not None
        row = Hearing(
            case_number=f"（2026）粤0111民初{900 + n}号", case_year=2026, case_court_code="粤0111",
            case_type_code="民初", case_sequence=900 + n, cause="民间借贷纠纷",
            procedure="first_instance", session_kind="hearing", is_public=True,
            parties=["原告 张伟", "被告 李娜"], handler_judge="李明", clerk="王敏",
            department_id=dept.id, courtroom_id=room.id, planned_start=START + timedelta(days=n),
            planned_end=START + timedelta(days=n, hours=4),
        )  # fmt: skip
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id

    return db.call(write)


# Every wait in the page has its own timer: Chromium headless may never fire an event the
# first run awaited without one (`loadeddata` on a page whose player failed to attach, or
# `requestVideoFrameCallback` on a paused video whose frame is not composited), and an
# unresolved promise blocked `page.evaluate` forever. A timer resolves with null: a miss.
LOADED = """(wait) => new Promise((resolve) => {
  const v = document.getElementById('video');
  const timer = setTimeout(() => resolve(null), wait);
  const done = () => { clearTimeout(timer); resolve(performance.now()); };
  if (v.readyState >= 2) done(); else v.addEventListener('loadeddata', done, {once: true});
})"""
SEEK = """([i, wait]) => new Promise((resolve) => {
  const v = document.getElementById('video');
  const li = document.querySelectorAll('#lines > li[data-offset]')[i];
  const target = parseFloat(li.dataset.offset);
  const t0 = performance.now();
  let over = false;
  const finish = (ok) => {
    if (over) return;
    over = true; clearTimeout(timer);
    resolve([ok ? performance.now() - t0 : null, v.currentTime, target]);
  };
  const timer = setTimeout(() => finish(false), wait);
  // The first frame at the new position: a presented frame after 'seeked' when the browser
  // offers requestVideoFrameCallback and the video plays; else 'seeked' with data there.
  v.addEventListener('seeked', () => {
    if (v.requestVideoFrameCallback && !v.paused) {
      v.requestVideoFrameCallback(() => finish(true));
      setTimeout(() => { if (v.readyState >= 2) finish(true); }, 1000);
    } else if (v.readyState >= 2) finish(true);
    else v.addEventListener('canplay', () => finish(true), {once: true});
  }, {once: true});
  li.querySelector('button.line').click();
})"""
WAIT_MS = 10_000


async def evaluate(page: Page, script: str, arg: object) -> Any:
    """page.evaluate with a deadline on the Python side too: a page that dies mid-wait
    never resolves its promise."""
    return await asyncio.wait_for(page.evaluate(script, arg), timeout=WAIT_MS / 1000 + 5)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


async def measure(base: str, ids: dict[str, int], lines: int, seeks: int, loads: int) -> None:
    chromium = shutil.which("chromium")
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        ctx = await browser.new_context()
        resp = await ctx.request.post(
            f"{base}/api/v1/auth/session", data={"username": "admin", "password": PASSWORD}
        )
        assert resp.status == 200, await resp.text()
        rng = random.Random(7)
        picks = [rng.randrange(lines) for _ in range(seeks)]
        print(f"{'layout':>12} | {'load med s':>10} {'load p95 s':>10} | "
              f"{'seek med s':>10} {'seek p95 s':>10} {'misses':>6}")  # fmt: skip
        for layout, hid in ids.items():
            page = await ctx.new_page()
            load_times = []
            load_misses = 0
            for _ in range(loads):
                await page.goto(f"{base}/record/{hid}", timeout=WAIT_MS)
                loaded = await evaluate(page, LOADED, WAIT_MS)
                if loaded is None:
                    load_misses += 1
                else:
                    load_times.append(loaded / 1000)
            if not load_times:
                print(f"{layout:>12} | no frame within {WAIT_MS} ms of navigation")
                await page.close()
                continue
            seek_times, misses = [], 0
            for i in picks:
                took, now, target = await evaluate(page, SEEK, [i, WAIT_MS])
                if took is None or abs(now - target) > 0.5:
                    misses += 1
                else:
                    seek_times.append(took / 1000)
            await page.close()
            med = statistics.median(seek_times) if seek_times else float("nan")
            hi = p95(seek_times) if seek_times else float("nan")
            print(f"{layout:>12} | {statistics.median(load_times):10.2f} {p95(load_times):10.2f} | "
                  f"{med:10.2f} {hi:10.2f} {misses:>3}/{seeks}")  # fmt: skip
        await browser.close()


SECONDS = 3 * 3600.0


async def main() -> None:
    global SECONDS
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--seeks", type=int, default=20)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    SECONDS = args.hours * 3600
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "archive"
        settings = load_settings(
            environ={}, data_dir=tmp, court_config_dir=str(sample.court_dir()),
            archive_dir=str(root),
        )  # fmt: skip
        db = Database.from_url(settings.effective_database_url)
        upgrade(db.engine)
        db.call(
            court.apply_structure, structure=court.read_structure(sample.court_dir()), actor="bench"
        )
        db.call(create_user, username="admin", password=PASSWORD, roles=["admin"])
        began = time.perf_counter()
        src = clip(Path(tmp))
        ids, lines = {}, 0
        for n, layout in enumerate(LAYOUTS):
            ids[layout] = add_hearing(db, n)
            lines = archive(db, root, ids[layout], src, layout)
        print(f"{args.hours} h hearing, {lines} transcript lines, {int(SECONDS // 2)} segments "
              f"per track; prepared in {time.perf_counter() - began:.0f} s")  # fmt: skip
        runner = web.AppRunner(create_app(settings=settings, db=db))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            await measure(f"http://127.0.0.1:{port}", ids, lines, args.seeks, args.loads)
        finally:
            await runner.cleanup()
            db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
