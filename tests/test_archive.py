"""The archive: its path rules and upload protocol, refusals, backup copy and fixity audit."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from agents.spool import Item, pick
from streamd.config import Settings
from streamd.models import Alert, ArchivedFile, AuditEntry
from streamd.store import Database
from streamd.web import create_app
from streamd_protocol.archive import (
    Claim,
    FileKind,
    PathRefused,
    Placement,
    authorization,
    kind_of,
    placement_for,
    relative,
)
from tests.archive_support import add_hearing, key_of
from tests.conftest import Client, MakeClient

SESSION = "20261202T093000Z"


# -- pure --------------------------------------------------------------------------------


@given(st.text(max_size=80))
def test_an_accepted_path_stays_inside_its_session_folder(path: str) -> None:
    try:
        rel = relative(5, SESSION, path)
    except PathRefused:
        return
    assert rel.parts[:2] == ("5", SESSION)
    assert ".." not in rel.parts and not rel.is_absolute()
    assert kind_of(path) in FileKind


@pytest.mark.parametrize(
    "path",
    ["../x.ts", "video/../../etc/passwd", "/etc/passwd", "video/.hidden", "video\\a.ts",
     "video/a/b.ts", "other/a.ts", "", "video/", "manifest.json/x"],
)  # fmt: skip
def test_unsafe_or_unknown_paths_are_refused(path: str) -> None:
    with pytest.raises(PathRefused):
        relative(5, SESSION, path)


def test_kinds_follow_the_session_layout() -> None:
    assert kind_of("video/v000_00001.ts") is FileKind.VIDEO
    assert kind_of("audio/a000_00001.aac") is FileKind.AUDIO
    assert kind_of("runs/r000_video.csv") is FileKind.RUN
    assert kind_of("set_aside/v001_00004.ts") is FileKind.SET_ASIDE
    assert kind_of("manifest.json") is FileKind.MANIFEST
    assert kind_of("transcript.jsonl") is FileKind.TRANSCRIPT


@given(st.one_of(st.none(), st.sampled_from(["a" * 64, "b" * 64])), st.sampled_from(["a" * 64]))
def test_same_path_same_hash_is_success_other_hash_a_conflict(
    existing: str | None, sha: str
) -> None:
    outcome = placement_for(existing, sha)
    expected = Placement.STORE if existing is None else (
        Placement.ALREADY if existing == sha else Placement.CONFLICT
    )  # fmt: skip
    assert outcome is expected


def _item(session: str, n: int) -> Item:
    return Item(1, session, f"video/v000_{n:05d}.ts")


@given(st.integers(0, 30), st.integers(0, 30))
def test_live_segments_take_every_other_turn_and_the_backlog_goes_oldest_first(
    n_backlog: int, n_live: int
) -> None:
    backlog = [_item("A", i) for i in range(n_backlog)]
    live = [_item("B", i) for i in range(n_live)]
    sent: list[Item] = []
    last_live = False
    while (item := pick(backlog, live, last_was_live=last_live)) is not None:
        last_live = item in live
        (live if last_live else backlog).remove(item)
        sent.append(item)
    assert len(sent) == n_backlog + n_live
    backlog_order = [i for i in sent if i.session == "A"]
    assert backlog_order == sorted(backlog_order, key=lambda i: i.path)
    first_live = [i for i, x in enumerate(sent) if x.session == "B"][:1]
    if n_live:
        assert first_live == [0], "a live segment never waits behind the backlog"
    # No long run of backlog while live segments wait: at most one between two live ones.
    live_at = [i for i, x in enumerate(sent) if x.session == "B"]
    for a, b in itertools.pairwise(live_at):
        assert b - a <= 2


# -- over HTTP ---------------------------------------------------------------------------


@pytest.fixture  # the database first: it must outlive the server's background keeper
async def aclient(database: Database, arch: Settings, aiohttp_client: MakeClient) -> Client:
    return await aiohttp_client(create_app(settings=arch, db=database))


async def put(
    client: Client,
    hearing: int,
    path: str,
    data: bytes,
    *,
    room: str = "room-01",
    key: str | None = None,
    sha: str | None = None,
    size: int | None = None,
    session: str = SESSION,
) -> tuple[int, str]:
    sha = sha or hashlib.sha256(data).hexdigest()
    size = len(data) if size is None else size
    claim = Claim(room, hearing, session, path, sha, size)
    headers = {
        "Authorization": authorization(key or key_of(room), claim),
        "X-Streamd-SHA256": sha,
        "Content-Length": str(size),
    }
    resp = await client.put(
        f"/archive/v1/files/{hearing}/{session}/{path}", data=data, headers=headers
    )
    return resp.status, await resp.text()


def _rows(db: Database) -> list[ArchivedFile]:
    with db.session() as s:
        return list(s.exec(select(ArchivedFile)).all())


def _files(root: Path) -> list[Path]:
    found = root.rglob("*") if root.exists() else iter(())
    return sorted(p for p in found if p.is_file() and p.name != ".streamd-archive")


@pytest.mark.db
async def test_an_upload_lands_in_both_roots_once_and_a_repeat_is_success(
    aclient: Client, arch: Settings, database: Database
) -> None:
    hid = add_hearing(database)
    data = b"segment bytes " * 1000
    status, body = await put(aclient, hid, "video/v000_00001.ts", data)
    assert status == 201, body
    assert await put(aclient, hid, "video/v000_00001.ts", data) == (
        200,
        body.replace("store", "already"),
    )
    assert arch.archive_dir and arch.archive_backup_dir
    for root in (arch.archive_dir, arch.archive_backup_dir):
        stored = root / str(hid) / SESSION / "video" / "v000_00001.ts"
        assert stored.read_bytes() == data
        assert not any((root / ".incoming").iterdir())
    [row] = _rows(database)
    assert (row.room, row.kind, row.bytes, row.state) == (
        "room-01",
        "video",
        len(data),
        "backed_up",
    )
    assert row.sha256 == hashlib.sha256(data).hexdigest() and row.backed_up_at is not None


@pytest.mark.db
async def test_same_path_with_other_content_is_refused_alerted_and_never_overwritten(
    aclient: Client, arch: Settings, database: Database
) -> None:
    hid = add_hearing(database)
    assert (await put(aclient, hid, "video/v000_00001.ts", b"first"))[0] == 201
    status, body = await put(aclient, hid, "video/v000_00001.ts", b"other")
    assert status == 409, body
    assert arch.archive_dir
    assert (arch.archive_dir / str(hid) / SESSION / "video/v000_00001.ts").read_bytes() == b"first"
    with database.session() as s:
        assert s.exec(select(Alert).where(Alert.kind == "archive_conflict")).first()


@pytest.mark.db
@pytest.mark.parametrize(
    ("case", "status"),
    [("truncated", 422), ("wrong_hash", 422), ("unknown_hearing", 404), ("dotdot", 400),
     ("huge", 413), ("other_rooms_key", 403), ("other_rooms_hearing", 403), ("no_auth", 401)],
)  # fmt: skip
async def test_bad_uploads_are_refused_and_leave_nothing(
    aclient: Client, arch: Settings, database: Database, case: str, status: int
) -> None:
    hid = add_hearing(database)
    data = b"x" * 5000
    path = "video/v000_00001.ts"
    kw: dict[str, object] = {}
    if case == "truncated":
        kw = {"sha": hashlib.sha256(data).hexdigest()}
        data = data[:3000]
        got, body = await _raw_truncated(aclient, hid, path, data, claimed=5000, **kw)
    elif case == "no_auth":
        resp = await aclient.put(
            f"/archive/v1/files/{hid}/{SESSION}/{path}",
            data=data,
            headers={"X-Streamd-SHA256": hashlib.sha256(data).hexdigest()},
        )
        got, body = resp.status, await resp.text()
    else:
        args: dict[str, object] = {
            "wrong_hash": {"sha": "0" * 64},
            "unknown_hearing": {},
            "dotdot": {},
            "huge": {"size": 10 * 1024**3},
            "other_rooms_key": {"key": key_of("room-02")},
            "other_rooms_hearing": {"room": "room-02"},
        }[case]  # type: ignore[assignment]
        target = 999999 if case == "unknown_hearing" else hid
        p = "video/..%2F..%2F..%2Fx.ts" if case == "dotdot" else path
        if case == "huge":
            got, body = await _claim_only(aclient, hid, path, size=10 * 1024**3)
        else:
            got, body = await put(aclient, target, p, data, **args)  # type: ignore[arg-type]
    if case == "truncated":  # the sender is gone: the server may close without an answer
        assert got in (0, status), body
        assert arch.archive_dir
        for _ in range(100):  # the cancelled handler removes its temp file
            if not _files(arch.archive_dir):
                break
            await asyncio.sleep(0.02)
    else:
        assert got == status, body
        assert "detail" in body or got == 400
    assert _rows(database) == []
    assert arch.archive_dir and arch.archive_backup_dir
    assert _files(arch.archive_dir) == [] and _files(arch.archive_backup_dir) == []
    if case.startswith("other_rooms"):
        with database.session() as s:
            refused = s.exec(select(AuditEntry).where(AuditEntry.action == "archive.refused")).all()
        assert (
            refused
            and refused[0].actor == f"room:{'room-01' if case == 'other_rooms_key' else 'room-02'}"
        )


async def _claim_only(client: Client, hid: int, path: str, *, size: int) -> tuple[int, str]:
    """A 10 GB claim: refused from the headers, before any byte is accepted."""
    sha = "a" * 64
    claim = Claim("room-01", hid, SESSION, path, sha, size)
    headers = {
        "Authorization": authorization(key_of("room-01"), claim),
        "X-Streamd-SHA256": sha,
        "Content-Length": str(size),
    }

    async def body():  # type: ignore[no-untyped-def]
        yield b"x" * 1024

    resp = await client.put(
        f"/archive/v1/files/{hid}/{SESSION}/{path}", data=body(), headers=headers
    )
    return resp.status, await resp.text()


async def _raw_truncated(
    client: Client, hid: int, path: str, data: bytes, *, claimed: int, sha: str
) -> tuple[int, str]:
    """Headers that claim `claimed` bytes, then fewer and a half-closed socket: a cut."""
    claim = Claim("room-01", hid, SESSION, path, sha, claimed)
    head = (
        f"PUT /archive/v1/files/{hid}/{SESSION}/{path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: {authorization(key_of('room-01'), claim)}\r\n"
        f"X-Streamd-SHA256: {sha}\r\nContent-Length: {claimed}\r\nConnection: close\r\n\r\n"
    )
    assert client.server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(head.encode() + data)
    await writer.drain()
    writer.write_eof()
    answer = (await reader.read()).decode(errors="replace")
    writer.close()
    status = int(answer.split(" ", 2)[1]) if answer else 0
    return status, answer
