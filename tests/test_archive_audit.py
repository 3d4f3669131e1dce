"""The fixity audit and the record package, through the CLI scripts rely on."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from streamd.archive import service
from streamd.cli import main
from streamd.config import Settings
from streamd.models import (
    AgentEvent,
    Alert,
    ArchivedFile,
    AuditEntry,
    Courtroom,
    Stream,
    TranscriptEntry,
)
from streamd.store import Database
from streamd.web import create_app
from streamd.web.archive_api import ArchiveState, keep
from tests.archive_support import add_hearing, archive_settings
from tests.conftest import Client, MakeClient
from tests.test_archive import SESSION, put
from tests.test_archive_status import closed_segment

pytestmark = pytest.mark.db
FILES = {
    "video/v000_00000.ts": b"\x47" * 188 * 50,
    "video/v000_00001.ts": b"\x47\x01" * 188 * 40,
    "audio/a000_00000.aac": b"\xff\xf1" * 900,
    "transcript.jsonl": '{"seq": 0, "speaker": "审判长", "text": "现在开庭"}\n'.encode(),
    "manifest.json": b'{"v": 1}',
}


@pytest.fixture
def arch(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    s = archive_settings(settings, tmp_path)
    for name, value in {
        "STREAMD_DATABASE_URL": s.effective_database_url,
        "STREAMD_DATA_DIR": str(s.data_dir),
        "STREAMD_ARCHIVE_DIR": str(s.archive_dir),
        "STREAMD_ARCHIVE_BACKUP_DIR": str(s.archive_backup_dir),
        "STREAMD_COMMAND_SECRET": str(s.command_secret),
        "STREAMD_COURT_CONFIG_DIR": str(s.court_config_dir),
    }.items():
        monkeypatch.setenv(name, value)
    return s


@pytest.fixture  # the database first: it must outlive the server's background keeper
async def filled(database: Database, arch: Settings, aiohttp_client: MakeClient) -> int:
    client: Client = await aiohttp_client(create_app(settings=arch, db=database))
    hid = add_hearing(database)
    for path, data in FILES.items():
        assert (await put(client, hid, path, data))[0] == 201
    return hid


def _cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


async def cli(*argv: str) -> int:
    """The command as a script runs it (off this test's event loop)."""
    return await asyncio.to_thread(_cli, list(argv))


def _at(root: Path | None, hid: int, path: str) -> Path:
    assert root is not None
    return root / str(hid) / SESSION / path


def _flip(path: Path, at: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


async def test_a_clean_archive_audits_with_exit_0(filled: int, arch: Settings) -> None:
    assert await cli("archive", "audit", "--all") == 0
    assert await cli("archive", "audit", "--since", "2020-01-01") == 0


async def test_a_flipped_byte_is_found_and_restored_from_the_backup(
    filled: int, arch: Settings, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    seg = _at(arch.archive_dir, filled, "video/v000_00001.ts")
    _flip(seg)
    assert await cli("archive", "audit") == 1
    out = capsys.readouterr().out
    assert "restored_primary" in out and "v000_00001.ts" in out
    assert seg.read_bytes() == FILES["video/v000_00001.ts"]
    assert arch.archive_dir
    kept = list((arch.archive_dir / ".damaged").rglob("v000_00001.ts"))
    assert len(kept) == 1 and kept[0].read_bytes() != seg.read_bytes(), "the bad copy is kept"
    with database.session() as s:
        assert s.exec(
            select(AuditEntry).where(AuditEntry.action == "archive.restored_primary")
        ).all()
        assert s.exec(select(Alert).where(Alert.kind == "archive_repaired")).all()
    assert await cli("archive", "audit") == 0, "repaired for good"


async def test_a_missing_backup_copy_is_restored_and_a_file_bad_in_both_is_lost_loudly(
    filled: int, arch: Settings, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    _at(arch.archive_backup_dir, filled, "audio/a000_00000.aac").unlink()
    _flip(_at(arch.archive_dir, filled, "video/v000_00000.ts"))
    _flip(_at(arch.archive_backup_dir, filled, "video/v000_00000.ts"))
    assert await cli("archive", "audit", "--all") == 1
    captured = capsys.readouterr()
    assert "restored_backup" in captured.out and "a000_00000.aac" in captured.out
    assert "LOST" in captured.err and "v000_00000.ts" in captured.err
    assert _at(arch.archive_backup_dir, filled, "audio/a000_00000.aac").exists()
    with database.session() as s:
        row = s.exec(select(ArchivedFile).where(ArchivedFile.path == "video/v000_00000.ts")).one()
        assert row.state == "lost"
        assert s.exec(select(Alert).where(Alert.kind == "archive_lost")).all()
    assert _at(arch.archive_dir, filled, "video/v000_00000.ts").exists(), "never deleted"
    assert await cli("archive", "audit") == 1, "lost stays reported"


async def test_audit_bad_input_exits_2(arch: Settings, database: Database) -> None:
    assert await cli("archive", "audit", "--since", "yesterday") == 2
    assert await cli("archive", "audit", "--all", "--since", "2026-01-01") == 2


async def test_a_backup_root_that_was_down_is_filled_in_behind(
    database: Database, arch: Settings, aiohttp_client: MakeClient, tmp_path: Path
) -> None:
    assert arch.archive_backup_dir is not None
    arch.archive_backup_dir.rmdir()
    arch.archive_backup_dir.write_text("not a folder: the backup disk is not mounted")
    client: Client = await aiohttp_client(create_app(settings=arch, db=database))
    hid = add_hearing(database)
    status, body = await put(client, hid, "video/v000_00000.ts", b"abc" * 1000)
    assert status == 201 and '"backed_up": false' in body, "confirmed: safe in the primary"
    with database.session() as s:
        assert s.exec(select(Alert).where(Alert.kind == "archive_backup")).all()
    arch.archive_backup_dir.unlink()
    arch.archive_backup_dir.mkdir()  # the backup disk is mounted: a new, empty volume
    roots = service.Roots(arch.archive_dir or tmp_path, arch.archive_backup_dir)
    assert await service.backfill(database, roots, settle_seconds=0) == 1
    assert _at(arch.archive_backup_dir, hid, "video/v000_00000.ts").read_bytes() == b"abc" * 1000


async def test_a_root_briefly_unreadable_is_not_lost_and_the_next_audit_recovers(
    filled: int, arch: Settings, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    """The backup NAS drops out during the audit: nothing is repaired into its empty mount
    point, nothing is marked lost; once it is back, the audit is clean."""
    assert arch.archive_backup_dir is not None and arch.archive_dir is not None
    away = arch.archive_backup_dir.with_name("backup-offline")
    arch.archive_backup_dir.rename(away)
    arch.archive_backup_dir.mkdir()  # the bare mount point
    _flip(_at(arch.archive_dir, filled, "video/v000_00001.ts"))  # and one real fault
    assert await cli("archive", "audit", "--all") == 1
    out = capsys.readouterr().out
    assert "unreadable" in out and "LOST" not in out
    assert list(arch.archive_backup_dir.iterdir()) == [], "nothing written to the mount point"
    with database.session() as s:
        states = {r.path: r.state for r in s.exec(select(ArchivedFile)).all()}
        assert "lost" not in states.values(), states
        assert not s.exec(select(Alert).where(Alert.kind == "archive_lost")).all()
    arch.archive_backup_dir.rmdir()
    away.rename(arch.archive_backup_dir)  # mounted again
    assert await cli("archive", "audit", "--all") == 1, "now the flipped byte is repaired"
    assert "restored_primary" in capsys.readouterr().out
    assert await cli("archive", "audit", "--all") == 0
    with database.session() as s:
        assert {r.state for r in s.exec(select(ArchivedFile)).all()} == {"backed_up"}


async def test_an_archive_root_that_is_not_mounted_is_refused_never_recreated(
    database: Database, arch: Settings, aiohttp_client: MakeClient, filled: int
) -> None:
    assert arch.archive_dir is not None
    client: Client = await aiohttp_client(create_app(settings=arch, db=database))
    away = arch.archive_dir.with_name("archive-offline")
    arch.archive_dir.rename(away)  # unmounted: the path is gone
    status, _ = await put(client, filled, "video/v000_00009.ts", b"new segment")
    assert status == 507 and not arch.archive_dir.exists(), "never recreated"
    arch.archive_dir.mkdir()  # an empty mount point on the system disk
    status, body = await put(client, filled, "video/v000_00009.ts", b"new segment")
    assert status == 507, body
    assert list(arch.archive_dir.iterdir()) == [], "nothing written on the system disk"
    with database.session() as s:
        assert s.exec(select(Alert).where(Alert.kind == "archive_disk")).all()
    arch.archive_dir.rmdir()
    away.rename(arch.archive_dir)
    assert (await put(client, filled, "video/v000_00009.ts", b"new segment"))[0] == 201


async def test_the_record_exports_as_a_bag_that_bagit_itself_validates(
    filled: int,
    arch: Settings,
    database: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "record"
    assert await cli("record", "export", str(filled), "--out", str(out)) == 0
    printed = capsys.readouterr().out
    integrity = hashlib.sha256((out / "manifest-sha256.txt").read_bytes()).hexdigest()
    assert integrity in printed
    assert f"Record-Integrity-SHA256: {integrity}" in (out / "bag-info.txt").read_text()
    for path, data in FILES.items():
        assert (out / "data" / SESSION / path).read_bytes() == data
    assert (out / "data" / "casefile.json").exists()
    bagit_py = Path(sys.executable).parent / "bagit.py"
    ok = await _bagit_validate(bagit_py, out)
    assert ok.returncode == 0, ok.stderr
    assert await cli("record", "verify", str(out)) == 0
    with database.session() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "record.exported")).one()
        assert entry.after and entry.after["integrity"] == integrity

    _flip(out / "data" / SESSION / "video" / "v000_00001.ts")
    assert await cli("record", "verify", str(out)) == 1
    assert "v000_00001.ts" in capsys.readouterr().out
    bad = await _bagit_validate(bagit_py, out)
    assert bad.returncode != 0, "bagit.py agrees the bag is now invalid"


async def _bagit_validate(script: Path, bag: Path) -> subprocess.CompletedProcess[bytes]:
    """The installed bagit's own command-line validator, as a reviewer would run it."""
    argv = [sys.executable, str(script), "--validate", str(bag)]
    return await asyncio.to_thread(subprocess.run, argv, capture_output=True)


async def test_export_bad_input_exits_2_and_leaves_nothing(
    filled: int, arch: Settings, tmp_path: Path
) -> None:
    assert await cli("record", "export", "999999", "--out", str(tmp_path / "a")) == 2
    assert not (tmp_path / "a").exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("someone's file")
    assert await cli("record", "export", str(filled), "--out", str(busy)) == 2
    assert [p.name for p in busy.iterdir()] == ["x"]


async def test_the_keeper_audits_on_schedule_and_repairs_without_anyone_asking(
    filled: int, arch: Settings, database: Database
) -> None:
    seg = _at(arch.archive_backup_dir, filled, "video/v000_00001.ts")
    _flip(seg, at=7)
    often = arch.model_copy(update={"archive_audit_seconds": 0.01})
    state = ArchiveState()
    stop = asyncio.Event()
    keeper = asyncio.create_task(keep(database, often, state, tick=0.05, stop=stop))
    try:
        for _ in range(200):
            if seg.read_bytes() == FILES["video/v000_00001.ts"]:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await keeper
    assert seg.read_bytes() == FILES["video/v000_00001.ts"], "restored from the archive copy"
    with database.session() as s:
        assert s.exec(
            select(AuditEntry).where(AuditEntry.action == "archive.restored_backup")
        ).all()


async def test_a_long_audit_does_not_hold_back_the_keeper_s_alerts(
    filled: int, arch: Settings, database: Database
) -> None:
    """The audit is stuck reading one copy (a FIFO: the read blocks, as on a hung NAS):
    the keeper still raises the backlog alert on its next tick."""
    seg = _at(arch.archive_dir, filled, "video/v000_00000.ts")
    seg.unlink()
    os.mkfifo(seg)
    often = arch.model_copy(update={"archive_audit_seconds": 0.01})
    stop = asyncio.Event()
    keeper = asyncio.create_task(keep(database, often, ArchiveState(), tick=0.05, stop=stop))

    def backlog(session: Session) -> bool:
        return (
            session.exec(select(Alert).where(Alert.kind == "archive_backlog")).first() is not None
        )

    try:
        await asyncio.sleep(0.5)  # the audit is now blocked on the FIFO
        closed_segment(database, filled, "video/v000_00009.ts", "c" * 64, 600, 90)
        for _ in range(100):
            if database.call(backlog):
                break
            await asyncio.sleep(0.05)
        assert database.call(backlog), "the alert waited for the audit"
    finally:
        stop.set()
        # Each audit pass may open the FIFO again: keep giving a blocked reader its EOF
        # until the keeper has stopped (ENXIO: nobody is reading right now).
        for _ in range(600):
            if keeper.done():
                break
            with contextlib.suppress(OSError):
                os.close(os.open(seg, os.O_WRONLY | os.O_NONBLOCK))
            await asyncio.wait([keeper], timeout=0.05)
        await asyncio.wait_for(keeper, 1)


async def test_the_bag_carries_the_case_file_and_the_transcript_streamd_holds(
    filled: int, arch: Settings, database: Database, tmp_path: Path
) -> None:
    def orchestrated(session: Session) -> None:
        room = session.exec(select(Courtroom).where(Courtroom.code == "room-01")).one()
        assert room.id is not None
        stream = Stream(hearing_id=filled, courtroom_id=room.id, room="room-01", state="ended")
        session.add(stream)
        session.flush()
        assert stream.id is not None
        session.add(
            TranscriptEntry(
                stream_id=stream.id, seq=0, speaker="审判长", text="现在开庭", entered_by="clerk"
            )
        )
        session.add(
            AgentEvent(
                id="room-01-99", room="room-01", seq=99, kind="gap", at=stream.created_at,
                hearing_id=filled, message="recording gap of 3.0 s: recorder restarted",
            )
        )  # fmt: skip

    database.call(orchestrated)
    out = tmp_path / "record"
    assert await cli("record", "export", str(filled), "--out", str(out)) == 0
    data = out / "data"
    case = json.loads((data / "casefile.json").read_text())
    assert case["hearing_id"] == filled and case["failures"], case
    assert "录音录像中断" in (data / "failure-explanation.txt").read_text()
    [line] = (data / "transcript-entered.jsonl").read_text().splitlines()
    assert json.loads(line)["text"] == "现在开庭"
    index = json.loads((data / "archive.json").read_text())
    assert {r["path"] for r in index} == set(FILES)
    assert await cli("record", "verify", str(out)) == 0


async def test_two_copies_to_the_backup_root_at_once_both_count_and_neither_fails(
    filled: int, arch: Settings, database: Database
) -> None:
    """An upload's own backup copy and the keeper's backfill racing on one file."""
    target = _at(arch.archive_backup_dir, filled, "video/v000_00000.ts")
    target.unlink()
    with database.session() as s:
        row = s.exec(select(ArchivedFile).where(ArchivedFile.path == "video/v000_00000.ts")).one()
    roots = service.Roots(arch.archive_dir or Path("."), arch.archive_backup_dir)
    results = await asyncio.gather(*(service.backup(database, roots, row) for _ in range(4)))
    assert all(results), results
    assert target.read_bytes() == FILES["video/v000_00000.ts"]
