"""A camera lost mid-hearing in a multi-view room: the technicians' alert names the view,
through the orchestrator's own event path; a new recorder run clears it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from streamd_protocol import Event, EventKind
from tests.court_support import Court

pytestmark = [pytest.mark.db, pytest.mark.broker]


def _event(seq: int, kind: EventKind, hearing: int, **data: str) -> Event:
    return Event(
        id=f"room-01-{seq}",
        seq=seq,
        room="room-01",
        kind=kind,
        at=datetime.now(UTC),
        hearing_id=hearing,
        data=data,
    )


async def _alerts(court_: Court, until: Callable[[list[dict[str, Any]]], bool]) -> list[Any]:
    """The open signal_lost alerts, once `until` holds (alerts are written behind)."""
    for _ in range(100):
        resp = await court_.client.get("/api/v1/alerts", headers=await court_.auth("technician"))
        found = [a for a in (await resp.json())["items"] if a["kind"] == "signal_lost"]
        if until(found):
            break
        await asyncio.sleep(0.05)
    return found


async def test_a_lost_camera_is_alerted_by_name_and_cleared_by_a_new_recording(
    court_: Court,
) -> None:
    async with court_.agent():
        hearing = await court_.hearing(minutes=60)
        court_.orch.watch.on_event(
            "room-01",
            _event(90, EventKind.SIGNAL_LOST, hearing, track="witness", track_kind="view"),
        )
        (alert,) = await _alerts(court_, lambda a: len(a) == 1)
        assert alert["severity"] == "warning" and alert["hearing_id"] == hearing
        assert "witness" in str(alert["message_zh"]) and "画面" in str(alert["message_zh"])
        assert "camera witness" in str(alert["message_en"])
        court_.orch.watch.on_event(
            "room-01",
            _event(91, EventKind.SIGNAL_LOST, hearing, track="seat-2", track_kind="channel"),
        )
        (alert,) = await _alerts(court_, lambda a: "seat-2" in str(a))
        assert "microphone seat-2" in str(alert["message_en"])  # named afresh
        court_.orch.watch.on_event("room-01", _event(92, EventKind.RECORDING_STARTED, hearing))
        assert await _alerts(court_, lambda a: not a) == []
