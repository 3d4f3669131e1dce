"""Line outages through the API: who may report and restore, what is refused, and that
the plan answers at once (a booking on the line moves in the same transaction)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Client, make_hearing, token

pytestmark = pytest.mark.db


async def _line_id(client: Client, code: str) -> int:
    resp = await client.get("/api/v1/lines", headers=await token(client, "technician"))
    return int(next(r["id"] for r in (await resp.json())["items"] if r["code"] == code))


async def _booked(client: Client) -> dict[str, object]:
    hearing = await make_hearing(client)
    resp = await client.post(
        "/api/v1/bookings",
        json={"hearing_id": hearing["id"]},
        headers=await token(client, "clerk"),
    )
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def test_a_technician_takes_a_line_down_and_the_booking_moves_at_once(
    client: Client,
) -> None:
    booking = await _booked(client)
    line = str(booking["line"])
    line_id = await _line_id(client, line)
    tech = await token(client, "technician")
    start = datetime.now(UTC) + timedelta(days=6)
    resp = await client.post(
        f"/api/v1/lines/{line_id}/outages",
        json={"reason": "平台推流地址失效", "start": start.isoformat()},
        headers=tech,
    )
    assert resp.status == 201, await resp.text()
    outage = await resp.json()
    assert (
        outage["line"] == line and outage["end"] is None and outage["reported_by"] == "technician"
    )
    resp = await client.get(f"/api/v1/bookings/{booking['id']}", headers=tech)
    moved = await resp.json()
    assert moved["line"] not in (None, line), moved
    assert "平台推流地址失效" in moved["line_reason"]["zh"]
    resp = await client.get(
        f"/api/v1/lines/{line_id}/outages", headers=await token(client, "clerk")
    )
    assert [o["id"] for o in (await resp.json())["items"]] == [outage["id"]]
    # Restored: idempotent, and the booking keeps the line it has now (fewest changes).
    for _ in range(2):
        resp = await client.post(f"/api/v1/outages/{outage['id']}/restore", json={}, headers=tech)
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["ended_by"] == "technician"
    resp = await client.get(f"/api/v1/bookings/{booking['id']}", headers=tech)
    assert (await resp.json())["line"] == moved["line"]
    resp = await client.get(
        "/api/v1/audit?object_type=line_outage&limit=10", headers=await token(client, "admin")
    )
    assert sorted(e["action"] for e in (await resp.json())["items"]) == [
        "line.outage",
        "line.restore",
    ]


async def test_outages_refuse_the_wrong_role_and_bad_input(client: Client) -> None:
    line_id = await _line_id(client, "L1")
    url = f"/api/v1/lines/{line_id}/outages"
    resp = await client.post(url, json={"reason": "故障"}, headers=await token(client, "clerk"))
    assert resp.status == 403
    tech = await token(client, "technician")
    now = datetime.now(UTC)
    cases = [
        ({"reason": "x"}, "reason"),
        ({"reason": "故障", "extra": 1}, "extra"),
        ({"reason": "故障", "start": "2026-12-01T09:00:00"}, "start"),  # no offset
        ({"reason": "故障", "end": (now - timedelta(hours=1)).isoformat()}, "end"),
        ({"reason": "故障", "start": (now + timedelta(days=900)).isoformat()}, "start"),
        (
            {
                "reason": "故障",
                "start": (now + timedelta(hours=2)).isoformat(),
                "end": (now + timedelta(hours=1)).isoformat(),
            },
            "end",
        ),
    ]
    for body, field in cases:
        resp = await client.post(url, json=body, headers=tech)
        assert resp.status == 422, (body, await resp.text())
        assert field in await resp.text()
    resp = await client.post("/api/v1/lines/999999/outages", json={"reason": "故障"}, headers=tech)
    assert resp.status == 404
    resp = await client.post("/api/v1/outages/999999/restore", json={}, headers=tech)
    assert resp.status == 404
    resp = await client.get(url, headers=tech)
    assert (await resp.json())["items"] == []  # nothing refused was written
