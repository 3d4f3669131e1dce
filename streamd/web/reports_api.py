"""The monthly report through the API: JSON to read, XLSX or CSV to file; and the
two-level platform's roll-up of every court, for the intermediate court's office."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from streamd import reports, rollup
from streamd.config import Settings
from streamd.domain import Role
from streamd.policy import Ruleset
from streamd.store import Database
from streamd.web.problems import field_problem
from streamd.web.routing import Api, Call, dump

READERS = frozenset({Role.ADMIN, Role.COURT_LEADER, Role.DEPARTMENT_HEAD})
CITY = frozenset({Role.CITY_OFFICE})  # the roll-up compares every court (streamd.rollup)
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
}


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-10"])
    department: str | None = Field(default=None, max_length=32)
    format: Literal["json", "xlsx", "csv"] = "json"


class TableOut(BaseModel):
    sheet: str
    headers: list[str]
    rows: list[list[str | int | float | None]]


class ReportOut(BaseModel):
    month: str
    department: str | None
    tables: list[TableOut]


class RollupQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-10"])
    format: Literal["json", "xlsx"] = "json"


class CourtMonthOut(BaseModel):
    rank: int | None = Field(description="1 is the highest stream ratio; None: nothing to stream")
    code: str
    name: str
    streamable: int
    streamed: int
    planned: int
    ratio: float | None
    target: float
    met: bool | None
    streamed_this_year: int
    streamed_last_year: int
    lines: int
    utilisation: float
    verdicts: dict[str, int] = Field(description="the monitor's coverage verdicts, by verdict")
    recordings: dict[str, int] = Field(description="the recording check's verdicts")


class RollupOut(BaseModel):
    month: str
    courts: list[CourtMonthOut]


def register_reports(api: Api, *, db: Database, settings: Settings, rules: Ruleset) -> None:
    @api.route(
        "GET",
        "/reports/monthly",
        summary="The monthly report (format=xlsx or csv downloads a file)",
        tag="reports",
        roles=READERS,
        query=ReportQuery,
        responses={200: ReportOut},
    )
    async def monthly_report(call: Call) -> web.StreamResponse:
        q: ReportQuery = call.query

        def work(session: Session) -> reports.MonthlyReport:
            try:
                return reports.monthly(
                    session=session,
                    month=reports.parse_month(q.month),
                    department=q.department,
                    zone=settings.zone,
                    rules=rules,
                    court_id=call.user.court_id if call.user is not None else None,
                )
            except reports.ReportError as exc:
                field = "query.department" if "department" in str(exc) else "query.month"
                raise field_problem(422, "Unprocessable content", field, str(exc)) from None

        report = await db.run(work)
        if q.format == "json":
            return dump(
                ReportOut(
                    month=q.month,
                    department=q.department,
                    tables=[
                        TableOut(
                            sheet=t.sheet, headers=list(t.headers), rows=[list(r) for r in t.rows]
                        )
                        for t in report.tables
                    ],
                )
            )
        body = reports.to_xlsx(report) if q.format == "xlsx" else reports.to_csv(report)
        name = f"report-{q.month}{'-' + q.department if q.department else ''}.{q.format}"
        return web.Response(
            body=body,
            content_type=MEDIA[q.format],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @api.route(
        "GET",
        "/reports/rollup",
        summary="Every court's month side by side, ranked (format=xlsx: one sheet per court)",
        tag="reports",
        roles=CITY,
        query=RollupQuery,
        responses={200: RollupOut},
    )
    async def rollup_report(call: Call) -> web.StreamResponse:
        q: RollupQuery = call.query

        def work(session: Session) -> rollup.Rollup:
            try:
                month = reports.parse_month(q.month)
            except reports.ReportError as exc:
                raise field_problem(422, "Unprocessable content", "query.month", str(exc)) from None
            return rollup.rollup(
                session=session,
                month=month,
                zone=settings.zone,
                rules=rules,
                allowance_seconds=settings.monitor_allowance_seconds,
            )

        result = await db.run(work)
        if q.format == "xlsx":
            return web.Response(
                body=rollup.to_xlsx(result),
                content_type=MEDIA["xlsx"],
                headers={"Content-Disposition": f'attachment; filename="rollup-{q.month}.xlsx"'},
            )
        return dump(
            RollupOut(
                month=q.month,
                courts=[
                    CourtMonthOut(
                        rank=place,
                        code=c.code,
                        name=c.name,
                        streamable=c.streamable,
                        streamed=c.streamed,
                        planned=c.planned,
                        ratio=c.ratio,
                        target=c.target,
                        met=c.met,
                        streamed_this_year=c.streamed_this_year,
                        streamed_last_year=c.streamed_last_year,
                        lines=c.lines,
                        utilisation=c.utilisation,
                        verdicts=dict(c.verdicts),
                        recordings=dict(c.recordings),
                    )
                    for place, c in rollup.rank(result.courts)
                ],
            )
        )
