"""Shipping against the real agent, real ffmpeg, a real broker and streamd's real server:
the fault cells of the archive (a PC wiped after a hearing, streamd down for a whole
hearing, a line cut mid-upload again and again, an archive root that cannot be written,
a courtroom PC that dies mid-hearing)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlmodel import col, select

from agents.agent import Agent
from agents.config import AgentConfig, load
from streamd.archive import export
from streamd.archive.service import Roots
from streamd.config import Settings
from streamd.models import Alert, ArchivedFile
from streamd.store import Database
from streamd_protocol import CommandKind, Leaf, Topics
from streamd_protocol import manifest as mf
from streamd_protocol.manifest import Manifest
from tests.archive_support import CuttingProxy, Server, add_hearing, key_of
from tests.mqtt_support import Court, broker_for, court_on, room_config, running_agent, spawn_agent

pytestmark = [pytest.mark.broker, pytest.mark.ffmpeg, pytest.mark.slow, pytest.mark.db]
K = CommandKind
DELETE_AFTER_SECONDS = 20.0  # fault (a): the courtroom PC's data is wiped this long after
SEGMENT_SECONDS = 2


def agent_config(tmp: Path, port: int, archive_url: str) -> tuple[Path, Topics]:
    path, topics = room_config(
        tmp / "room", port, secret=key_of("room-01"), segment_seconds=SEGMENT_SECONDS
    )
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f'[agent.archive]\nurl = "{archive_url}"\nretry_cap_seconds = 0.5\n')
    return path, topics


@contextlib.asynccontextmanager
async def room(tmp: Path, archive_url: str) -> AsyncIterator[tuple[AgentConfig, Agent, Court]]:
    async with broker_for(tmp) as (host, port):
        path, topics = agent_config(tmp, port, archive_url)
        cfg = load(path)
        async with (
            running_agent(cfg) as agent,
            court_on(host, port, topics, secret=key_of("room-01")) as court,
        ):
            yield cfg, agent, court


async def record(court: Court, hid: int, seconds: float) -> None:
    assert (await court.send(K.PREPARE, hid)).ok
    await court.transcript(hid, 0, "书记员", "请全体起立")
    await asyncio.sleep(seconds)
    await court.transcript(hid, 1, "审判长", "现在休庭")
    await asyncio.sleep(0.3)
    assert (await court.send(K.STOP, hid)).ok
    await court.wait_for(Leaf.EVENTS, lambda e: e["kind"] == "recording_stopped")


async def until(check: Any, *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def sessions(cfg: AgentConfig, hid: int) -> list[Path]:
    return sorted((cfg.data_dir / "recordings" / str(hid)).iterdir())


def archived(db: Database, hid: int) -> list[ArchivedFile]:
    with db.session() as s:
        q = select(ArchivedFile).where(ArchivedFile.hearing_id == hid)
        return list(s.exec(q.order_by(col(ArchivedFile.id))).all())


def assert_whole(arch: Settings, db: Database, hid: int) -> Manifest:
    """The archive holds the hearing: the manifest it holds lists segments all present in
    both roots with their hashes, in order, no duplicate; a gap only where the manifest
    says the recording had one."""
    rows = archived(db, hid)
    assert rows, "nothing archived"
    keys = [(r.session, r.path) for r in rows]
    assert len(keys) == len(set(keys)), "a file archived twice"
    [session] = {r.session for r in rows}
    assert arch.archive_dir and arch.archive_backup_dir
    primary = arch.archive_dir / str(hid) / session
    manifest = mf.load(primary)
    assert manifest.closed_at is not None
    by_path = {r.path: r for r in rows}
    for seg in manifest.segments:
        row = by_path.get(seg.file)
        assert row is not None, f"{seg.file} not archived"
        assert row.sha256 == seg.sha256 and row.bytes == seg.bytes
        for root in (arch.archive_dir, arch.archive_backup_dir):
            assert mf.sha256_file(root / str(hid) / session / seg.file) == seg.sha256
    assert mf.verify(primary) == [], "the archived session verifies against its own manifest"
    assert "transcript.jsonl" in by_path and "manifest.json" in by_path
    assert [x["seq"] for x in mf.transcript_lines(primary)] == [0, 1]
    for kind in ("video", "audio"):
        segs = [s for s in manifest.segments if s.kind == kind]
        order = [r.path for r in rows if r.kind == kind]
        assert order == [s.file for s in segs], f"{kind} segments archived out of order"
    video = sorted((s for s in manifest.segments if s.kind == "video"), key=lambda s: s.start)
    for a, b in itertools.pairwise(video):
        hole = (b.start - a.end).total_seconds()
        if hole > 0.1:
            assert any(abs((g.start - a.end).total_seconds()) < 0.5 for g in manifest.gaps)
    assert not any((arch.archive_dir / ".incoming").iterdir())
    return manifest


async def test_a_courtroom_pc_wiped_after_the_hearing_loses_nothing(
    arch: Settings, database: Database, tmp_path: Path
) -> None:
    """Fault (a): the agent's data folder is deleted DELETE_AFTER_SECONDS after the end."""
    hid = add_hearing(database)
    server = Server(arch, database)
    await server.start()
    try:
        async with room(tmp_path, server.url) as (cfg, _agent, court):
            await record(court, hid, 6)
            ended = time.monotonic()
            await asyncio.sleep(max(0.0, DELETE_AFTER_SECONDS - (time.monotonic() - ended)))
            shutil.rmtree(cfg.data_dir / "recordings")
            shutil.rmtree(cfg.data_dir / "shipping", ignore_errors=True)
        manifest = assert_whole(arch, database, hid)
        assert len([s for s in manifest.segments if s.kind == "video"]) >= 2
    finally:
        await server.stop()


async def test_streamd_down_for_a_whole_hearing_gets_everything_after_in_order(
    arch: Settings, database: Database, tmp_path: Path
) -> None:
    """Fault (b): no server during the hearing; then it comes back."""
    hid = add_hearing(database)
    server = Server(arch, database)
    async with room(tmp_path, server.url) as (cfg, agent, court):
        await record(court, hid, 6)
        await asyncio.sleep(1.0)
        assert archived(database, hid) == [] and agent.shipper.stats.pending > 0
        assert agent.shipper.stats.last_error, "the shipper saw the server down"
        await server.start()
        try:
            await until(lambda: agent.shipper.stats.pending == 0, within=60, what="backlog")
        finally:
            await server.stop()
        kept = sessions(cfg, hid)
        assert len(kept) == 1 and mf.verify(kept[0]) == [], "the PC kept its copy (keep)"
    manifest = assert_whole(arch, database, hid)
    # The real recording as the hearing's record: a bag bagit.py itself validates.
    assert arch.archive_dir is not None
    roots = Roots(arch.archive_dir, arch.archive_backup_dir)
    out = tmp_path / "bag"
    done = export.export(
        database, roots=roots, hearing_id=hid, out=out, zone=arch.zone, actor="test"
    )
    assert done.files == len(archived(database, hid)) >= len(manifest.segments) + 2
    argv = [sys.executable, str(Path(sys.executable).parent / "bagit.py"), "--validate", str(out)]
    checked = await asyncio.to_thread(subprocess.run, argv, capture_output=True)
    assert checked.returncode == 0, checked.stderr
    assert export.verify(out) == []


async def test_a_line_cut_mid_upload_again_and_again_delivers_every_file_whole(
    arch: Settings, database: Database, tmp_path: Path
) -> None:
    """Fault (c): the first eight connections are cut after 20 kB."""
    hid = add_hearing(database)
    server = Server(arch, database)
    await server.start()
    try:
        async with CuttingProxy(server.port, cuts=8, after=20_000) as proxy:
            async with room(tmp_path, proxy.url) as (_cfg, agent, court):
                await record(court, hid, 6)
                await until(lambda: agent.shipper.stats.pending == 0, within=60, what="backlog")
            assert proxy.cut == 8
    finally:
        await server.stop()
    assert_whole(arch, database, hid)


async def test_an_archive_root_that_cannot_be_written_alerts_and_the_agent_keeps_spooling(
    arch: Settings, database: Database, tmp_path: Path
) -> None:
    """Fault (e): the archive mount is broken (a file where the folder should be)."""
    assert arch.archive_dir is not None
    arch.archive_dir.rmdir()
    arch.archive_dir.write_text("the NAS is not mounted")
    hid = add_hearing(database)
    server = Server(arch, database)
    await server.start()
    try:
        async with room(tmp_path, server.url) as (cfg, agent, court):
            await record(court, hid, 5)
            await asyncio.sleep(1.0)
            assert "507" in (agent.shipper.stats.last_error or "")
            with database.session() as s:
                assert s.exec(select(Alert).where(Alert.kind == "archive_disk")).first()
            [folder] = sessions(cfg, hid)
            assert mf.verify(folder) == [] and agent.shipper.stats.pending > 0
            arch.archive_dir.unlink()  # the NAS is back: a new, empty volume
            arch.archive_dir.mkdir()
            await until(lambda: agent.shipper.stats.pending == 0, within=60, what="backlog")
            assert mf.verify(folder) == [], "nothing deleted on the PC"
            with database.session() as s:
                open_disk = s.exec(
                    select(Alert).where(
                        Alert.kind == "archive_disk", col(Alert.cleared_at).is_(None)
                    )
                ).all()
            assert open_disk == [], "the alert clears once the archive takes files again"
    finally:
        await server.stop()
    assert_whole(arch, database, hid)


async def test_a_pc_that_dies_mid_hearing_loses_at_most_a_segment_and_five_seconds(
    arch: Settings, database: Database, tmp_path: Path
) -> None:
    """The agent and its ffmpeg are killed at once; whatever reached the archive is all
    the record there is. Loss = death time - end of the last archived video segment."""
    hid = add_hearing(database)
    server = Server(arch, database)
    await server.start()
    try:
        async with broker_for(tmp_path) as (host, port):
            path, topics = agent_config(tmp_path, port, server.url)
            cfg = load(path)
            proc = await spawn_agent(path)
            try:
                async with court_on(host, port, topics, secret=key_of("room-01")) as court:
                    await court.wait_for(
                        Leaf.STATE,
                        lambda s: s["phase"] == "idle",
                        within=20,
                    )
                    assert (await court.send(K.PREPARE, hid)).ok
                    await asyncio.sleep(9.3)
                    died = datetime.now(UTC)
                    family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(True)]
                    for p in family:
                        with contextlib.suppress(psutil.NoSuchProcess):
                            p.send_signal(signal.SIGKILL)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
    finally:
        await server.stop()
    assert cfg.data_dir.exists()
    rows = [r for r in archived(database, hid) if r.kind == "video"]
    assert rows, "segments were shipped while the hearing ran"
    [folder] = sessions(cfg, hid)
    manifest = mf.load(folder)
    last_end = max(
        (manifest.started_at.timestamp() + (r.offset_seconds or 0) + (r.duration_seconds or 0))
        for r in rows
    )
    loss = died.timestamp() - last_end
    bound = SEGMENT_SECONDS + 5
    print(f"\nPC lost mid-hearing: {loss:.2f} s not in the archive (bound {bound} s)")
    assert loss <= SEGMENT_SECONDS + 5
