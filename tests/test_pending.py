"""Console actions while no replica leads: a pause is held and shown, never refused; what
would put something on air is refused (fail closed). On both databases, without a broker."""

from __future__ import annotations

import pytest

from streamd.orchestrator import records
from streamd.store import Database
from tests.conftest import Client, make_hearing, token

pytestmark = pytest.mark.db


async def test_a_pause_without_a_leader_is_held_and_shown(
    client: Client, database: Database
) -> None:
    hearing = (await make_hearing(client))["id"]
    clerk = await token(client, "clerk")
    url = f"/api/v1/hearings/{hearing}/stream"
    resp = await client.post(f"{url}/pause", json={"reason": "突发情况"}, headers=clerk)
    assert resp.status == 404  # no stream yet: nothing to hold, nothing written
    database.call(records.stream_for, hearing_id=hearing, rooms=["room-01"])

    resp = await client.post(f"{url}/pause", json={"reason": "突发情况"}, headers=clerk)
    assert resp.status == 200, await resp.text()
    out = await resp.json()
    assert out["delivery"] == "pending" and out["held"] and out["state"] == "booked"
    shown = await (await client.get(url, headers=clerk)).json()
    assert [(p["action"], p["actor"], p["reason"]) for p in shown["pending"]] == [
        ("pause", "clerk", "突发情况")
    ]
    resp = await client.post(f"{url}/discipline-announced", json={}, headers=clerk)
    assert resp.status == 503  # fail closed: nothing goes live without a leader
    resp = await client.post(f"{url}/pause", json={}, headers=clerk)
    assert resp.status == 422  # a pause still needs its reason
