"""Import: all-or-nothing, precise errors, idempotent re-import, GB18030 exports."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from streamd.importer import ImportFailed, import_file
from streamd.models import AuditEntry, Hearing
from streamd.policy import load_rules
from streamd.store import Database
from tests.conftest import SAMPLE_CSV, Client, hearing_body, make_hearing, token

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")


def _count(db: Database) -> int:
    with db.session() as session:
        return int(session.exec(select(func.count()).select_from(Hearing)).one())


def _import(db: Database, path: Path, **kw: object) -> object:
    return import_file(db=db, path=path, zone=ZONE, actor="test", rules=load_rules(), **kw)  # type: ignore[arg-type]


def test_sample_fortnight_is_a_realistic_court(database: Database) -> None:
    result = _import(database, SAMPLE_CSV)
    assert result.created >= 80  # type: ignore[attr-defined]
    with database.session() as session:
        rows = session.exec(select(Hearing)).all()
    assert len({h.department_id for h in rows}) >= 4
    assert len({h.courtroom_id for h in rows}) >= 5
    causes = {h.cause for h in rows}
    assert {"离婚纠纷"} <= causes and causes & {"抚养费纠纷", "变更抚养关系纠纷", "探望权纠纷"}
    assert any(h.case_type_code == "刑初" for h in rows)
    assert any(not h.is_public and "未成年" in (h.non_public_reason or "") for h in rows)
    assert any(h.session_kind == "evidence_exchange" for h in rows)
    # Local 09:00 in Guangzhou is 01:00 UTC.
    assert min(h.planned_start.astimezone(ZONE).hour for h in rows) >= 8


def test_reimport_updates_instead_of_duplicating(database: Database) -> None:
    first = _import(database, SAMPLE_CSV)
    second = _import(database, SAMPLE_CSV)
    assert _count(database) == first.created  # type: ignore[attr-defined]
    assert (second.created, second.updated, second.unchanged) == (0, 0, first.created)  # type: ignore[attr-defined]


def test_changed_row_is_updated_and_audited(database: Database, tmp_path: Path) -> None:
    _import(database, SAMPLE_CSV)
    rows = list(csv.DictReader(SAMPLE_CSV.read_text(encoding="utf-8").splitlines()))
    rows[0]["案由"] = "变更后的案由"
    changed = tmp_path / "changed.csv"
    with changed.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = _import(database, changed)
    assert (result.created, result.updated) == (0, 1)  # type: ignore[attr-defined]
    with database.session() as session:
        updates = session.exec(select(AuditEntry).where(AuditEntry.action == "hearing.update"))
        entry = updates.one()
    assert entry.before is not None and entry.after is not None
    assert entry.after["cause"] == "变更后的案由"


def test_one_bad_row_writes_nothing_and_names_row_and_field(
    database: Database, tmp_path: Path
) -> None:
    lines = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    bad = lines[5].split(",")
    bad[header.index("案号")] = "（2026）粤0111民X99号"
    lines[5] = ",".join(bad)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        _import(database, path)
    assert [(e.row, e.field) for e in info.value.errors] == [(6, "case_number")]
    assert "unknown code '民X'" in info.value.errors[0].reason
    assert _count(database) == 0


def test_unknown_courtroom_rolls_back_everything(database: Database, tmp_path: Path) -> None:
    text = SAMPLE_CSV.read_text(encoding="utf-8")
    lines = text.splitlines()
    header = lines[0].split(",")
    last = lines[-1].split(",")
    last[header.index("法庭")] = "第九十九法庭"
    lines[-1] = ",".join(last)
    path = tmp_path / "room.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        _import(database, path)
    assert [(e.row, e.field) for e in info.value.errors] == [(len(lines), "courtroom")]
    assert _count(database) == 0


def test_gb18030_export_imports(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(SAMPLE_CSV.read_text(encoding="utf-8").encode("gb18030"))
    result = _import(database, path)
    assert result.created >= 80  # type: ignore[attr-defined]
    with database.session() as session:
        assert session.exec(select(Hearing).where(Hearing.cause == "离婚纠纷")).first()


def test_json_import_and_its_errors(database: Database, tmp_path: Path) -> None:
    item = {
        "case_number": "(2026)粤0111行初5号",
        "cause": "行政处罚",
        "public": True,
        "parties": ["原告 张伟", "被告 示例区市场监督管理局"],
        "handler_judge": "何建平",
        "clerk": "彭丽",
        "department": "admin",
        "courtroom": "room-05",
        "start": "2026-12-02T09:00:00",
        "end": "2026-12-02T10:00:00",
    }
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"hearings": [item]}, ensure_ascii=False), encoding="utf-8")
    assert _import(database, path).created == 1  # type: ignore[attr-defined]
    broken = [
        item,
        {**item, "public": False, "start": "2026-12-03T09:00:00", "end": "2026-12-03T08:00:00"},
    ]
    path.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        _import(database, path)
    assert info.value.errors[0].row == 2
    assert "non_public_reason is required" in info.value.errors[0].reason


def test_duplicate_rows_in_one_file_are_refused(database: Database, tmp_path: Path) -> None:
    lines = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "dup.csv"
    path.write_text("\n".join([lines[0], lines[1], lines[1]]) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="row 3: case_number: same case and start as row 2"):
        _import(database, path)


async def test_an_import_replans_the_booked_hearings_it_changed(
    client: Client, database: Database, tmp_path: Path
) -> None:
    """As the API does: a re-import that makes a booked hearing non-public takes its line
    back in the same transaction; the import reports the day it re-planned."""
    hearing = await make_hearing(client)
    resp = await client.post(
        "/api/v1/bookings", json={"hearing_id": hearing["id"]}, headers=await token(client, "clerk")
    )
    booking = await resp.json()
    assert resp.status == 201 and booking["line"] is not None
    body = hearing_body(public=False, non_public_reason="涉及个人隐私")
    path = tmp_path / "again.json"
    path.write_text(json.dumps([body], ensure_ascii=False), encoding="utf-8")
    result = _import(database, path)
    assert (result.updated, result.days_replanned) == (1, 1)  # type: ignore[attr-defined]
    resp = await client.get(
        f"/api/v1/bookings/{booking['id']}", headers=await token(client, "clerk")
    )
    after = await resp.json()
    assert after["line"] is None and after["line_status"] == "excluded", after


async def test_an_import_that_moves_a_booked_hearing_replans_its_day(
    client: Client, database: Database, tmp_path: Path
) -> None:
    """Four booked hearings take the court's four lines in the afternoon; a fifth, booked in
    the morning, is moved by a re-import into the afternoon. The plan is made again for the
    day, so no line carries two hearings at once (kept, the old answer would)."""
    day = (datetime.now(ZONE) + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)

    def at(hour: int) -> str:
        return day.replace(hour=hour).isoformat()

    clerk = await token(client, "clerk")
    booked = []
    for n, room in enumerate(["room-01", "room-02", "room-03", "room-05", "room-06"], start=1):
        start, end = (at(9), at(10)) if n == 5 else (at(14), at(16))
        h = await make_hearing(
            client, case_number=f"（2026）粤0111民初{n}号", courtroom=room, start=start, end=end
        )
        resp = await client.post("/api/v1/bookings", json={"hearing_id": h["id"]}, headers=clerk)
        assert resp.status == 201, await resp.text()
        booked.append(await resp.json())
    assert all(b["line"] is not None for b in booked)
    moved = hearing_body(
        case_number="（2026）粤0111民初5号", courtroom="room-06", start=at(9), end=at(15)
    )
    path = tmp_path / "moved.json"
    path.write_text(json.dumps([moved], ensure_ascii=False), encoding="utf-8")
    result = _import(database, path)
    assert (result.updated, result.days_replanned) == (1, 1)  # type: ignore[attr-defined]
    lines = []
    for b in booked:
        resp = await client.get(f"/api/v1/bookings/{b['id']}", headers=clerk)
        lines.append((await resp.json())["line"])
    held = [line for line in lines if line is not None]
    assert len(held) == len(set(held)), lines  # each line airs one of the five at 14:00


def test_an_import_of_unbooked_hearings_replans_nothing(database: Database) -> None:
    first = _import(database, SAMPLE_CSV)
    again = _import(database, SAMPLE_CSV)
    assert first.days_replanned == again.days_replanned == 0  # type: ignore[attr-defined]
