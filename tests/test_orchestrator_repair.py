"""Live repair while the court sits, end to end: streamd on a real broker and database,
simulated rooms, the console through the HTTP API. A hearing on air runs past its planned
end: the next hearing on its line loses the line at once (technicians alerted, the clerk
told why), its go-live is refused while the line is on air, and once the first hearing
adjourns it goes live on that line."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streamd_protocol import GoLive
from tests.conftest import hearing_body
from tests.court_support import Court

pytestmark = [pytest.mark.db, pytest.mark.broker]


@pytest.fixture
def court_settings() -> dict[str, Any]:
    # Back-to-back on one line, and an overrun re-estimated every second.
    return {"line_preroll_minutes": 0, "line_postroll_minutes": 0, "repair_step_seconds": 1}


async def _hearing(court_: Court, room: str, start: datetime, end: datetime) -> tuple[int, str]:
    case = f"（2026）粤0111民初{uuid.uuid4().int % 90000 + 1}号"
    body = hearing_body(start=start.isoformat(), end=end.isoformat(), case_number=case)
    body["courtroom"] = room
    clerk = await court_.auth()
    resp = await court_.client.post("/api/v1/hearings", json=body, headers=clerk)
    assert resp.status == 201, await resp.text()
    hearing_id = int((await resp.json())["id"])
    resp = await court_.client.post(
        "/api/v1/bookings",
        json={"hearing_id": hearing_id, "late_reason": "案件紧急，临时安排直播"},
        headers=clerk,
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["line"] == "L1"
    return hearing_id, case


async def _booking(court_: Court, hearing_id: int) -> dict[str, Any]:
    resp = await court_.client.get(
        f"/api/v1/bookings?hearing_id={hearing_id}", headers=await court_.auth()
    )
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    return dict(next(b for b in items if b["hearing_id"] == hearing_id))


async def _alerts(court_: Court, kind: str, hearing_id: int) -> list[dict[str, Any]]:
    resp = await court_.client.get(
        "/api/v1/alerts?limit=100&open=false", headers=await court_.auth("technician")
    )
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    return [a for a in items if a["kind"] == kind and a["hearing_id"] == hearing_id]


async def _until(check: Any, within: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        got = await check()
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within} s: {got!r}")
        await asyncio.sleep(0.1)


async def test_an_overrun_takes_the_next_line_until_the_hearing_adjourns(court_: Court) -> None:
    now = datetime.now(UTC)
    a_end = now + timedelta(seconds=4)
    a, a_case = await _hearing(court_, "room-01", now + timedelta(seconds=1), a_end)
    b, _ = await _hearing(court_, "room-02", a_end, a_end + timedelta(hours=1))
    async with court_.agent("room-01") as room_a, court_.agent("room-02") as room_b:
        await court_.until_state(a, "ready")
        status, out = await court_.press(a, "discipline-announced")
        assert status == 200 and out["state"] == "live", out
        # A runs past its planned end: B's line is still on air, so B loses it.
        lost = await _until(
            lambda: _lost(court_, b), within=max(10.0, (a_end - datetime.now(UTC)).seconds + 8)
        )
        assert a_case in lost["line_reason"]["zh"] and "超时" in lost["line_reason"]["zh"]
        alert = await _until(lambda: _alerts(court_, "line_lost", b))
        assert alert[0]["room"] == "room-02" and alert[0]["cleared_at"] is None
        plan = await asyncio.wait_for(_plan_event(court_, b), 5)
        assert (plan["before"], plan["after"]) == ("L1", None) and plan["room"] == "room-02"
        await court_.until_state(b, "ready")
        status, out = await court_.press(b, "discipline-announced")
        assert status == 409 and a_case in out["detail"], out
        assert "go_live" not in room_b.kinds()
        # A adjourns: the line is free, and B's clerk announces discipline again.
        status, out = await court_.press(a, "adjourned")
        assert out["state"] == "ended"
        status, out = await court_.press(b, "discipline-announced")
        assert status == 200 and out["state"] == "live", out
        go_live = room_b.commands[-1]
        assert isinstance(go_live, GoLive) and go_live.target.kind == "hls"
        assert (await _booking(court_, b))["line"] == "L1"
        cleared = await _until(lambda: _alerts_cleared(court_, b), within=5)
        assert cleared
        assert room_a.kinds()[-1] == "stop"


async def _plan_event(court_: Court, hearing_id: int) -> dict[str, Any]:
    """The clerks' pages hear of the change on the live feed."""
    messages = court_.orch.feed.listen(["plan"], after=0, heartbeat=1)
    try:
        async for message in messages:
            if message is not None and message.data["hearing_id"] == hearing_id:
                return message.data
    finally:
        await messages.aclose()
    raise AssertionError("the feed ended")


async def _lost(court_: Court, hearing_id: int) -> dict[str, Any] | None:
    booking = await _booking(court_, hearing_id)
    return booking if booking["line_status"] == "no_line" else None


async def _alerts_cleared(court_: Court, hearing_id: int) -> bool:
    alerts = await _alerts(court_, "line_lost", hearing_id)
    return bool(alerts) and all(a["cleared_at"] is not None for a in alerts)
