"""The monthly report (月度报告): what each department files by the 3rd of the month.

Four parts, each a table with Chinese headers, built once and written as XLSX or CSV:
(a) approved not-streamed public hearings with the fields the court's rules list;
(b) each department's stream ratio against its target; (c) streamed counts this year
against last year, month by month; (d) hearings without a free line and approvals still
pending; plus the bookings made after the announcement deadline.

"Streamed" means the room confirmed the courtroom went out on a line (streamd.streamed),
not that the plan gave the hearing a line: a booked hearing may still lose its line to an
overrun or an outage, or never go live. Hearings still ahead that hold a line are shown
beside it as 待直播 (planned), so a report made mid-month reads right.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlmodel import Session, col, select

from streamd import approvals, streamed
from streamd.approval_view import LEVEL_ZH
from streamd.approvals import Status
from streamd.cells import csv_cell, xml_safe
from streamd.domain import BookingStatus, HearingStatus, LineStatus
from streamd.models import Booking, Courtroom, Department, Hearing, Line, Stream
from streamd.policy import ApprovalLevel, Eligibility, Ruleset
from streamd.scope import hearings_of
from streamd.store import in_batches
from streamd.validation import check_year

Cell = str | int | float | None


class ReportError(ValueError):
    """The report cannot be made as asked (bad month, unknown department)."""


@dataclass(frozen=True, slots=True)
class Table:
    sheet: str  # also the CSV section title
    headers: tuple[str, ...]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    month: date
    department: str | None
    tables: tuple[Table, ...]


NOT_STREAMED = "不直播案件"
RATIO = "直播率"
YEAR = "同比"
NO_LINE = "无空闲线路"
PENDING = "待审批"
LATE = "公告延迟"
STATUS_ZH = {Status.PENDING: "待庭级审核", Status.REVIEWED: "待院级审批"}


def parse_month(text: str) -> date:
    try:
        first = datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise ReportError(f"month {text!r}: use YYYY-MM, e.g. 2026-10") from None
    try:
        check_year(first)
    except ValueError as exc:
        raise ReportError(f"month {text!r}: {exc}") from None
    return first


def month_bounds(month: date, zone: tzinfo) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return start, datetime(nxt.year, nxt.month, 1, tzinfo=zone)


def monthly(
    session: Session,
    *,
    month: date,
    department: str | None,
    zone: tzinfo,
    rules: Ruleset,
    court_id: int | None,
    now: datetime | None = None,
) -> MonthlyReport:
    """The report of one court (each court files its own): its departments, or the one
    named. No court: nothing to report on (an account without a court sees nothing)."""
    departments = list(
        session.exec(
            select(Department).where(Department.court_id == court_id).order_by(col(Department.code))
        )
    )
    if department is not None:
        departments = [d for d in departments if d.code == department]
        if not departments:
            raise ReportError(f"unknown department {department!r}")
    dept_ids = [d.id for d in departments]
    start, end = month_bounds(month, zone)
    hearings = list(
        session.exec(
            select(Hearing)
            .where(
                col(Hearing.planned_start) >= start,
                col(Hearing.planned_start) < end,
                col(Hearing.department_id).in_(dept_ids),
                Hearing.status != HearingStatus.CANCELLED.value,
            )
            .order_by(col(Hearing.planned_start), col(Hearing.id))
        )
    )
    ids = [h.id for h in hearings if h.id is not None]
    bookings = _bookings(session, ids)
    went_out = streamed.streamed_ids(session, ids)
    now = now or datetime.now(UTC)
    records = approvals.records_of(session, ids)
    decided = approvals.decisions(session, hearings, rules)
    rooms = {r.id: r.name for r in session.exec(select(Courtroom))}

    def when(h: Hearing) -> str:
        return h.planned_start.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    not_streamed = Table(
        NOT_STREAMED,
        ("案号", "案由", "当事人", "经办人", "开庭时间", "不直播理由", "审批人", "审批层级"),
    )
    pending = Table(PENDING, ("案号", "开庭时间", "不直播理由", "审批层级", "状态", "申请人"))
    for h in hearings:
        for r in sorted(records.get(h.id or 0, ()), key=lambda r: r.id or 0):
            level = LEVEL_ZH[ApprovalLevel(r.level)]
            if h.is_public and r.status == Status.APPROVED:
                not_streamed.rows.append(
                    (
                        h.case_number,
                        h.cause,
                        "、".join(h.parties),
                        h.handler_judge,
                        when(h),
                        r.reason,
                        r.decided_by,
                        level,
                    )
                )
            elif r.status in (Status.PENDING, Status.REVIEWED):
                pending.rows.append(
                    (
                        h.case_number,
                        when(h),
                        r.reason,
                        level,
                        STATUS_ZH[Status(r.status)],
                        r.applicant,
                    )
                )

    ratio = Table(
        RATIO, ("庭室", "可直播公开庭审", "已直播", "待直播", "直播率", "目标", "是否达标")
    )
    for d in departments:
        own = [h for h in hearings if h.department_id == d.id and h.is_public]
        streamable = [h for h in own if decided[h.id or 0].outcome is not Eligibility.EXCLUDED]
        done = sum(1 for h in streamable if h.id in went_out)
        planned = sum(
            1
            for h in streamable
            if h.id not in went_out and h.planned_end > now and _holds_line(bookings.get(h.id or 0))
        )
        value = round(done / len(streamable), 4) if streamable else None
        met = "—" if value is None else ("是" if value >= d.stream_target_ratio else "否")
        ratio.rows.append(
            (d.name, len(streamable), done, planned, value, d.stream_target_ratio, met)
        )

    year = Table(YEAR, ("月份", f"{month.year - 1}年已直播", f"{month.year}年已直播", "增减"))
    counts = _streamed_by_month(session, month.year, dept_ids, zone)
    for m in range(1, month.month + 1):
        last, this = counts[(month.year - 1, m)], counts[(month.year, m)]
        year.rows.append((f"{m}月", last, this, this - last))

    no_line = Table(NO_LINE, ("案号", "开庭时间", "法庭", "原因"))
    late = Table(LATE, ("案号", "开庭时间", "预约时间", "延迟原因"))
    for h in hearings:
        b = bookings.get(h.id or 0)
        if b is None:
            continue
        if b.line_status == LineStatus.NO_LINE:
            reason = (b.line_reason or {}).get("zh", "")
            no_line.rows.append((h.case_number, when(h), rooms.get(h.courtroom_id, ""), reason))
        if b.late_announcement:
            booked = b.requested_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            late.rows.append((h.case_number, when(h), booked, b.late_reason))
    return MonthlyReport(month, department, (not_streamed, ratio, year, no_line, pending, late))


def _bookings(session: Session, hearing_ids: Sequence[int]) -> dict[int, Booking]:
    out: dict[int, Booking] = {}
    for chunk in in_batches(hearing_ids):
        for b in session.exec(
            select(Booking).where(
                col(Booking.hearing_id).in_(chunk), Booking.status != BookingStatus.CANCELLED.value
            )
        ):
            out[b.hearing_id] = b
    return out


def _holds_line(booking: Booking | None) -> bool:
    return booking is not None and booking.line_status == LineStatus.ASSIGNED


def _streamed_by_month(
    session: Session, year: int, dept_ids: Sequence[int | None], zone: tzinfo
) -> Counter[tuple[int, int]]:
    start = datetime(year - 1, 1, 1, tzinfo=zone)
    end = datetime(year + 1, 1, 1, tzinfo=zone)
    rows = session.exec(
        select(Hearing.planned_start)
        .join(Stream, col(Stream.hearing_id) == col(Hearing.id))
        .where(
            col(Hearing.planned_start) >= start,
            col(Hearing.planned_start) < end,
            col(Hearing.department_id).in_(dept_ids),
            Hearing.status != HearingStatus.CANCELLED.value,
            Hearing.is_public == True,  # noqa: E712
            streamed.went_live(),
        )
    )
    counts: Counter[tuple[int, int]] = Counter()
    for planned in rows:
        local = planned.astimezone(zone)
        counts[(local.year, local.month)] += 1
    return counts


def utilisation(
    session: Session, month: date, zone: Any, *, court_id: int | None
) -> dict[str, Any]:
    """Share of the court's line-hours (08:30-17:30, working days) carrying a stream."""
    start, end = month_bounds(month, zone)
    lines = len(
        list(
            session.exec(
                select(Line).where(Line.active == True, Line.court_id == court_id)  # noqa: E712
            )
        )
    )
    streams = session.exec(
        select(Stream)
        .join(Hearing, col(Hearing.id) == col(Stream.hearing_id))
        .where(
            hearings_of(court_id),
            col(Stream.discipline_at).is_not(None),
            col(Stream.discipline_at) >= start,
            col(Stream.discipline_at) < end,
            col(Stream.line_id).is_not(None),
        )
    ).all()
    used: dict[date, float] = {}
    now = datetime.now(UTC)
    for s in streams:
        assert s.discipline_at is not None
        until = s.adjourned_at or (s.state_at if s.state in ("ended", "aborted") else now)
        day = s.discipline_at.astimezone(zone).date()
        used[day] = used.get(day, 0.0) + max(0.0, (until - s.discipline_at).total_seconds())
    capacity = max(1, lines) * 9 * 3600
    days = []
    d = start.date()
    while d < end.date():
        if d.weekday() < 5:
            days.append((d.strftime("%m-%d"), round(used.get(d, 0.0) / capacity, 4)))
        d += timedelta(days=1)
    weeks: dict[str, list[float]] = {}
    for label, share in days:
        week = datetime.strptime(f"{month.year}-{label}", "%Y-%m-%d").strftime("%G-W%V")
        weeks.setdefault(week, []).append(share)
    return {
        "lines": lines,
        "days": days,
        "weeks": [(w, round(sum(v) / len(v), 4)) for w, v in weeks.items()],
    }


# ---- writers ------------------------------------------------------------------------------


def to_xlsx(report: MonthlyReport) -> bytes:
    return tables_to_xlsx(report.tables)


def tables_to_xlsx(tables: Sequence[Table]) -> bytes:
    """One sheet per table, bold frozen headers, text cells never formulas."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for table in tables:
        sheet = book.create_sheet(table.sheet)
        sheet.append(list(table.headers))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for r, row in enumerate(table.rows, start=2):
            for c, value in enumerate(row, start=1):
                cell = sheet.cell(r, c)
                if isinstance(value, str):
                    cell.value = xml_safe(value)
                    cell.data_type = "s"  # text, never a formula (streamd.cells)
                else:
                    cell.value = value
        for i, header in enumerate(table.headers, start=1):
            width = max([len(str(header)) * 2, *(len(str(r[i - 1] or "")) * 2 for r in table.rows)])
            sheet.column_dimensions[sheet.cell(1, i).column_letter].width = min(60, width + 2)
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def to_csv(report: MonthlyReport) -> bytes:
    """All parts in one file, each under its title; UTF-8 with BOM so Excel reads Chinese."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    title = report.month.strftime("%Y年%m月") + (
        f" {report.department}" if report.department else ""
    )
    writer.writerow([f"{title} 庭审直播月度报告"])
    for table in report.tables:
        writer.writerow([])
        writer.writerow([table.sheet])
        writer.writerow(table.headers)
        writer.writerows(["" if c is None else csv_cell(c) for c in row] for row in table.rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
