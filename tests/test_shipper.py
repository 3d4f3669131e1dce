"""The agent's spool read from real session folders: what is pending, in which order,
and what retention may remove (only with keep_days, only what the archive holds whole)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from agents.config import AgentConfig, load
from agents.shipper import LOG_NAME, Shipper, supervise
from streamd_protocol import manifest as mf
from streamd_protocol.manifest import Manifest, SegmentEntry
from tests.mqtt_support import room_config

STAMP = "20261202T090000Z"


def config(tmp: Path, **archive: object) -> AgentConfig:
    path, _ = room_config(tmp, 1883)
    url = archive.pop("url", "http://127.0.0.1:9")
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in archive.items())
    with path.open("a") as fh:
        fh.write(f'[agent.archive]\nurl = "{url}"\n{lines}')
    return load(path)


@contextlib.asynccontextmanager
async def archive(answer: Callable[[str], int]) -> AsyncIterator[tuple[str, list[str]]]:
    """A stand-in archive over real HTTP: `answer(key)` picks the status; 201 confirms."""
    got: list[str] = []

    async def put(request: web.Request) -> web.Response:
        await request.read()
        key = request.match_info["key"]
        status = answer(key)
        if status == 201:
            got.append(key)
        return web.json_response({"sha256": request.headers["X-Streamd-SHA256"]}, status=status)

    app = web.Application()
    app.router.add_put("/archive/v1/files/{key:.+}", put)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", got
    finally:
        await runner.cleanup()


async def until(check: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


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
        _log_shipped(cfg, done, 3, backed_up=True)
        shipper = Shipper(cfg, lambda: None)
        shipper.scan()
        shipper._retire()
        assert pending.exists(), "a session the archive lacks is never removed"
        assert done.exists() is (keep is None), "removed only with keep_days, once confirmed"


def _log_shipped(cfg: AgentConfig, folder: Path, hid: int, *, backed_up: bool) -> list[str]:
    """Write the shipping log as if the archive had confirmed every file of the session."""
    log = cfg.data_dir / "shipping" / LOG_NAME
    log.parent.mkdir(parents=True, exist_ok=True)
    old = time.time() - 3 * 86400
    rels = ["video/v000_00000.ts", "runs/r000_video.csv", "manifest.json"]
    records = [
        {"key": f"{hid}/{STAMP}/{r}", "at": old, "backed_up": backed_up,
         "sha256": mf.sha256_file(folder / r)}
        for r in rels
    ]  # fmt: skip
    records.append({"key": f"{hid}/{STAMP}/transcript.jsonl", "at": old, "sha256": None})
    with log.open("a") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
        fh.write(json.dumps({"done": f"{hid}/{STAMP}", "at": old}) + "\n")
    return rels


def test_retention_never_removes_a_file_the_archive_did_not_confirm_in_both_roots(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path, keep_days=1)
    twice = session(cfg, 3, STAMP, 1, closed=True)
    once = session(cfg, 4, STAMP, 1, closed=True)
    _log_shipped(cfg, twice, 3, backed_up=True)
    _log_shipped(cfg, once, 4, backed_up=False)
    stray = twice / "video" / "v000_00099.ts"  # on disk, in no manifest, never shipped
    stray.write_bytes(b"unlisted")
    (twice / "notes.txt").write_text("a clerk's note")
    (twice / "runs" / "r000_video.csv").write_text("changed after it was shipped\n")
    shipper = Shipper(cfg, lambda: None)
    shipper.scan()
    shipper._retire()
    assert not (twice / "video" / "v000_00000.ts").exists(), "confirmed twice: may go"
    assert stray.read_bytes() == b"unlisted" and (twice / "notes.txt").exists()
    assert (twice / "runs" / "r000_video.csv").exists(), "changed since shipped: stays"
    assert (twice / mf.MANIFEST).exists() is False
    assert sorted(p.name for p in once.rglob("*") if p.is_file()) == [
        "manifest.json",
        "r000_video.csv",
        "v000_00000.ts",
    ], "the backup root never confirmed it: nothing removed"


async def test_one_file_that_keeps_failing_holds_back_only_its_own_track(
    tmp_path: Path,
) -> None:
    bad = f"3/{STAMP}/video/v000_00001.ts"
    async with archive(lambda k: 500 if k == bad else 201) as (url, got):
        cfg = config(tmp_path, url=url, retry_cap_seconds=0.05, poll_seconds=0.05)
        session(cfg, 3, STAMP, 4, closed=False)
        session(cfg, 4, "20261202T100000Z", 2, closed=False)
        shipper = Shipper(cfg, lambda: None)
        task = asyncio.create_task(shipper.run())
        try:
            await until(lambda: len(got) == 3)
            await asyncio.sleep(0.5)  # many backoffs of the bad file expire meanwhile
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert got[0] == f"3/{STAMP}/video/v000_00000.ts"
    assert sorted(got[1:]) == [f"4/20261202T100000Z/video/v000_{i:05d}.ts" for i in range(2)]
    assert shipper.stats.pending == 3, "nothing of hearing 3 after the bad file went first"


async def test_after_an_outage_each_track_arrives_in_order(tmp_path: Path) -> None:
    """The archive refuses everything (507) for a while, then recovers: each item's own
    backoff expires at a random moment, yet the archive sees every track in order."""
    down = {"on": True}
    async with archive(lambda k: 507 if down["on"] else 201) as (url, got):
        cfg = config(tmp_path, url=url, retry_cap_seconds=0.05, poll_seconds=0.05)
        session(cfg, 3, STAMP, 6, closed=False)
        session(cfg, 4, "20261202T100000Z", 6, closed=False)
        shipper = Shipper(cfg, lambda: None)
        task = asyncio.create_task(shipper.run())
        try:
            await asyncio.sleep(1.0)
            down["on"] = False
            await until(lambda: len(got) == 12)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    for hid, stamp in ((3, STAMP), (4, "20261202T100000Z")):
        mine = [k for k in got if k.startswith(f"{hid}/")]
        assert mine == [f"{hid}/{stamp}/video/v000_{i:05d}.ts" for i in range(6)]


async def test_an_unreadable_manifest_does_not_stop_the_other_sessions_shipping(
    tmp_path: Path,
) -> None:
    async with archive(lambda k: 201) as (url, _):
        cfg = config(tmp_path, url=url, retry_cap_seconds=0.05, poll_seconds=0.05)
        broken = session(cfg, 3, STAMP, 1, closed=False)
        (broken / mf.MANIFEST).unlink()
        (broken / mf.MANIFEST).mkdir()  # reading it fails with an OSError (EISDIR)
        session(cfg, 4, "20261202T100000Z", 2, closed=False)
        shipper = Shipper(cfg, lambda: None)
        assert [i.hearing_id for i in shipper.scan()[0]] == [4, 4]
        assert shipper.stats.last_error is not None and "3/" in shipper.stats.last_error


async def test_a_crashed_shipper_is_restarted_and_says_why(tmp_path: Path) -> None:
    async with archive(lambda k: 201) as (url, _):
        cfg = config(tmp_path, url=url, retry_cap_seconds=0.05, poll_seconds=0.05)
        session(cfg, 3, STAMP, 2, closed=False)
        (cfg.data_dir / "shipping").write_text("")  # the log cannot be written: run() raises
        shipper = Shipper(cfg, lambda: None)
        task = asyncio.create_task(supervise(shipper, first_delay=0.05, cap=0.1))
        try:
            await until(lambda: shipper.stats.last_error is not None
                        and "crashed" in shipper.stats.last_error)  # fmt: skip
            (cfg.data_dir / "shipping").unlink()  # the disk is writable again
            await until(lambda: shipper.stats.shipped == 2)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert not task.done() or task.cancelled()
