"""The two-level platform's roll-up (两级法院直播情况汇总): every court's month, side by side.

The intermediate court's judicial-openness office sets each basic court's stream target and
publishes the courts' figures every month. Each court's figures are the ones its own
monthly report gives (streamd.reports: the same rule for "streamable" and "streamed"), so a
court's sheet and its own report never disagree; beside them, the line utilisation, the
monitor's coverage verdicts and the three-way recording's completeness.

The ranking (`rank`) is pure: by stream ratio, highest first, courts with nothing to stream
last; courts with the same ratio share a rank (1, 1, 3), as a published ranking does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlmodel import Session, col, select

from streamd import reports
from streamd.models import Court, Hearing, Stream
from streamd.monitor import records as monitor_records
from streamd.policy import Ruleset
from streamd.scope import hearings_of

RANKING = "排名"
VERDICT_ZH = {
    "full": "完整",
    "gaps": "漏播",
    "extra": "多播",
    "gaps_and_extra": "漏播且多播",
    "not_streamed": "未直播",
}
RECORDING_ZH = {
    "complete": "完整",
    "incomplete": "不完整",
    "unreachable": "无法读取",
    "not_recorded": "未录制",
}


@dataclass(frozen=True, slots=True)
class CourtMonth:
    """One court's month, as its own monthly report counts it."""

    code: str
    name: str
    streamable: int
    streamed: int
    planned: int
    target: float
    streamed_this_year: int  # January through the month
    streamed_last_year: int  # the same months a year before
    utilisation: float  # share of line-hours carrying a stream, working days
    lines: int
    verdicts: Counter[str] = field(default_factory=Counter)
    recordings: Counter[str] = field(default_factory=Counter)
    tables: tuple[reports.Table, ...] = ()

    @property
    def ratio(self) -> float | None:
        return round(self.streamed / self.streamable, 4) if self.streamable else None

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        return None if ratio is None else ratio >= self.target


@dataclass(frozen=True, slots=True)
class Rollup:
    month: date
    courts: tuple[CourtMonth, ...]


def rank(courts: Sequence[CourtMonth]) -> list[tuple[int | None, CourtMonth]]:
    """Highest ratio first; equal ratios share a rank, ordered by code; no ratio: unranked,
    last."""
    ranked = sorted(
        (c for c in courts if c.ratio is not None), key=lambda c: (-(c.ratio or 0.0), c.code)
    )
    out: list[tuple[int | None, CourtMonth]] = []
    for i, c in enumerate(ranked):
        same = out and out[-1][1].ratio == c.ratio
        out.append((out[-1][0] if same else i + 1, c))
    out += [(None, c) for c in sorted(courts, key=lambda c: c.code) if c.ratio is None]
    return out


def rollup(
    session: Session,
    *,
    month: date,
    zone: tzinfo,
    rules: Ruleset,
    allowance_seconds: float,
    now: datetime | None = None,
) -> Rollup:
    now = now or datetime.now(UTC)
    out = []
    for court in session.exec(select(Court).order_by(col(Court.code))).all():
        assert court.id is not None
        report = reports.monthly(
            session=session,
            month=month,
            department=None,
            zone=zone,
            rules=rules,
            court_id=court.id,
            now=now,
        )
        tables = {t.sheet: t for t in report.tables}
        ratio_rows = tables[reports.RATIO].rows
        year_rows = tables[reports.YEAR].rows
        use = reports.utilisation(session, month, zone, court_id=court.id)
        days = [share for _, share in use["days"]]
        covered = coverage_rows(session, month, zone, allowance_seconds, court_id=court.id, now=now)
        verdicts = Counter(str(row["cov"]["verdict"]) for row in covered)
        recordings = Counter(str(row["cov"]["recording"]["verdict"]) for row in covered)
        out.append(
            CourtMonth(
                code=court.code,
                name=court.name,
                streamable=sum(int(r[1] or 0) for r in ratio_rows),
                streamed=sum(int(r[2] or 0) for r in ratio_rows),
                planned=sum(int(r[3] or 0) for r in ratio_rows),
                target=court.stream_target_ratio,
                streamed_this_year=sum(int(r[2] or 0) for r in year_rows),
                streamed_last_year=sum(int(r[1] or 0) for r in year_rows),
                utilisation=round(sum(days) / len(days), 4) if days else 0.0,
                lines=int(use["lines"]),
                verdicts=verdicts,
                recordings=recordings,
                tables=report.tables,
            )
        )
    return Rollup(month, tuple(out))


def coverage_rows(
    session: Session,
    month: date,
    zone: tzinfo,
    allowance_seconds: float,
    *,
    court_id: int | None,
    now: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The coverage of each of the court's hearings of the month that began (court
    discipline announced), newest first: the hearing, its room and the monitor's JSON
    (its verdict, and the recording's). The statistics page shows the newest `limit`."""
    start, end = reports.month_bounds(month, zone)
    query = (
        select(Stream, Hearing)
        .join(Hearing, col(Hearing.id) == col(Stream.hearing_id))
        .where(
            hearings_of(court_id),
            col(Stream.discipline_at).is_not(None),
            col(Hearing.planned_start) >= start,
            col(Hearing.planned_start) < end,
        )
        .order_by(col(Hearing.planned_start).desc())
    )
    if limit is not None:
        query = query.limit(limit)
    now = now or datetime.now(UTC)
    out = []
    for stream, h in session.exec(query).all():
        assert h.id is not None
        data = monitor_records.hearing_coverage(
            session=session, hearing_id=h.id, now=now, allowance_seconds=allowance_seconds
        )
        if data is not None:
            out.append({"h": h, "room": stream.room, "cov": data})
    return out


# ---- the workbook -------------------------------------------------------------------------


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def ranking_table(r: Rollup) -> reports.Table:
    table = reports.Table(
        RANKING,
        (
            "排名",
            "法院",
            "法院代码",
            "可直播公开庭审",
            "已直播",
            "待直播",
            "直播率(%)",
            "目标(%)",
            "是否达标",
            f"{r.month.year}年累计已直播",
            f"{r.month.year - 1}年同期",
            "同比增减",
            "线路数",
            "线路利用率(%)",
            "覆盖完整",
            "覆盖有缺",
            "录像完整",
            "录像不完整",
        ),
    )
    for place, c in rank(r.courts):
        faults = sum(n for v, n in c.verdicts.items() if v != "full")
        incomplete = sum(n for v, n in c.recordings.items() if v != "complete")
        table.rows.append(
            (
                place if place is not None else "—",
                c.name,
                c.code,
                c.streamable,
                c.streamed,
                c.planned,
                _percent(c.ratio),
                _percent(c.target),
                "—" if c.met is None else ("是" if c.met else "否"),
                c.streamed_this_year,
                c.streamed_last_year,
                c.streamed_this_year - c.streamed_last_year,
                c.lines,
                _percent(c.utilisation),
                c.verdicts.get("full", 0),
                faults,
                c.recordings.get("complete", 0),
                incomplete,
            )
        )
    return table


def court_table(c: CourtMonth) -> reports.Table:
    """One court's sheet: its figures, then its departments' ratios (its own report's)."""
    table = reports.Table(_sheet_name(c), ("项目", "数值", "", "", "", "", ""))
    table.rows.extend(
        [
            ("法院", c.name, None, None, None, None, None),
            ("可直播公开庭审", c.streamable, None, None, None, None, None),
            ("已直播", c.streamed, None, None, None, None, None),
            ("直播率(%)", _percent(c.ratio), None, None, None, None, None),
            ("目标(%)", _percent(c.target), None, None, None, None, None),
            ("线路利用率(%)", _percent(c.utilisation), None, None, None, None, None),
        ]
    )
    for verdict, n in sorted(c.verdicts.items()):
        table.rows.append((f"覆盖结论：{VERDICT_ZH.get(verdict, verdict)}", n, *[None] * 5))
    for verdict, n in sorted(c.recordings.items()):
        table.rows.append((f"录像：{RECORDING_ZH.get(verdict, verdict)}", n, *[None] * 5))
    ratio = next(t for t in c.tables if t.sheet == reports.RATIO)
    table.rows.append((None,) * 7)
    table.rows.append(ratio.headers)
    table.rows.extend(ratio.rows)
    return table


def _sheet_name(c: CourtMonth) -> str:
    """A sheet's name: at most 31 characters, none of []:*?/\\ (Excel refuses them)."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in c.name)
    return f"{c.code} {clean}"[:31]


def to_xlsx(r: Rollup) -> bytes:
    return reports.tables_to_xlsx([ranking_table(r), *(court_table(c) for c in r.courts)])
