"""`/city`: the intermediate court's office compares its courts (the two-level platform).

The same figures as `GET /api/v1/reports/rollup` (streamd.rollup), ranked, with the link
to the workbook the office publishes each month: one sheet per court and the ranking.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiohttp import web
from sqlmodel import Session

from streamd import rollup
from streamd.config import Settings
from streamd.domain import Role
from streamd.policy import Ruleset
from streamd.store import Database

ROLES = frozenset({Role.CITY_OFFICE})


def loader(
    db: Database,
    settings: Settings,
    rules: Callable[[], Ruleset],
    month_of: Callable[[web.Request], date],
) -> Callable[[web.Request, Any], Awaitable[dict[str, Any]]]:
    async def load(request: web.Request, who: Any) -> dict[str, Any]:
        month = month_of(request)

        def work(session: Session) -> rollup.Rollup:
            return rollup.rollup(
                session=session,
                month=month,
                zone=settings.zone,
                rules=rules(),
                allowance_seconds=settings.monitor_allowance_seconds,
            )

        result = await db.run(work)
        return {
            "month": month,
            "ranked": rollup.rank(result.courts),
            "verdict_zh": rollup.VERDICT_ZH,
            "recording_zh": rollup.RECORDING_ZH,
        }

    return load
