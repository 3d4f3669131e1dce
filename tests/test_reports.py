"""Announcements and the monthly report, from hearings booked and decided through the API:
the public sees only streamed hearings with masked names; the report's XLSX round-trips
through openpyxl with the exact columns and numbers that match the database."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from openpyxl import load_workbook
from sqlmodel import col, func, select

from streamd import reports
from streamd.announcements import PartyMask, mask_party
from streamd.cli import main
from streamd.config import Settings
from streamd.models import Department, Hearing, Stream, StreamCommand
from streamd.policy import load_rules
from streamd.store import Database
from tests.conftest import Client, make_hearing, token

pytestmark = pytest.mark.db
ZONE = ZoneInfo("Asia/Shanghai")
SHEETS = ["不直播案件", "直播率", "同比", "无空闲线路", "待审批", "公告延迟"]


def report_month() -> date:
    """The month after next: every hearing in it is more than three days ahead."""
    today = datetime.now(ZONE).date()
    month = today.month + 2
    return date(today.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def at(day: int, hour: int) -> datetime:
    m = report_month()
    return datetime(m.year, m.month, day, hour, tzinfo=ZONE)


async def call(client: Client, method: str, path: str, who: str, body: Any = None) -> Any:
    resp = await client.request(
        method, f"/api/v1{path}", json=body, headers=await token(client, who)
    )
    assert resp.status in (200, 201), await resp.text()
    return await resp.json()


async def hearing(client: Client, seq: int, start: datetime, **kw: Any) -> int:
    body = {
        "case_number": f"（2026）粤0111民初{seq}号",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        **kw,
    }
    return int((await make_hearing(client, **body))["id"])


async def book(client: Client, hearing_id: int, **kw: Any) -> dict[str, Any]:
    return dict(await call(client, "POST", "/bookings", "clerk", {"hearing_id": hearing_id, **kw}))


def went_live(database: Database, hearing_id: int, *, ack: str = "acked") -> None:
    """What the orchestrator writes when a room answers a go_live (`ack`: acked | refused)."""
    with database.session() as s:
        h = s.get(Hearing, hearing_id)
        assert h is not None
        row = Stream(
            hearing_id=hearing_id, courtroom_id=h.courtroom_id, room="room-01",
            state="live" if ack == "acked" else "ready", discipline_at=h.planned_start,
        )  # fmt: skip
        s.add(row)
        s.flush()
        assert row.id is not None
        s.add(
            StreamCommand(
                id=f"go-live-{hearing_id}", stream_id=row.id, room="room-01", kind="go_live",
                issued_at=h.planned_start, expires_at=h.planned_start + timedelta(minutes=1),
                status=ack,
            )
        )  # fmt: skip


@pytest.fixture
async def court_month(client: Client, database: Database) -> dict[str, int]:
    """A month at the sample court (four lines): five civil hearings at once, one approved
    not-streamed, one pending flag, one divorce, one criminal hearing. Two of the civil
    hearings and the criminal one went live; a third civil one's room refused the go-live."""
    ids: dict[str, int] = {}
    for n in range(1, 6):  # five at 09:00 on four lines: one gets no line
        ids[f"busy{n}"] = await hearing(client, 100 + n, at(10, 9))
        await book(client, ids[f"busy{n}"])
    ids["approved"] = await hearing(client, 200, at(11, 9))
    await book(client, ids["approved"])
    rec = await call(
        client,
        "POST",
        f"/hearings/{ids['approved']}/not-streamed",
        "judge",
        {"flag": "other_unsuitable", "reason": "涉及重大舆情，不宜直播"},
    )
    await call(client, "POST", f"/approvals/{rec['id']}/review", "department_head", {})
    await call(
        client, "POST", f"/approvals/{rec['id']}/approve", "court_leader", {"comment": "同意"}
    )
    ids["flagged"] = await hearing(client, 300, at(12, 9))
    await call(
        client,
        "POST",
        f"/hearings/{ids['flagged']}/not-streamed",
        "judge",
        {"flag": "sensitive", "reason": "涉及民族宗教问题"},
    )
    ids["divorce"] = await hearing(client, 400, at(12, 14), cause="离婚纠纷")
    ids["private"] = await hearing(
        client, 500, at(13, 9), public=False, non_public_reason="涉及商业秘密"
    )
    ids["criminal"] = await hearing(
        client,
        0,
        at(14, 9),
        case_number="（2026）粤0111刑初600号",
        cause="盗窃罪",
        department="criminal",
        parties=["公诉机关 示例区人民检察院", "被告人 王小明"],
    )
    await call(client, "POST", "/bookings", "clerk-criminal", {"hearing_id": ids["criminal"]})
    for key in ("busy1", "busy2", "criminal"):
        went_live(database, ids[key])
    went_live(database, ids["busy3"], ack="refused")
    return ids


async def test_monthly_report_xlsx_round_trips_and_matches_the_database(
    client: Client, database: Database, court_month: dict[str, int]
) -> None:
    month = report_month()
    resp = await client.get(
        f"/api/v1/reports/monthly?month={month:%Y-%m}&format=xlsx",
        headers=await token(client, "admin"),
    )
    assert resp.status == 200
    assert resp.content_type.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(await resp.read()))
    assert book.sheetnames == SHEETS
    rows = {name: [list(r) for r in book[name].iter_rows(values_only=True)] for name in SHEETS}

    assert rows["不直播案件"][0] == [
        "案号", "案由", "当事人", "经办人", "开庭时间", "不直播理由", "审批人", "审批层级",
    ]  # fmt: skip
    assert rows["不直播案件"][1:] == [
        [
            "（2026）粤0111民初200号",
            "民间借贷纠纷",
            "原告 张伟、被告 李娜",
            "李明",
            at(11, 9).strftime("%Y-%m-%d %H:%M"),
            "涉及重大舆情，不宜直播",
            "court_leader",
            "院级",
        ]
    ]

    # (b) stream ratio per department, recomputed here straight from the tables.
    header, *ratios = rows["直播率"]
    assert header == ["庭室", "可直播公开庭审", "已直播", "待直播", "直播率", "目标", "是否达标"]
    by_name = {r[0]: r for r in ratios}
    start = datetime(month.year, month.month, 1, tzinfo=ZONE)
    end = (start + timedelta(days=32)).replace(day=1)

    def streamed(code: str) -> int:
        with database.session() as s:
            return int(
                s.exec(
                    select(func.count())
                    .select_from(StreamCommand)
                    .join(Stream, col(Stream.id) == col(StreamCommand.stream_id))
                    .join(Hearing, col(Hearing.id) == col(Stream.hearing_id))
                    .join(Department, col(Department.id) == col(Hearing.department_id))
                    .where(
                        Department.code == code,
                        StreamCommand.kind == "go_live",
                        StreamCommand.status == "acked",
                        col(Hearing.planned_start) >= start,
                        col(Hearing.planned_start) < end,
                    )
                ).one()
            )

    # Streamed is what the rooms confirmed went out: a booked line (busy4) is only planned,
    # and a go-live the room refused (busy3) is neither streamed nor lost from the plan.
    assert streamed("civil-1") == 2
    assert by_name["民事审判第一庭"] == ["民事审判第一庭", 5, 2, 2, 0.4, 0.85, "否"]
    assert by_name["刑事审判庭"] == ["刑事审判庭", 1, streamed("criminal"), 0, 1.0, 0.7, "是"]
    assert by_name["行政审判庭"] == ["行政审判庭", 0, 0, 0, None, 0.9, "—"]

    # (c) this year against last, month by month up to the report's month.
    header, *months = rows["同比"]
    assert header == ["月份", f"{month.year - 1}年已直播", f"{month.year}年已直播", "增减"]
    assert [m[0] for m in months] == [f"{m}月" for m in range(1, month.month + 1)]
    assert months[-1][1:] == [0, 3, 3]

    # (d) no free line, and approvals still pending.
    assert [r[0] for r in rows["无空闲线路"][1:]] == ["（2026）粤0111民初105号"]
    assert "无空闲线路" in rows["无空闲线路"][1][3]
    pending = {(r[0], r[3], r[4]) for r in rows["待审批"][1:]}
    assert pending == {
        ("（2026）粤0111民初300号", "庭级", "待庭级审核"),
        ("（2026）粤0111民初400号", "庭级", "待庭级审核"),
    }
    assert rows["公告延迟"][1:] == []


async def test_a_month_that_is_over_plans_nothing_more(
    database: Database, settings: Settings, court_month: dict[str, int]
) -> None:
    """Once the hearings are past, a line that was booked and never used counts for nothing."""
    month = report_month()
    after = (datetime(month.year, month.month, 28, tzinfo=ZONE) + timedelta(days=7)).astimezone(UTC)
    rules = load_rules(settings.policy_file)
    with database.session() as s:
        report = reports.monthly(
            session=s,
            month=month,
            department="civil-1",
            zone=ZONE,
            rules=rules,
            now=after,
            court_id=1,
        )
    (ratio,) = [t for t in report.tables if t.sheet == reports.RATIO]
    assert ratio.rows == [("民事审判第一庭", 5, 2, 0, 0.4, 0.85, "否")]


async def test_report_by_department_as_csv_from_the_cli(
    client: Client,
    settings: Settings,
    court_month: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    monkeypatch.setenv("STREAMD_DATABASE_URL", settings.effective_database_url)
    month = f"{report_month():%Y-%m}"
    assert main(["report", "monthly", "--month", month, "--department", "criminal",
                 "--format", "csv", "-o", "-"]) == 0  # fmt: skip
    out = capsysbinary.readouterr().out
    assert out.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(out.decode("utf-8-sig"))))
    ratio = table.index(["直播率"])
    assert table[ratio + 2] == ["刑事审判庭", "1", "1", "0", "1.0", "0.7", "是"]
    assert all("民初" not in cell for row in table for cell in row)  # one department only

    assert main(["report", "monthly", "--month", "2026-13"]) == 2
    assert main(["report", "monthly", "--month", month, "--department", "nope"]) == 2
    resp = await client.get(
        f"/api/v1/reports/monthly?month={month}", headers=await token(client, "clerk")
    )
    assert resp.status == 403


async def test_announcements_show_streamed_hearings_with_masked_names(
    client: Client, court_month: dict[str, int]
) -> None:
    resp = await client.get("/public/announcements.json")
    assert resp.status == 200
    items = (await resp.json())["items"]
    shown = {i["hearing_id"] for i in items}
    assert court_month["busy1"] in shown and court_month["criminal"] in shown
    for hidden in ("busy5", "approved", "flagged", "divorce", "private"):
        assert court_month[hidden] not in shown, hidden
    criminal = next(i for i in items if i["hearing_id"] == court_month["criminal"])
    assert criminal["parties"] == ["公诉机关 示例区人民检察院", "被告人 王某"]
    assert criminal["watch_url"] == f"/public/watch/{court_month['criminal']}"
    assert datetime.fromisoformat(criminal["start"]) == at(14, 9)

    page = await (await client.get("/public/announcements")).text()
    assert "开庭公告" in page and "（2026）粤0111刑初600号" in page
    assert "王小明" not in page and "张伟" not in page
    assert (
        "hearing announcements" in await (await client.get("/public/announcements?lang=en")).text()
    )

    resp = await client.get("/public/announcements.ics")
    assert resp.content_type == "text/calendar"
    events = Calendar.from_ical(await resp.read()).walk("VEVENT")
    assert len(events) == len(items)
    event = next(e for e in events if "刑初600号" in str(e["summary"]))
    assert event.decoded("dtstart").astimezone(UTC) == at(14, 9).astimezone(UTC)
    assert "王小明" not in str(event["description"])


async def test_a_late_booking_needs_its_reason_and_is_reported(client: Client) -> None:
    soon = (datetime.now(ZONE) + timedelta(days=1)).replace(hour=15, minute=0, second=0)
    hid = await hearing(client, 700, soon)
    resp = await client.post(
        "/api/v1/bookings", json={"hearing_id": hid}, headers=await token(client, "clerk")
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "body.late_reason"
    booking = await book(client, hid, late_reason="当事人申请提前开庭")
    assert (booking["late_announcement"], booking["late_reason"]) == (True, "当事人申请提前开庭")
    report = await call(client, "GET", f"/reports/monthly?month={soon:%Y-%m}", "admin")
    late = next(t for t in report["tables"] if t["sheet"] == "公告延迟")
    assert [r[0] for r in late["rows"]] == ["（2026）粤0111民初700号"]
    assert late["rows"][0][3] == "当事人申请提前开庭"


@pytest.mark.parametrize(
    ("party", "mode", "shown"),
    [
        ("原告 张伟", "surname", "原告 张某"),
        ("被告：欧阳娜娜", "surname", "被告 欧阳某"),
        ("李娜", "surname", "李某"),
        ("被告 广州示例科技有限公司", "surname", "被告 广州示例科技有限公司"),
        ("公诉机关 示例区人民检察院", "surname", "公诉机关 示例区人民检察院"),
        ("原告 张伟", "hidden", "原告"),
        ("张伟", "hidden", "当事人"),
        ("原告 张伟", "none", "原告 张伟"),
    ],
)
def test_party_names_are_masked_as_configured(party: str, mode: str, shown: str) -> None:
    assert mask_party(party, PartyMask(mode)) == shown
