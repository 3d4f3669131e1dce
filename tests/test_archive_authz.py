"""Who may upload what, and in which order the archive checks it: the signature before any
lookup of the hearing, the room that recorded the session rather than the hearing's current
room, and concurrent uploads of one file answered idempotently."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from streamd.config import Settings
from streamd.models import AgentEvent, ArchivedFile, Courtroom, Hearing
from streamd.store import Database
from streamd.web import create_app
from tests.archive_support import add_hearing
from tests.conftest import Client, MakeClient
from tests.test_archive import SESSION, put


@pytest.fixture
async def aclient(database: Database, arch: Settings, aiohttp_client: MakeClient) -> Client:
    return await aiohttp_client(create_app(settings=arch, db=database))


def _recorded(db: Database, room: str, hid: int, session: str) -> None:
    def write(*, session_: Session) -> None:
        session_.add(
            AgentEvent(
                id=f"{room}-{uuid.uuid4().hex[:8]}",
                room=room,
                seq=1,
                kind="recording_started",
                at=datetime.now(UTC),
                hearing_id=hid,
                data={"session": f"/var/lib/streamd-agent/recordings/{hid}/{session}"},
            )
        )

    db.call(lambda session: write(session_=session))


def _move(db: Database, hid: int, room: str) -> None:
    def write(session: Session) -> None:
        hearing = session.get(Hearing, hid)
        courtroom = session.exec(select(Courtroom).where(Courtroom.code == room)).one()
        assert hearing is not None
        hearing.courtroom_id = courtroom.id  # type: ignore[assignment]
        session.add(hearing)

    db.call(write)


@pytest.mark.db
async def test_a_forged_signature_is_refused_before_the_hearing_is_looked_up(
    aclient: Client, database: Database
) -> None:
    """An unsigned caller cannot tell a real hearing from an unknown one."""
    hid = add_hearing(database)
    real = await put(aclient, hid, "video/v000_00001.ts", b"x", key="0" * 64)
    unknown = await put(aclient, 999999, "video/v000_00001.ts", b"x", key="0" * 64)
    assert real[0] == unknown[0] == 403, (real, unknown)


@pytest.mark.db
async def test_a_session_is_uploaded_by_the_room_that_recorded_it_after_the_hearing_moved(
    aclient: Client, database: Database
) -> None:
    hid = add_hearing(database, room="room-01")
    _recorded(database, "room-01", hid, SESSION)
    _move(database, hid, "room-02")  # adjourned, continued next door
    status, body = await put(aclient, hid, "video/v000_00001.ts", b"recorded in 01")
    assert status == 201, body
    status, body = await put(aclient, hid, "video/v000_00002.ts", b"x", room="room-02")
    assert status == 403, "room-02 did not record this session"
    other = "20261202T140000Z"  # a session nobody reported: the hearing's room now
    assert (await put(aclient, hid, "video/v000_00001.ts", b"y", room="room-02", session=other))[
        0
    ] == 201
    assert (await put(aclient, hid, "video/v000_00003.ts", b"z", session=other))[0] == 403


@pytest.mark.db
async def test_concurrent_uploads_of_one_path_are_idempotent_and_conflicts_are_409(
    aclient: Client, database: Database, arch: Settings
) -> None:
    hid = add_hearing(database)
    data = b"segment " * 20000
    for round_ in range(3):
        path = f"video/v000_{round_:05d}.ts"
        same = await asyncio.gather(*(put(aclient, hid, path, data) for _ in range(6)))
        assert sorted(s for s, _ in same) == [200] * 5 + [201], same
        path = f"audio/a000_{round_:05d}.wav"
        other = await asyncio.gather(
            *(put(aclient, hid, path, data + bytes([i])) for i in range(4))
        )
        assert sorted(s for s, _ in other) == [201] + [409] * 3, other
    with database.session() as s:
        rows = s.exec(select(ArchivedFile)).all()
    assert len(rows) == 6
    assert arch.archive_dir is not None
    for row in rows:
        stored = arch.archive_dir / str(hid) / SESSION / row.path
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == row.sha256
