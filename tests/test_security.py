"""The security review's findings, each reproduced: formula injection and control
characters in the monthly report, the open redirect after login, savepoints that did not
roll back on SQLite, and dates at the calendar's ends."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from streamd import importer
from streamd.cells import csv_cell
from streamd.court import redact_url
from streamd.models import Booking, Court, Department
from streamd.policy import load_rules
from streamd.store import Database
from streamd.web import create_app
from streamd.web.operations_api import last_event_id
from streamd.web.pages import local_path
from tests.conftest import Client, hearing_body, make_hearing, token
from tests.test_pages import login

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")
EVIL = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example","x")', "+1+1", "@SUM(A1)"]


async def _late_booking(client: Client, reason: str, **hearing: object) -> tuple[int, str]:
    soon = (datetime.now(ZONE) + timedelta(days=1)).replace(hour=15, minute=0, second=0)
    h = await make_hearing(
        client, start=soon.isoformat(), end=(soon + timedelta(hours=1)).isoformat(), **hearing
    )
    resp = await client.post(
        "/api/v1/bookings",
        json={"hearing_id": h["id"], "late_reason": reason},
        headers=await token(client, "clerk"),
    )
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["id"]), f"{soon:%Y-%m}"


async def _export(client: Client, month: str, fmt: str) -> bytes:
    resp = await client.get(
        f"/api/v1/reports/monthly?month={month}&format={fmt}",
        headers=await token(client, "admin"),
    )
    assert resp.status == 200, await resp.text()
    return await resp.read()


async def test_user_text_is_never_a_formula_in_the_report(client: Client) -> None:
    _, month = await _late_booking(
        client, EVIL[0], parties=[EVIL[1], "被告 李娜"], handler_judge=EVIL[2], clerk=EVIL[3]
    )
    book = load_workbook(io.BytesIO(await _export(client, month, "xlsx")))
    texts = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                texts.append(cell.value)
    assert EVIL[0] in texts  # the reason reads as typed, as text
    rows = list(csv.reader(io.StringIO((await _export(client, month, "csv")).decode("utf-8-sig"))))
    cells = [c for r in rows for c in r]
    assert "'" + EVIL[0] in cells and EVIL[0] not in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


def test_csv_cells_follow_owasp() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert csv_cell(start + "1") == "'" + start + "1"
    assert csv_cell("民间借贷纠纷") == "民间借贷纠纷"
    assert csv_cell(-3) == -3  # numbers are the report's own, not user text


async def test_a_stored_control_character_does_not_break_the_export(
    client: Client, database: Database
) -> None:
    booking_id, month = await _late_booking(client, "临时安排")

    def corrupt(session: object) -> None:
        row = session.get(Booking, booking_id)  # type: ignore[attr-defined]
        row.late_reason = "bad\x01text"
        session.add(row)  # type: ignore[attr-defined]

    database.call(corrupt)  # as rows written before the API refused controls would be
    book = load_workbook(io.BytesIO(await _export(client, month, "xlsx")))
    values = [c for s in book.worksheets for r in s.iter_rows(values_only=True) for c in r]
    assert "bad\ufffdtext" in values
    assert "bad\ufffdtext" in (await _export(client, month, "csv")).decode("utf-8-sig")


async def test_control_characters_are_refused_by_the_api(client: Client) -> None:
    clerk = await token(client, "clerk")
    for bad in ("\x00", "\x01", "\x1b[31m", "\x7f", "\x85"):
        resp = await client.post(
            "/api/v1/hearings", json=hearing_body(cause=f"借贷{bad}纠纷"), headers=clerk
        )
        assert resp.status == 422, bad
        assert "control character" in (await resp.json())["errors"][0]["message"]
    resp = await client.post(
        "/api/v1/hearings", json=hearing_body(cause="借贷\t纠纷\n第二行"), headers=clerk
    )
    assert resp.status == 201  # tabs and newlines are text


def test_control_characters_are_refused_by_the_importer(tmp_path: Path, database: Database) -> None:
    item = hearing_body()
    for bad in ("\x00", "\x01"):
        path = tmp_path / "h.json"
        path.write_text(json.dumps([{**item, "cause": f"借贷{bad}纠纷"}]), encoding="utf-8")
        with pytest.raises(importer.ImportFailed) as failed:
            importer.import_file(
                db=database,
                path=path,
                zone=ZONE,
                actor="test",
                rules=load_rules(None),
            )
        assert failed.value.errors[0].field == "cause"
        assert "control character" in failed.value.errors[0].reason


@pytest.mark.parametrize(
    "target",
    ["/%5Cevil.com", "/%09/evil.com", "//evil.com", "/%0a/evil.com", "https://evil.com", "/\\x"],
)
async def test_login_never_redirects_off_site(client: Client, target: str) -> None:
    resp = await client.get(f"/login?next={target}")
    assert 'data-then="/"' in await resp.text()


def test_local_paths() -> None:
    assert local_path("/console/3?lang=en")
    for bad in ("/\\evil.com", "/\t/evil.com", "//evil.com", "evil.com", "/ /x", ""):
        assert not local_path(bad)


def test_work_in_a_savepoint_rolls_back_with_its_transaction(database: Database) -> None:
    """pysqlite began no transaction before the SAVEPOINT, so its RELEASE committed: a
    booking made in `begin_nested()` stayed when the request failed after it."""

    def work(session: Any) -> None:
        court = session.exec(select(Court)).first()
        with session.begin_nested():
            session.add(Department(court_id=court.id, code="ghost", name="幽灵庭"))
        raise RuntimeError("the request fails after the savepoint")

    with pytest.raises(RuntimeError):
        database.call(work)
    with database.session() as s:
        assert s.exec(select(Department).where(Department.code == "ghost")).first() is None


@pytest.mark.parametrize("when", ["0001-01-01T09:00:00", "9999-12-31T09:00:00"])
async def test_dates_at_the_calendars_ends_are_input_errors(client: Client, when: str) -> None:
    clerk = await token(client, "clerk")
    end = when.replace("09:00", "10:00")
    resp = await client.post(
        "/api/v1/hearings", json=hearing_body(start=when, end=end), headers=clerk
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"].startswith("body.")
    assert (await client.get("/api/v1/bookings", headers=clerk)).status == 200
    day = when[:10]
    resp = await client.get(f"/api/v1/hearings?on={day}", headers=clerk)
    assert resp.status == 422
    resp = await client.get(
        f"/api/v1/reports/monthly?month={day[:7]}", headers=await token(client, "admin")
    )
    assert resp.status == 422


@pytest.mark.parametrize(
    "page", ["/clerk?day=9999-12-31", "/admin?month=0001-01", "/admin?month=9999-12"]
)
async def test_pages_refuse_dates_at_the_calendars_ends(client: Client, page: str) -> None:
    await login(client, "admin")
    resp = await client.get(page)
    assert resp.status == 422


# ---- edge input and headers -----------------------------------------------------------------


async def test_deeply_nested_json_is_a_400_not_a_500(client: Client) -> None:
    for body in (b"[" * 20_000 + b"]" * 20_000, b'{"a":' * 50 + b"1" + b"}" * 50):
        resp = await client.post(
            "/api/v1/auth/token", data=body, headers={"Content-Type": "application/json"}
        )
        assert resp.status == 400, await resp.text()


def test_a_huge_last_event_id_starts_the_feed_afresh() -> None:
    assert last_event_id("9" * 5000) is None
    assert last_event_id("١٢") is None  # digits, but not ours
    assert last_event_id(" 42 ") == 42


async def test_json_routes_take_only_json(client: Client) -> None:
    body = json.dumps({"username": "clerk", "password": "x" * 10})
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        resp = await client.post("/api/v1/auth/session", data=body, headers={"Content-Type": kind})
        assert resp.status == 415, kind


async def test_login_from_another_site_is_refused(client: Client) -> None:
    creds = {"username": "clerk", "password": "correct-horse-battery"}
    resp = await client.post(
        "/api/v1/auth/session", json=creds, headers={"Origin": "https://evil.example"}
    )
    assert resp.status == 403
    resp = await client.post(
        "/api/v1/auth/session", json=creds, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert resp.status == 403
    origin = f"http://{client.host}:{client.port}"
    resp = await client.post("/api/v1/auth/session", json=creds, headers={"Origin": origin})
    assert resp.status == 200


async def test_every_response_carries_the_security_headers(client: Client) -> None:
    clerk = await token(client, "clerk")
    for path in ("/api/v1/me", "/api/v1/hearings", "/api/v1/nothing-here"):
        resp = await client.get(path, headers=clerk)
        assert resp.headers["Cache-Control"] == "no-store", path
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["Server"] == "streamd"
        assert "Strict-Transport-Security" not in resp.headers
    resp = await client.get("/public/announcements")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors" in resp.headers["Content-Security-Policy"]


async def test_secure_cookies_come_with_hsts(
    aiohttp_client: Any, settings: Any, database: Database, users: dict[str, str]
) -> None:
    app = create_app(settings=settings.model_copy(update={"secure_cookies": True}), db=database)
    client = await aiohttp_client(app)
    resp = await client.get("/healthz")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_the_hls_route_refuses_a_symlink_out_of_its_folder(
    aiohttp_client: Any, settings: Any, database: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "agents" / "room-01" / "hls"
    folder.mkdir(parents=True)
    (folder / "seg-1.ts").write_bytes(b"segment")
    (tmp_path / "court-secret.ts").write_bytes(b"secret")
    (folder / "leak.ts").symlink_to(tmp_path / "court-secret.ts")
    (folder / "alias.ts").symlink_to(folder / "seg-1.ts")
    template = str(tmp_path / "agents" / "{room}" / "hls" / "index.m3u8")
    app = create_app(settings=settings.model_copy(update={"monitor_hls": template}), db=database)
    client = await aiohttp_client(app)
    assert (await client.get("/hls/room-01/seg-1.ts")).status == 200
    for name in ("leak.ts", "alias.ts"):
        assert (await client.get(f"/hls/room-01/{name}")).status == 404


def test_urls_in_logs_never_carry_the_key() -> None:
    shown = redact_url("rtmp://push.example.cn/live/abcdef123456")
    assert "abcdef123456" not in shown and shown.startswith("rtmp://push.example.cn/live/")
    assert "s3cret" not in redact_url("srt://u:s3cret@host:9000?streamid=s3cret")
    assert redact_url("/var/lib/streamd/hls/index.m3u8") == "/var/lib/streamd/hls/index.m3u8"


async def test_openapi_links_lead_from_create_to_read(client: Client) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    ops = {
        op["operationId"]: {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        for methods in doc["paths"].values()
        for op in methods.values()
    }
    links = [
        link
        for methods in doc["paths"].values()
        for op in methods.values()
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) >= 8
    for link in links:
        assert set(link["parameters"]) == ops[link["operationId"]], link
