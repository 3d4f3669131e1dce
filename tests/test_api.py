"""The HTTP API: roles on every route, idempotent booking, problem details, OpenAPI."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from openapi_spec_validator import validate

from tests.conftest import PASSWORD, Client, future, hearing_body, make_hearing, token

pytestmark = pytest.mark.db


async def test_health_and_readiness(client: Client) -> None:
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    assert resp.status == 200
    ready = await resp.json()
    assert ready["status"] == "ready"
    # What scripts rely on among replicas: this one's name, and whether it leads.
    assert ready["replica"] == "127.0.0.1:8080" and isinstance(ready["leader"], bool)


async def test_clerk_books_technician_forbidden_anonymous_unauthorised(client: Client) -> None:
    hearing = await make_hearing(client)
    resp = await client.post("/api/v1/bookings", json={"hearing_id": hearing["id"]})
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert resp.content_type == "application/problem+json"
    resp = await client.post(
        "/api/v1/bookings",
        json={"hearing_id": hearing["id"]},
        headers=await token(client, "technician"),
    )
    assert resp.status == 403
    assert "clerk" in (await resp.json())["detail"]
    resp = await client.post(
        "/api/v1/bookings",
        json={"hearing_id": hearing["id"]},
        headers=await token(client, "clerk"),
    )
    assert resp.status == 201
    booking = await resp.json()
    assert booking["status"] == "requested" and booking["requested_by"] == "clerk"


async def test_double_submit_books_once(client: Client) -> None:
    hearing = await make_hearing(client)
    clerk = await token(client, "clerk")
    results = await asyncio.gather(
        *[
            client.post("/api/v1/bookings", json={"hearing_id": hearing["id"]}, headers=clerk)
            for _ in range(5)
        ]
    )
    bodies = [await r.json() for r in results]
    assert sorted(r.status for r in results) == [200, 200, 200, 200, 201]
    assert len({b["id"] for b in bodies}) == 1
    listing = await (
        await client.get(f"/api/v1/bookings?hearing_id={hearing['id']}", headers=clerk)
    ).json()
    assert listing["total"] == 1


async def test_idempotency_key_returns_the_first_answer(client: Client) -> None:
    first = await make_hearing(client)
    second = await make_hearing(client, case_number="（2026）粤0111民初999号")
    clerk = await token(client, "clerk") | {"Idempotency-Key": "form-7f3a9c21"}
    a = await client.post("/api/v1/bookings", json={"hearing_id": first["id"]}, headers=clerk)
    b = await client.post("/api/v1/bookings", json={"hearing_id": first["id"]}, headers=clerk)
    assert (a.status, b.status) == (201, 200)
    assert (await a.json())["id"] == (await b.json())["id"]
    c = await client.post("/api/v1/bookings", json={"hearing_id": second["id"]}, headers=clerk)
    assert c.status == 422
    assert (await c.json())["errors"][0]["field"] == "body.idempotency_key"


async def test_every_booking_and_cancellation_is_audited(client: Client) -> None:
    hearing = await make_hearing(client)
    clerk = await token(client, "clerk")
    booking = await (
        await client.post("/api/v1/bookings", json={"hearing_id": hearing["id"]}, headers=clerk)
    ).json()
    for _ in range(2):  # cancelling twice is one cancellation
        resp = await client.post(
            f"/api/v1/bookings/{booking['id']}/cancel",
            json={"reason": "当事人申请延期"},
            headers=clerk,
        )
        assert resp.status == 200
        assert (await resp.json())["status"] == "cancelled"
    admin = await token(client, "admin")
    log = await (
        await client.get(
            f"/api/v1/audit?object_type=booking&object_id={booking['id']}", headers=admin
        )
    ).json()
    actions = [e["action"] for e in log["items"]]
    assert actions == ["booking.create", "booking.line", "booking.cancel"]
    assert log["items"][0]["actor"] == "clerk"
    assert log["items"][2]["after"]["cancel_reason"] == "当事人申请延期"
    assert (await client.get("/api/v1/audit", headers=clerk)).status == 403


async def test_unstreamable_hearings_are_refused(client: Client) -> None:
    clerk = await token(client, "clerk")
    private = await make_hearing(
        client, public=False, non_public_reason="涉及未成年人", case_number="（2026）粤0111刑初5号"
    )
    resp = await client.post("/api/v1/bookings", json={"hearing_id": private["id"]}, headers=clerk)
    assert resp.status == 422
    problem = await resp.json()
    assert problem["errors"][0]["field"] == "body.hearing_id"
    assert "not public by law" in problem["detail"]
    resp = await client.post("/api/v1/bookings", json={"hearing_id": 424242}, headers=clerk)
    assert resp.status == 404


async def test_validation_problems_name_the_field(client: Client) -> None:
    clerk = await token(client, "clerk")
    resp = await client.post(
        "/api/v1/hearings", json=hearing_body(case_number="（2026）粤0111民X1号"), headers=clerk
    )
    assert resp.status == 422
    problem = await resp.json()
    assert problem["errors"][0]["field"] == "body.case_number"
    assert "unknown code '民X'" in problem["errors"][0]["message"]
    resp = await client.post(
        "/api/v1/hearings", json=hearing_body(courtroom="room-99"), headers=clerk
    )
    assert (await resp.json())["errors"][0]["field"] == "body.courtroom"
    resp = await client.post(
        "/api/v1/hearings",
        data=b"{not json",
        headers={**clerk, "Content-Type": "application/json"},
    )
    assert resp.status == 400
    resp = await client.post("/api/v1/hearings", json=hearing_body(cause="a\x00b"), headers=clerk)
    assert resp.status == 422
    resp = await client.get("/api/v1/hearings?limit=0", headers=clerk)
    assert (await resp.json())["errors"][0]["field"] == "query.limit"


async def test_hearing_create_update_and_filters(client: Client) -> None:
    clerk = await token(client, "clerk")
    hearing = await make_hearing(client)
    assert hearing["case"] == {
        "year": 2026,
        "court_code": "粤0111",
        "type_code": "民初",
        "sequence": 1234,
    }
    assert hearing["procedure"] == "first_instance"
    assert hearing["start"].endswith("+08:00")  # shown in the court's time zone
    again = await client.post("/api/v1/hearings", json=hearing_body(), headers=clerk)
    assert again.status == 200  # same case and start: an update, not a duplicate
    resp = await client.patch(
        f"/api/v1/hearings/{hearing['id']}", json={"courtroom": "room-02"}, headers=clerk
    )
    assert resp.status == 200 and (await resp.json())["courtroom"] == "room-02"
    resp = await client.patch(
        f"/api/v1/hearings/{hearing['id']}", json={"procedure": "retrial"}, headers=clerk
    )
    assert resp.status == 422
    found = await (
        await client.get(
            f"/api/v1/hearings?courtroom=room-02&on={hearing['start'][:10]}", headers=clerk
        )
    ).json()
    assert [h["id"] for h in found["items"]] == [hearing["id"]]
    none = await (await client.get("/api/v1/hearings?courtroom=room-03", headers=clerk)).json()
    assert none == {"items": [], "total": 0}
    judge = await token(client, "judge")
    resp = await client.post("/api/v1/hearings", json=hearing_body(), headers=judge)
    assert resp.status == 403


async def test_patch_onto_another_hearings_key_is_a_conflict(client: Client) -> None:
    clerk = await token(client, "clerk")
    first = await make_hearing(client)
    later = future(days=8)
    second = await make_hearing(
        client, start=later.isoformat(), end=(later + timedelta(hours=1)).isoformat()
    )
    resp = await client.patch(  # same case number, moved onto the first session's start
        f"/api/v1/hearings/{second['id']}",
        json={"start": first["start"], "end": first["end"]},
        headers=clerk,
    )
    assert resp.status == 409
    assert f"hearing {first['id']} already has" in (await resp.json())["detail"]


async def test_lines_never_show_the_stream_key(client: Client) -> None:
    for role, sees_url in (("clerk", False), ("technician", True)):
        lines = await (await client.get("/api/v1/lines", headers=await token(client, role))).json()
        assert lines["total"] == 4
        for line in lines["items"]:
            assert "sample-key" not in line["stream_key"]
            assert "****" in line["stream_key"]
            assert (line["push_url"] is not None) is sees_url


async def test_wrong_password_and_expired_sessions(client: Client) -> None:
    resp = await client.post(
        "/api/v1/auth/token", json={"username": "clerk", "password": "wrong-password"}
    )
    assert resp.status == 401
    assert (await resp.json())["detail"] == "wrong username or password"
    resp = await client.post("/api/v1/auth/token", json={"username": "nobody", "password": "x"})
    assert resp.status == 401
    resp = await client.get("/api/v1/me", headers={"Authorization": "Bearer made-up"})
    assert resp.status == 401
    headers = await token(client, "clerk")
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status == 204
    assert (await client.get("/api/v1/me", headers=headers)).status == 401


async def test_cookie_session_needs_csrf_header_for_changes(client: Client) -> None:
    hearing = await make_hearing(client)
    resp = await client.post(
        "/api/v1/auth/session", json={"username": "clerk", "password": PASSWORD}
    )
    assert resp.status == 200
    csrf = (await resp.json())["csrf_token"]
    assert (
        "HttpOnly" in resp.headers["Set-Cookie"] and "SameSite=Strict" in resp.headers["Set-Cookie"]
    )
    assert (await client.get("/api/v1/me")).status == 200
    resp = await client.post("/api/v1/bookings", json={"hearing_id": hearing["id"]})
    assert resp.status == 403
    resp = await client.post(
        "/api/v1/bookings", json={"hearing_id": hearing["id"]}, headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 201


async def test_past_and_cancelled_hearings_cannot_be_booked(client: Client) -> None:
    clerk = await token(client, "clerk")
    start = future(days=-3)
    past = await make_hearing(
        client, start=start.isoformat(), end=(start + timedelta(hours=1)).isoformat()
    )
    resp = await client.post("/api/v1/bookings", json={"hearing_id": past["id"]}, headers=clerk)
    assert resp.status == 422 and "already over" in (await resp.json())["detail"]
    hearing = await make_hearing(client, case_number="（2026）粤0111民初77号")
    await client.patch(
        f"/api/v1/hearings/{hearing['id']}", json={"status": "cancelled"}, headers=clerk
    )
    resp = await client.post("/api/v1/bookings", json={"hearing_id": hearing["id"]}, headers=clerk)
    assert resp.status == 422 and "cancelled" in (await resp.json())["detail"]


async def test_openapi_document_is_valid_and_complete(client: Client) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert {"/api/v1/hearings", "/api/v1/bookings", "/api/v1/auth/token"} <= set(doc["paths"])
    booking = doc["paths"]["/api/v1/bookings"]["post"]
    assert booking["responses"]["403"]["content"]["application/problem+json"]
    schema_ref = booking["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]["required"] == ["hearing_id"]


async def test_unknown_route_is_a_problem(client: Client) -> None:
    resp = await client.get("/api/v1/nothing-here")
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"


async def test_booking_answers_at_once_with_a_line_or_the_reason(client: Client) -> None:
    clerk = await token(client, "clerk")
    start = future(days=10, hour=9)
    answers = []
    for k in range(5):  # the sample court has four lines
        hearing = await make_hearing(
            client,
            case_number=f"（2026）粤0111民初{500 + k}号",
            courtroom=f"room-0{k + 1}",
            start=(start + timedelta(minutes=10 * k)).isoformat(),
            end=(start + timedelta(hours=2)).isoformat(),
        )
        resp = await client.post(
            "/api/v1/bookings", json={"hearing_id": hearing["id"]}, headers=clerk
        )
        assert resp.status == 201, await resp.text()
        answers.append(await resp.json())
    assert [a["line_status"] for a in answers] == ["assigned"] * 4 + ["no_line"]
    assert sorted(a["line"] for a in answers[:4]) == ["L1", "L2", "L3", "L4"]
    last = answers[4]
    assert last["line"] is None
    assert "（2026）粤0111民初500号" in last["line_reason"]["zh"]
    assert last["line_reason"]["en"].startswith("no line free ")
    assert "L4 carries （2026）粤0111民初503号 (priority 3)" in last["line_reason"]["en"]
    # ...and what would work: the first line free for its whole length, after the others'
    # hearings and their 5-minute post-roll, and its own 5-minute pre-roll.
    moved = (start + timedelta(hours=2, minutes=10)).astimezone(ZoneInfo("Asia/Shanghai"))
    assert last["line_reason"]["en"].endswith(
        f"; would work: L1 is free from {moved:%H:%M} if the hearing moves"
    ), last["line_reason"]
    assert f"可行方案：改到 {moved:%H:%M} 起，L1 空闲" in last["line_reason"]["zh"]
    # A cancellation frees a line for the hearing that waited, and says so at once.
    resp = await client.post(
        f"/api/v1/bookings/{answers[1]['id']}/cancel", json={"reason": "撤诉"}, headers=clerk
    )
    assert (await resp.json())["line_status"] == "released"
    waited = await (await client.get(f"/api/v1/bookings/{last['id']}", headers=clerk)).json()
    assert (waited["line_status"], waited["line"]) == ("assigned", answers[1]["line"])
    assert waited["line_reason"] is None


async def test_a_path_id_is_ascii_digits_within_the_database_s_range(client: Client) -> None:
    """'٣' matches the route's \\d and int() reads it as 3: it names no object here."""
    hearing = await make_hearing(client)
    headers = await token(client, "clerk")
    assert (await client.get(f"/api/v1/hearings/{hearing['id']}", headers=headers)).status == 200
    arabic = quote("".join(chr(0x660 + int(c)) for c in str(hearing["id"])))  # the same id
    for bad in (arabic, str(2**31)):
        resp = await client.get(f"/api/v1/hearings/{bad}", headers=headers)
        assert resp.status == 404, bad
