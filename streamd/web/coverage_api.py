"""A hearing's coverage ledger: JSON for programs, an SVG timeline for the pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from sqlmodel import Session

from streamd.config import Settings
from streamd.domain import Role
from streamd.monitor import records, report
from streamd.store import Database
from streamd.web.problems import not_found
from streamd.web.routing import Api, Call, dump

READERS = frozenset(Role)


class IncidentOut(BaseModel):
    kind: str
    start: str
    end: str
    seconds: float


class RecordingOut(BaseModel):
    verdict: str
    folders: list[str]
    video_seconds: float
    audio_seconds: float
    av_mismatch_seconds: float
    video_gaps: list[list[str]]
    audio_gaps: list[list[str]]
    transcript_lines: int
    problems: list[str]


class CoverageOut(BaseModel):
    hearing_id: int
    room: str | None
    verdict: str
    coverage_percent: float
    required: list[str] | None
    open: bool
    required_seconds: float
    covered_seconds: float
    gap_seconds: float
    extra_seconds: float
    paused_seconds: float
    gaps: list[list[str]]
    extra: list[list[str]]
    paused: list[list[str]]
    live: list[list[str]]
    slate: list[list[str]]
    incidents: list[IncidentOut]
    recording: RecordingOut


def register_coverage(api: Api, *, db: Database, settings: Settings) -> None:
    async def ledger(hearing_id: int) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any] | None:
            return records.hearing_coverage(
                session=session,
                hearing_id=hearing_id,
                now=datetime.now(UTC),
                allowance_seconds=settings.monitor_allowance_seconds,
            )

        data = await db.run(work)
        if data is None:
            raise not_found("hearing", hearing_id)
        return data

    @api.route(
        "GET",
        "/hearings/{hearing_id}/coverage",
        summary="Coverage ledger: required, live, paused, gaps (漏播) and extra (多播)",
        tag="monitor",
        roles=READERS,
        responses={200: CoverageOut},
    )
    async def get_coverage(call: Call) -> web.StreamResponse:
        return dump(CoverageOut.model_validate(await ledger(call.params["hearing_id"])))

    @api.route(
        "GET",
        "/hearings/{hearing_id}/coverage.svg",
        summary="Coverage timeline as an SVG picture",
        tag="monitor",
        roles=READERS,
        responses={200: None},
    )
    async def get_coverage_svg(call: Call) -> web.StreamResponse:
        data = await ledger(call.params["hearing_id"])
        svg = report.timeline_svg(data, settings.zone)
        return web.Response(text=svg, content_type="image/svg+xml")
