"""Not-streamed approvals through the API: every step's role check, both levels, the
fail-closed line answer, and the record each step leaves."""

from __future__ import annotations

from typing import Any

import pytest

from streamd.auth import create_user
from streamd.store import Database
from tests.conftest import PASSWORD, Client, make_hearing, token

pytestmark = pytest.mark.db


async def post(client: Client, path: str, who: str, body: dict[str, Any] | None = None) -> Any:
    resp = await client.post(f"/api/v1{path}", json=body or {}, headers=await token(client, who))
    return resp.status, await resp.json()


async def get(client: Client, path: str, who: str = "admin") -> Any:
    resp = await client.get(f"/api/v1{path}", headers=await token(client, who))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def booked(client: Client, **hearing: Any) -> tuple[int, int]:
    h = await make_hearing(client, **hearing)
    status, booking = await post(client, "/bookings", "clerk", {"hearing_id": h["id"]})
    assert status == 201, booking
    assert booking["line_status"] == "assigned"
    return h["id"], booking["id"]


async def line_status(client: Client, booking_id: int) -> str:
    return str((await get(client, f"/bookings/{booking_id}"))["line_status"])


async def test_court_level_application_runs_its_three_steps(client: Client) -> None:
    hearing_id, booking_id = await booked(client)
    reason = {"flag": "other_unsuitable", "reason": "当事人系公众人物，直播可能引发舆情"}
    for who in ("technician", "admin", "department_head", "court_leader"):
        status, problem = await post(client, f"/hearings/{hearing_id}/not-streamed", who, reason)
        assert status == 403, (who, problem)
    status, record = await post(client, f"/hearings/{hearing_id}/not-streamed", "judge", reason)
    assert status == 201
    assert (record["level"], record["level_zh"], record["status"]) == ("court", "院级", "pending")
    # A double click applies once.
    status, again = await post(client, f"/hearings/{hearing_id}/not-streamed", "judge", reason)
    assert (status, again["id"]) == (200, record["id"])

    # Fail closed: off air while undecided; the booking loses its line at once.
    decision = await get(client, f"/hearings/{hearing_id}/decision")
    assert decision["decision"] == "needs_approval"
    assert await line_status(client, booking_id) == "excluded"

    rid = record["id"]
    steps = ("review", "approve", "reject")
    for who in ("clerk", "judge", "technician", "admin"):
        for step in steps:
            status, _ = await post(client, f"/approvals/{rid}/{step}", who, {"comment": "x"})
            assert status == 403, (who, step)
    status, problem = await post(client, f"/approvals/{rid}/approve", "department_head")
    assert status == 409 and "review" in problem["detail"]
    status, problem = await post(client, f"/approvals/{rid}/review", "court_leader")
    assert status == 403

    queue = await get(client, "/approvals/queue", "department_head")
    assert [r["id"] for r in queue["items"]] == [rid]
    status, record = await post(
        client, f"/approvals/{rid}/review", "department_head", {"comment": "同意报院领导审批"}
    )
    assert (status, record["status"]) == (200, "reviewed")
    assert (await get(client, "/approvals/queue", "department_head"))["items"] == []
    assert [r["id"] for r in (await get(client, "/approvals/queue", "court_leader"))["items"]] == [
        rid
    ]

    # A department head cannot give court-level approval.
    status, problem = await post(client, f"/approvals/{rid}/approve", "department_head")
    assert status == 403 and "court_leader" in problem["detail"]
    status, record = await post(
        client, f"/approvals/{rid}/approve", "court_leader", {"comment": "同意"}
    )
    assert (status, record["status"], record["decided_by"]) == (200, "approved", "court_leader")
    status, again = await post(client, f"/approvals/{rid}/approve", "court_leader")
    assert (status, len(again["steps"])) == (200, 3)  # approving twice is one approval
    assert [(s["action"], s["actor"], s["comment"]) for s in record["steps"]] == [
        ("apply", "judge", None),
        ("review", "department_head", "同意报院领导审批"),
        ("approve", "court_leader", "同意"),
    ]
    status, _ = await post(client, f"/approvals/{rid}/reject", "court_leader", {"comment": "改"})
    assert status == 409  # decided is decided

    decision = await get(client, f"/hearings/{hearing_id}/decision")
    assert (decision["decision"], decision["approval_level"]) == ("excluded", "court")
    assert await line_status(client, booking_id) == "excluded"
    audit = await get(client, f"/audit?object_type=approval&object_id={rid}")
    assert [e["action"] for e in audit["items"]] == [
        "approval.apply",
        "approval.review",
        "approval.approve",
    ]


async def test_rejection_puts_the_hearing_back_on_air(client: Client) -> None:
    hearing_id, booking_id = await booked(client)
    _, record = await post(
        client,
        f"/hearings/{hearing_id}/not-streamed",
        "clerk",
        {"flag": "other_unsuitable", "reason": "庭审秩序可能受影响"},
    )
    rid = record["id"]
    status, problem = await post(client, f"/approvals/{rid}/reject", "department_head")
    assert status == 422 and problem["errors"][0]["field"] == "body.comment"
    status, _ = await post(client, f"/approvals/{rid}/review", "department_head")
    assert status == 200
    status, _ = await post(client, f"/approvals/{rid}/reject", "department_head", {"comment": "x"})
    assert status == 403  # after review, only the court leader decides
    status, record = await post(
        client, f"/approvals/{rid}/reject", "court_leader", {"comment": "理由不充分，应当直播"}
    )
    assert (status, record["status"]) == (200, "rejected")
    decision = await get(client, f"/hearings/{hearing_id}/decision")
    assert decision["decision"] == "stream"
    assert decision["rule"] == "flag.other_unsuitable.rejected"
    assert await line_status(client, booking_id) == "assigned"
    # A new application may follow a rejected one.
    status, second = await post(
        client,
        f"/hearings/{hearing_id}/not-streamed",
        "judge",
        {"flag": "other_unsuitable", "reason": "新情况"},
    )
    assert status == 201 and second["id"] != rid


async def test_listed_category_is_decided_at_department_level(
    client: Client, database: Database
) -> None:
    hearing_id, booking_id = await booked(
        client, case_number="（2026）粤0111刑初77号", cause="故意杀人罪", department="civil-1"
    )
    _, record = await post(
        client,
        f"/hearings/{hearing_id}/not-streamed",
        "judge",
        {"flag": "cruel_or_disturbing", "reason": "作案手段特别残忍"},
    )
    rid = record["id"]
    assert (record["level"], record["level_zh"]) == ("department", "庭级")
    assert await line_status(client, booking_id) == "excluded"  # off air at once
    status, problem = await post(client, f"/approvals/{rid}/review", "department_head")
    assert status == 409
    status, _ = await post(client, f"/approvals/{rid}/approve", "court_leader")
    assert status == 403  # the department level is the department head's

    database.call(
        create_user,
        username="other_head",
        password=PASSWORD,
        roles=["department_head"],
        department="criminal",
    )
    status, problem = await post(client, f"/approvals/{rid}/approve", "other_head")
    assert status == 403 and "another department" in problem["detail"]
    assert (await get(client, "/approvals/queue", "other_head"))["items"] == []

    status, record = await post(
        client, f"/approvals/{rid}/reject", "department_head", {"comment": "不属于残忍情形"}
    )
    assert (status, record["status"]) == (200, "rejected")
    assert await line_status(client, booking_id) == "assigned"


async def test_excluded_cause_opens_its_record_which_cannot_be_rejected(client: Client) -> None:
    hearing = await make_hearing(client, case_number="（2026）粤0111民初555号", cause="离婚纠纷")
    status, problem = await post(client, "/bookings", "clerk", {"hearing_id": hearing["id"]})
    assert status == 422 and "cause.divorce" in problem["detail"]
    records = await get(client, f"/approvals?hearing_id={hearing['id']}")
    assert [(r["rule"], r["status"], r["level"]) for r in records["items"]] == [
        ("cause.divorce", "pending", "department")
    ]
    rid = records["items"][0]["id"]
    assert rid in [
        r["id"] for r in (await get(client, "/approvals/queue", "department_head"))["items"]
    ]
    status, problem = await post(
        client, f"/approvals/{rid}/reject", "department_head", {"comment": "x"}
    )
    assert status == 409
    status, record = await post(client, f"/approvals/{rid}/approve", "department_head")
    assert (status, record["status"]) == (200, "approved")


async def test_bad_applications_are_refused_precisely(client: Client) -> None:
    private = await make_hearing(
        client, public=False, non_public_reason="涉及国家秘密", case_number="（2026）粤0111刑初9号"
    )
    status, problem = await post(
        client,
        f"/hearings/{private['id']}/not-streamed",
        "judge",
        {"flag": "sensitive", "reason": "x理由"},
    )
    assert status == 409 and "not held in public" in problem["detail"]
    public = await make_hearing(client)
    status, problem = await post(
        client,
        f"/hearings/{public['id']}/not-streamed",
        "judge",
        {"flag": "gory", "reason": "理由"},
    )
    assert status == 422 and problem["errors"][0]["field"] == "body.flag"
    status, _ = await post(
        client, "/hearings/999999/not-streamed", "judge", {"flag": "sensitive", "reason": "理由"}
    )
    assert status == 404
    status, _ = await post(client, "/approvals/999999/approve", "court_leader")
    assert status == 404
    assert (await get(client, "/approvals"))["items"] == []  # nothing half-written
