"""The archive made visible: the hearing's page, the technicians' wall, /metrics, alerts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from streamd.archive import ledger
from streamd.config import Settings
from streamd.models import AgentEvent, Alert
from streamd.store import Database
from streamd.web import create_app
from streamd.web.archive_api import ArchiveState, check_alerts
from tests.archive_support import add_hearing
from tests.conftest import Client, MakeClient
from tests.test_archive import put
from tests.test_pages import login

pytestmark = pytest.mark.db


def closed_segment(db: Database, hid: int, file: str, sha: str, age: float, seq: int) -> None:
    def write(session: Session) -> None:
        session.add(
            AgentEvent(
                id=f"room-01-{seq}",
                room="room-01",
                seq=seq,
                kind="segment_closed",
                at=datetime.now(UTC) - timedelta(seconds=age),
                hearing_id=hid,
                data={"file": file, "sha256": sha},
            )
        )

    db.call(write)


async def test_pages_and_metrics_show_recorded_archived_backed_up(
    database: Database, arch: Settings, aiohttp_client: MakeClient, users: dict[str, str]
) -> None:
    client: Client = await aiohttp_client(create_app(settings=arch, db=database))
    hid = add_hearing(database)
    for n in range(3):
        data = f"segment {n}".encode() * 100
        closed_segment(
            database, hid, f"video/v000_{n:05d}.ts", hashlib.sha256(data).hexdigest(), 5, n
        )
        if n < 2:
            assert (await put(client, hid, f"video/v000_{n:05d}.ts", data))[0] == 201
    st = database.call(ledger.status, hearing_id=hid)
    assert (st.recorded, st.archived, st.backed_up) == (3, 2, 2)

    text = await (await client.get("/metrics")).text()
    assert 'streamd_archive_segments{room="room-01",where="recorded"} 3.0' in text
    assert 'streamd_archive_segments{room="room-01",where="archived"} 2.0' in text
    assert 'streamd_archive_segments{room="room-01",where="backed_up"} 2.0' in text
    assert 'streamd_archive_backlog_age_seconds{room="room-01"}' in text
    assert 'streamd_archive_disk_free_ratio{root="archive"}' in text

    await login(client, "clerk")
    html = await (await client.get(f"/console/{hid}")).text()
    assert "录音录像归档" in html and 'id="arch-recorded">3<' in html
    assert 'id="arch-archived" class="warn">2<' in html and "尚未导出" in html
    await login(client, "technician")
    wall = await (await client.get("/wall")).text()
    assert "录制 3 · 归档 2 · 备份 2" in wall


async def test_an_old_unshipped_backlog_and_a_nearly_full_disk_alert(
    arch: Settings, database: Database, tmp_path: Path
) -> None:
    hid = add_hearing(database)
    closed_segment(database, hid, "video/v000_00000.ts", "a" * 64, 30, 0)
    state = ArchiveState()
    await check_alerts(database, arch, state)

    def open_alerts(session: Session) -> set[tuple[str, str | None]]:
        rows = session.exec(select(Alert).where(col(Alert.cleared_at).is_(None))).all()
        return {(a.kind, a.room) for a in rows}

    assert ("archive_backlog", "room-01") not in database.call(open_alerts), "30 s < 2 min"
    closed_segment(database, hid, "video/v000_00001.ts", "b" * 64, 200, 1)
    await check_alerts(database, arch, state)
    assert ("archive_backlog", "room-01") in database.call(open_alerts)
    full = arch.model_copy(update={"archive_free_alert_ratio": 1.0})
    assert full.archive_dir is not None
    full.archive_dir.mkdir(parents=True, exist_ok=True)
    await check_alerts(database, full, state)
    assert ("archive_full", "archive") in database.call(open_alerts)


async def test_the_oldest_unarchived_segment_per_room_is_found_by_one_query(
    arch: Settings, database: Database, aiohttp_client: MakeClient
) -> None:
    """Archived with its hash: not a backlog; another hash, or not archived: its age counts;
    beyond the horizon: not scanned. The database answers, whatever the dialect."""
    client: Client = await aiohttp_client(create_app(settings=arch, db=database))
    hid = add_hearing(database)
    data = b"archived segment" * 50
    sha = hashlib.sha256(data).hexdigest()
    assert (await put(client, hid, "video/v000_00000.ts", data))[0] == 201
    closed_segment(database, hid, "video/v000_00000.ts", sha, 900, 0)  # archived: not counted
    closed_segment(database, hid, "video/v000_00001.ts", "c" * 64, 300, 1)
    closed_segment(database, hid, "video/v000_00002.ts", "d" * 64, 100, 2)
    closed_segment(database, hid, "video/v000_00003.ts", "e" * 64, 3 * 86400, 3)  # too old
    ages = database.call(ledger.oldest_unarchived, now=datetime.now(UTC))
    assert set(ages) == {"room-01"} and 299 < ages["room-01"] < 320, ages
    closed_segment(database, hid, "video/v000_00000.ts", "f" * 64, 600, 4)  # other hash
    ages = database.call(ledger.oldest_unarchived, now=datetime.now(UTC))
    assert 599 < ages["room-01"] < 620, ages
