"""A line goes down under a hearing on air, end to end: a technician reports it through
the API, the plan gives the hearing the other line at once, and the orchestrator moves
the room's publisher there (restart_publisher with the new target) without touching the
recording. With no line left, nothing goes out and the technicians are alerted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streamd_protocol import RestartPublisher
from tests.court_support import Court

pytestmark = [pytest.mark.db, pytest.mark.broker]


@pytest.fixture
def court_lines() -> int:
    return 2


async def _report(court_: Court, code: str) -> dict[str, Any]:
    tech = await court_.auth("technician")
    resp = await court_.client.get("/api/v1/lines", headers=tech)
    line_id = next(r["id"] for r in (await resp.json())["items"] if r["code"] == code)
    resp = await court_.client.post(
        f"/api/v1/lines/{line_id}/outages", json={"reason": "推流中断"}, headers=tech
    )
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def _restarts(room: Any, within: float = 10.0) -> list[RestartPublisher]:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        got = [c for c in room.commands if isinstance(c, RestartPublisher)]
        if got:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"no restart_publisher within {within} s: {room.kinds()}")


async def test_a_hearing_on_air_follows_the_plan_to_another_line(court_: Court) -> None:
    async with court_.agent() as room:
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")
        status, out = await court_.press(hearing, "discipline-announced")
        assert status == 200 and out["state"] == "live", out
        await _report(court_, "L1")
        moved = await _restarts(room)
        assert len(moved) == 1
        target = moved[0].target
        assert target is not None and target.kind == "rtmp"
        assert target.url == "rtmp://127.0.0.1:1935/live/k2"
        assert room.kinds()[-1] == "restart_publisher" and "stop" not in room.kinds()
        view = await court_.stream(hearing)
        assert view["state"] == "live"
        assert any(c["kind"] == "restart_publisher" for c in view["commands"])
        resp = await court_.client.get(
            "/api/v1/audit?object_type=stream&limit=50", headers=await court_.auth("admin")
        )
        actions = [e["action"] for e in (await resp.json())["items"]]
        assert "stream.move_line" in actions
        # The second line goes too: nothing can go out; the technicians are told.
        await _report(court_, "L2")

        async def alerted() -> list[dict[str, Any]]:
            resp = await court_.client.get(
                "/api/v1/alerts", headers=await court_.auth("technician")
            )
            items = (await resp.json())["items"]
            return [a for a in items if a["kind"] == "line_down_on_air"]

        deadline = asyncio.get_running_loop().time() + 10
        while not (found := await alerted()):
            assert asyncio.get_running_loop().time() < deadline, "no line_down_on_air alert"
            await asyncio.sleep(0.1)
        assert found[0]["severity"] == "critical" and found[0]["hearing_id"] == hearing
        assert len([c for c in room.commands if isinstance(c, RestartPublisher)]) == 1
