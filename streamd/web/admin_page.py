"""`/admin`: the statistics page of one court (its administrator's and court leader's).

The month's report as charts (ratio by department against target, this year against last,
what was not streamed and why), the court's line utilisation, what one more line would
carry, and the monitor's coverage verdicts: all of the viewer's own court.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiohttp import web
from sqlmodel import Session

from streamd import reports
from streamd.config import Settings
from streamd.domain import Role
from streamd.policy import Ruleset
from streamd.reports import utilisation
from streamd.rollup import coverage_rows
from streamd.store import Database
from streamd.web.figures import bar_chart, line_chart, pair_chart, what_if

ROLES = frozenset({Role.ADMIN, Role.COURT_LEADER})


def loader(
    db: Database,
    settings: Settings,
    rules: Callable[[], Ruleset],
    month_of: Callable[[web.Request], date],
) -> Callable[[web.Request, Any], Awaitable[dict[str, Any]]]:
    async def load(request: web.Request, who: Any) -> dict[str, Any]:
        month = month_of(request)
        zone = settings.zone

        def work(session: Session) -> dict[str, Any]:
            court_id = who.court_id
            report = reports.monthly(
                session=session,
                month=month,
                department=None,
                zone=zone,
                rules=rules(),
                court_id=court_id,
            )
            tables = {t.sheet: t for t in report.tables}
            use = utilisation(session, month, zone, court_id=court_id)
            verdicts = coverage_rows(
                session,
                month,
                zone,
                settings.monitor_allowance_seconds,
                court_id=court_id,
                limit=200,
            )
            curve = what_if(session, month, zone, rules(), court_id=court_id)
            return {"tables": tables, "use": use, "verdicts": verdicts, "curve": curve}

        data = await db.run(work)
        t = data["tables"]
        ratio = t[reports.RATIO]
        year = t[reports.YEAR]
        breakdown = {
            "approved": len(t[reports.NOT_STREAMED].rows),
            "pending": len(t[reports.PENDING].rows),
            "no_line": len(t[reports.NO_LINE].rows),
        }
        return {
            "month": month,
            "ratio_rows": ratio.rows,
            "ratio_chart": bar_chart(
                [(str(r[0]), float(r[4] or 0.0), float(r[5] or 0.0)) for r in ratio.rows]
            ),
            "year_rows": year.rows,
            "year_chart": pair_chart(
                [(str(r[0]), int(r[1] or 0), int(r[2] or 0)) for r in year.rows]
            ),
            "breakdown": breakdown,
            "use": data["use"],
            "use_chart": bar_chart([(d, u, 0.0) for d, u in data["use"]["days"]]),
            "verdicts": data["verdicts"],
            "curve": data["curve"],
            "curve_chart": line_chart(data["curve"]),
        }

    return load
