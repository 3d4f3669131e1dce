"""Who may touch what: `streamd.authz.decide` as pure rules, and every route of the server
called by every role from its own and from another department, against the table below.

A route added without a row here fails `test_every_route_has_a_row`.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from streamd import authz
from streamd.auth import create_user, hasher_for
from streamd.authz import Act, Actor, Target, decide
from streamd.config import Settings
from streamd.domain import Role
from streamd.lifecycle import StreamState
from streamd.store import Database
from streamd.web import create_app
from tests.conftest import PASSWORD, Client, MakeClient, hearing_body, token
from tests.court_support import Court
from tests.test_courts import COURT_B, add_court_b
from tests.test_pages import login as login_page

R = Role
OWN, OTHER = 1, 2

# ---- the pure decision ---------------------------------------------------------------------


def actor(*roles: Role, dept: int | None = OWN) -> Actor:
    return Actor(username="u", roles=frozenset(roles), department_id=dept)


def test_a_clerk_acts_for_their_own_department_only() -> None:
    mine, theirs = Target(frozenset({OWN})), Target(frozenset({OTHER}))
    for act in (Act.HEARING_WRITE, Act.BOOKING_WRITE, Act.STREAM_RUN, Act.APPROVAL_APPLY):
        assert decide(act, actor(R.CLERK), mine).allowed
        refused = decide(act, actor(R.CLERK), theirs)
        assert (refused.allowed, refused.status) == (False, 403)
    # A hearing moved from their department to another reaches both: refused.
    assert not decide(Act.HEARING_WRITE, actor(R.CLERK), Target(frozenset({OWN, OTHER}))).allowed
    # No department on the account: every department-scoped act is refused (fail closed).
    assert not decide(Act.BOOKING_WRITE, actor(R.CLERK, dept=None), mine).allowed


def test_a_judge_flags_only_their_department_and_never_aborts() -> None:
    assert decide(Act.APPROVAL_APPLY, actor(R.JUDGE), Target(frozenset({OWN}))).allowed
    assert not decide(Act.APPROVAL_APPLY, actor(R.JUDGE), Target(frozenset({OTHER}))).allowed
    live = Target(frozenset({OWN}), StreamState.LIVE)
    assert decide(Act.STREAM_PAUSE, actor(R.JUDGE), live).allowed
    assert decide(Act.STREAM_ABORT, actor(R.JUDGE), live).status == 403


def test_abort_needs_a_started_stream_and_reopen_an_aborted_one() -> None:
    for state in (None, StreamState.BOOKED):
        booked = Target(frozenset({OWN}), state)
        for who in (actor(R.CLERK), actor(R.TECHNICIAN), actor(R.ADMIN)):
            assert decide(Act.STREAM_ABORT, who, booked).status == 409
    for state in (StreamState.PREPARING, StreamState.LIVE, StreamState.OFF_AIR):
        started = Target(frozenset({OWN}), state)
        assert decide(Act.STREAM_ABORT, actor(R.CLERK), started).allowed
        assert decide(Act.STREAM_ABORT, actor(R.TECHNICIAN, dept=OTHER), started).allowed
        assert not decide(Act.STREAM_ABORT, actor(R.CLERK, dept=OTHER), started).allowed
    aborted = Target(frozenset({OWN}), StreamState.ABORTED)
    assert decide(Act.STREAM_REOPEN, actor(R.ADMIN, dept=None), aborted).allowed
    assert decide(Act.STREAM_REOPEN, actor(R.CLERK), aborted).status == 403
    live = Target(frozenset({OWN}), StreamState.LIVE)
    assert decide(Act.STREAM_REOPEN, actor(R.ADMIN), live).status == 409


roles_st = st.frozensets(st.sampled_from(list(Role)), min_size=1)
dept_st = st.none() | st.sampled_from([OWN, OTHER])
target_st = st.builds(
    Target,
    departments=st.frozensets(st.sampled_from([OWN, OTHER]), max_size=2),
    stream_state=st.none() | st.sampled_from(list(StreamState)),
)


@given(st.sampled_from(list(Act)), roles_st, dept_st, target_st)
def test_decisions_are_monotone_and_scoped(
    act: Act, roles: frozenset[Role], dept: int | None, target: Target
) -> None:
    d = decide(act, Actor("u", roles, dept), target)
    if act in authz.OPEN_ACTS:
        assert d.allowed
        return
    if not roles & authz.roles_for(act):
        assert (d.allowed, d.status) == (False, 403)
    if d.allowed and not roles & authz.COURT_WIDE[act] and target.departments:
        assert target.departments == {dept}  # scoped roles never reach another department
    # A court-wide role's answer never depends on the account's department.
    if roles & authz.COURT_WIDE[act]:
        for other in (None, OWN, OTHER):
            assert decide(act, Actor("u", roles, other), target) == d


# ---- every route × every role × own/other department -------------------------------------

ANY, IN = "any", "own"  # allowed from any department / from the object's department only
EVERYONE = {r: ANY for r in Role}


def only(**roles: str) -> dict[Role, str]:
    return {Role(k): v for k, v in roles.items()}


CLERK_OWN = only(clerk=IN, admin=ANY)
PAUSERS = only(clerk=IN, judge=IN, technician=ANY, admin=ANY)
OPERATORS = only(technician=ANY, admin=ANY)
DECIDERS = only(department_head=IN, court_leader=ANY)
RECORD_READERS = only(clerk=IN, judge=IN, department_head=IN, court_leader=ANY, admin=ANY)
REASON = {"reason": "测试 / test"}
H = "/api/v1/hearings/{hearing_id}"
S = H + "/stream"
# (method, path) -> (who may, body). None: no authentication at all.
TABLE: dict[tuple[str, str], tuple[dict[Role, str] | None, Any]] = {
    ("POST", "/api/v1/auth/token"): (None, {"username": "x", "password": "y"}),
    ("POST", "/api/v1/auth/session"): (None, {"username": "x", "password": "y"}),
    ("POST", "/api/v1/auth/logout"): (EVERYONE, None),
    ("GET", "/api/v1/me"): (EVERYONE, None),
    ("GET", "/api/v1/departments"): (EVERYONE, None),
    ("GET", "/api/v1/courtrooms"): (EVERYONE, None),
    ("GET", "/api/v1/lines"): (EVERYONE, None),
    ("GET", "/api/v1/views/thumbnail.jpg"): (OPERATORS, None),
    ("GET", "/api/v1/hearings"): (EVERYONE, None),
    ("GET", H): (EVERYONE, None),
    ("POST", "/api/v1/hearings"): (CLERK_OWN, "hearing"),
    ("PATCH", H): (CLERK_OWN, {"public": True}),
    ("GET", "/api/v1/bookings"): (EVERYONE, None),
    ("POST", "/api/v1/bookings"): (CLERK_OWN, "booking"),
    ("GET", "/api/v1/bookings/{booking_id}"): (EVERYONE, None),
    ("POST", "/api/v1/bookings/{booking_id}/cancel"): (CLERK_OWN, {}),
    ("GET", "/api/v1/audit"): (only(admin=ANY), None),
    ("GET", H + "/decision"): (EVERYONE, None),
    ("POST", H + "/not-streamed"): (
        only(judge=IN, clerk=IN),
        {"flag": "other_unsuitable", "reason": "测试"},
    ),
    ("POST", "/api/v1/approvals/{approval_id}/review"): (DECIDERS, {"comment": "ok"}),
    # The record is court level (other_unsuitable): only the court leader approves it.
    ("POST", "/api/v1/approvals/{approval_id}/approve"): (
        only(court_leader=ANY),
        {"comment": "ok"},
    ),
    ("POST", "/api/v1/approvals/{approval_id}/reject"): (DECIDERS, {"comment": "ok"}),
    ("GET", "/api/v1/approvals/queue"): (only(department_head=ANY, court_leader=ANY), None),
    ("GET", "/api/v1/approvals"): (EVERYONE, None),
    ("GET", "/api/v1/approvals/{approval_id}"): (EVERYONE, None),
    ("GET", "/api/v1/lines/{line_id}/outages"): (EVERYONE, None),
    ("POST", "/api/v1/lines/{line_id}/outages"): (OPERATORS, "outage"),
    ("POST", "/api/v1/outages/{outage_id}/restore"): (OPERATORS, {}),
    ("GET", "/api/v1/reports/monthly"): (
        only(department_head=ANY, court_leader=ANY, admin=ANY),
        None,
    ),
    ("GET", "/api/v1/reports/rollup"): (only(city_office=ANY), None),
    ("POST", S + "/prepare"): (CLERK_OWN, {}),
    ("POST", S + "/discipline-announced"): (CLERK_OWN, {}),
    ("POST", S + "/pause"): (PAUSERS, REASON),
    ("POST", S + "/compose"): (CLERK_OWN, {"pin": "bench"}),
    ("POST", S + "/resume"): (CLERK_OWN, {}),
    ("POST", S + "/end-stream"): (PAUSERS, REASON),
    ("POST", S + "/adjourned"): (CLERK_OWN, {}),
    ("POST", S + "/abort"): (only(clerk=IN, technician=ANY, admin=ANY), REASON),
    ("POST", S + "/reopen"): (only(admin=ANY), REASON),
    ("POST", S + "/restart-publisher"): (OPERATORS, None),
    ("POST", S + "/interruptions"): (CLERK_OWN, {"kind": "recess"}),
    ("POST", S + "/interruptions/end"): (CLERK_OWN, {}),
    ("POST", S + "/transcript"): (CLERK_OWN, {"speaker": "审判长", "text": "现在开庭。"}),
    ("GET", S): (EVERYONE, None),
    ("GET", S + "/case-file"): (EVERYONE, None),
    ("GET", "/api/v1/agents"): (EVERYONE, None),
    ("GET", "/api/v1/alerts"): (EVERYONE, None),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): (OPERATORS, {}),
    ("GET", "/api/v1/feed"): (EVERYONE, None),
    ("GET", "/api/v1/hearings/{hearing_id}/coverage"): (EVERYONE, None),
    ("GET", "/api/v1/hearings/{hearing_id}/coverage.svg"): (EVERYONE, None),
    ("POST", "/api/v1/users/{user_id}/unlock"): (only(admin=ANY), {}),
    # A record's content: its department's staff, the court leader and the administrator;
    # a technician sees its status elsewhere, never the content (streamd.authz).
    ("GET", H + "/record"): (RECORD_READERS, None),
    ("GET", H + "/record/index.m3u8"): (RECORD_READERS, None),
    ("GET", H + "/record/video.m3u8"): (RECORD_READERS, None),
    ("GET", H + "/record/audio.m3u8"): (RECORD_READERS, None),
    ("GET", H + "/record/video/{file_id}.ts"): (RECORD_READERS, None),
    ("GET", H + "/record/audio/{file_id}.aac"): (RECORD_READERS, None),
    ("GET", H + "/record/transcript.docx"): (RECORD_READERS, None),
    ("POST", H + "/record/corrections"): (
        only(clerk=IN),
        {"session": "20261202T090000Z", "seq": 1, "base_version": 1, "text": "更正"},
    ),
    ("GET", H + "/record/access"): (RECORD_READERS, None),
    # Party grants: the hearing's own judges and clerks (SPC 2017 Art. 10).
    ("POST", H + "/record/grants"): (only(clerk=IN, judge=IN), {"party_name": "张三", "days": 7}),
    ("GET", H + "/record/grants"): (only(clerk=IN, judge=IN), None),
    ("POST", H + "/record/grants/{grant_id}/revoke"): (only(clerk=IN, judge=IN), None),
}
# Routes outside the JSON API: no login, or the pages' own session check (tests/test_pages.py).
UNAUTHENTICATED = {
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/public/announcements"),
    ("GET", "/public/announcements.json"),
    ("GET", "/public/announcements.ics"),
    ("GET", "/public/{court}/announcements"),
    ("GET", "/public/{court}/announcements.json"),
    ("GET", "/public/{court}/announcements.ics"),
    ("GET", "/public/watch/{hearing_id}"),
    ("GET", "/public/watch/{hearing_id}.json"),
    ("GET", "/hls/{room}/{name}"),
    ("GET", "/"),
    ("GET", "/login"),
    ("GET", "/static/"),
    # A party's one-time code and the one-hearing session it opens (tests/test_record_access.py).
    ("GET", "/record/access"),
    ("POST", "/record/access"),
    ("GET", "/party/record"),
    ("GET", "/party/record/index.m3u8"),
    ("GET", "/party/record/{kind}.m3u8"),
    ("GET", "/party/record/{kind}/{file_id}.{ext}"),
    ("GET", "/party/record/transcript.docx"),
    ("GET", "/party/record/audio.aac"),
}
# Signed with a courtroom's own key, never a user's token: a room writes only its own
# recordings (tests/test_archive.py refuses another room's key and an unsigned upload).
ROOM_KEY = {
    ("PUT", "/archive/v1/files/{hearing_id}/{session}/{path}"),
}
PAGES = {
    ("GET", "/clerk"): only(clerk=ANY, judge=ANY, admin=ANY),
    ("GET", "/console/{hearing_id}"): only(clerk=ANY, judge=ANY, technician=ANY, admin=ANY),
    ("GET", "/approvals"): only(department_head=ANY, court_leader=ANY, admin=ANY),
    ("GET", "/wall"): only(technician=ANY, admin=ANY),
    ("GET", "/admin"): only(admin=ANY, court_leader=ANY),
    ("GET", "/city"): only(city_office=ANY),
    # and, for the hearing's department only, the staff among these (tests/test_record.py)
    ("GET", "/record/{hearing_id}"): only(
        clerk=ANY, judge=ANY, department_head=ANY, court_leader=ANY, admin=ANY
    ),
}


def _routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path") or info.get("prefix", "")
        found.add((route.method, str(path) + ("/" if "prefix" in info else "")))
    return found


@pytest.fixture
def app(settings: Settings, database: Database, users: dict[str, str]) -> web.Application:
    for role in Role:
        for dept, suffix in (("civil-1", "own"), ("civil-2", "other")):
            database.call(
                create_user,
                username=f"{role.value}-{suffix}",
                password=PASSWORD,
                roles=[role],
                department=dept,
                password_hasher=hasher_for(settings),
            )
    return create_app(settings=settings, db=database)


def test_every_route_has_a_row(app: web.Application) -> None:
    known = set(TABLE) | UNAUTHENTICATED | ROOM_KEY | set(PAGES)
    missing = _routes(app) - known
    assert not missing, f"routes without a row in tests/test_authz.py: {sorted(missing)}"
    assert not (known - _routes(app)), "rows for routes that do not exist"


@pytest.mark.db
async def test_every_route_answers_every_role_from_either_department(
    aiohttp_client: MakeClient, app: web.Application, database: Database
) -> None:
    client = await aiohttp_client(app)
    ids = await _objects(client)
    ids["user_id"] = 1
    bodies = {
        "hearing": hearing_body(),
        "booking": {"hearing_id": ids["hearing_id"]},
        "outage": {"reason": "测试"},
    }
    tokens = {}
    for role in Role:
        for suffix in ("own", "other"):
            tokens[f"{role.value}-{suffix}"] = await token(client, f"{role.value}-{suffix}")
    wrong: list[str] = []
    for (method, pattern), (who, body) in TABLE.items():
        path = pattern.format(**ids)
        payload = bodies.get(body, body) if isinstance(body, str) else body
        if who is None:
            resp = await client.request(method, path, json=payload)
            if resp.status == 403:
                wrong.append(f"{method} {pattern} anonymous: 403")
            continue
        anon = await client.request(method, path, json=payload)
        if anon.status != 401:
            wrong.append(f"{method} {pattern} anonymous: {anon.status}, not 401")
        for role in Role:
            for suffix in ("own", "other"):
                rule = who.get(role)
                allowed = rule == ANY or (rule == IN and suffix == "own")
                resp = await client.request(
                    method, path, json=payload, headers=tokens[f"{role.value}-{suffix}"]
                )
                refused = resp.status in (401, 403)
                if allowed == refused:
                    detail = (await resp.text())[:160]
                    wrong.append(
                        f"{method} {pattern} {role.value}-{suffix}: {resp.status} {detail}"
                    )
                if method == "POST" and pattern.endswith("/logout"):
                    tokens[f"{role.value}-{suffix}"] = await token(client, f"{role.value}-{suffix}")
    assert not wrong, "\n".join(wrong)


async def _objects(client: Client) -> dict[str, int]:
    """A civil-1 hearing, its booking, an open approval, a line and an outage."""
    clerk, tech = await token(client, "clerk"), await token(client, "technician")
    resp = await client.post("/api/v1/hearings", json=hearing_body(), headers=clerk)
    assert resp.status == 201, await resp.text()
    hearing_id = (await resp.json())["id"]
    resp = await client.post("/api/v1/bookings", json={"hearing_id": hearing_id}, headers=clerk)
    assert resp.status == 201, await resp.text()
    booking_id = (await resp.json())["id"]
    resp = await client.post(
        f"/api/v1/hearings/{hearing_id}/not-streamed",
        json={"flag": "other_unsuitable", "reason": "测试"},
        headers=await token(client, "judge"),
    )
    assert resp.status == 201, await resp.text()
    approval_id = (await resp.json())["id"]
    resp = await client.get("/api/v1/lines", headers=tech)
    line_id = (await resp.json())["items"][0]["id"]
    resp = await client.post(
        f"/api/v1/lines/{line_id}/outages", json={"reason": "测试"}, headers=tech
    )
    assert resp.status == 201, await resp.text()
    return {
        "hearing_id": hearing_id,
        "booking_id": booking_id,
        "approval_id": approval_id,
        "line_id": line_id,
        "outage_id": (await resp.json())["id"],
        "alert_id": 1,
        "file_id": 1,
        "grant_id": 1,
    }


# ---- the finding, as the security review reproduced it ------------------------------------


@pytest.mark.db
async def test_a_clerk_cannot_book_cancel_or_change_another_departments_hearing(
    client: Client,
) -> None:
    other = hearing_body(department="civil-2", case_number="（2026）粤0111民初77号")
    resp = await client.post(
        "/api/v1/hearings", json=other, headers=await token(client, "clerk-civil-2")
    )
    assert resp.status == 201
    hid = (await resp.json())["id"]
    civil_1 = await token(client, "clerk")
    resp = await client.post("/api/v1/bookings", json={"hearing_id": hid}, headers=civil_1)
    assert resp.status == 403
    for patch in ({"status": "cancelled"}, {"public": False, "non_public_reason": "x"}):
        resp = await client.patch(f"/api/v1/hearings/{hid}", json=patch, headers=civil_1)
        assert resp.status == 403
    # Nor move one of their own into another department, nor overwrite theirs by upsert.
    resp = await client.post("/api/v1/hearings", json=other, headers=civil_1)
    assert resp.status == 403
    resp = await client.post(
        "/api/v1/bookings", json={"hearing_id": hid}, headers=await token(client, "clerk-civil-2")
    )
    assert resp.status == 201
    booking = (await resp.json())["id"]
    resp = await client.post(f"/api/v1/bookings/{booking}/cancel", json={}, headers=civil_1)
    assert resp.status == 403
    resp = await client.post(
        f"/api/v1/hearings/{hid}/not-streamed",
        json={"flag": "sensitive", "reason": "涉及敏感问题"},
        headers=await token(client, "judge"),
    )
    assert resp.status == 403  # the civil-1 judge cannot take civil-2's hearing off air


@pytest.mark.db
@pytest.mark.broker
async def test_abort_only_once_started_and_an_admin_reopens_it(court_: Court) -> None:
    async with court_.agent():
        hearing = await court_.hearing(minutes=60 * 24 * 5)  # five days ahead
        for who in ("clerk", "technician", "admin"):
            status, out = await court_.press(hearing, "abort", who, reason="误操作")
            assert status == 409 and "started" in out["detail"], out
        status, out = await court_.press(hearing, "prepare")
        assert status == 200 and out["state"] in ("preparing", "ready"), out
        await court_.until_state(hearing, "ready")
        status, out = await court_.press(hearing, "abort", "technician", reason="设备故障")
        assert (status, out["state"]) == (200, "aborted"), out
        status, out = await court_.press(hearing, "prepare")
        assert status == 409
        status, out = await court_.press(hearing, "reopen", "clerk", reason="重新开始")
        assert status == 403
        status, out = await court_.press(hearing, "reopen", "admin", reason="误中止，重新录制")
        assert (status, out["state"]) == (200, "booked"), out
        status, out = await court_.press(hearing, "prepare")
        assert status == 200 and out["state"] in ("preparing", "ready"), out  # recordable again
        await court_.until_state(hearing, "ready")
    view = await court_.stream(hearing)
    reopen = next(t for t in view["transitions"] if t["action"] == "reopen")
    assert (reopen["actor"], reopen["reason"]) == ("admin", "误中止，重新录制")
    resp = await court_.client.get(
        "/api/v1/audit?object_type=stream&limit=100", headers=await court_.auth("admin")
    )
    assert "stream.reopen" in {e["action"] for e in (await resp.json())["items"]}


# ---- another court: every route, every role ------------------------------------------------

COURT_SCOPED = ("{hearing_id}", "{booking_id}", "{approval_id}", "{line_id}", "{user_id}")


async def test_every_route_answers_another_courts_object_as_a_missing_one(
    aiohttp_client: MakeClient, app: web.Application, database: Database, settings: Settings
) -> None:
    """Court B's accounts, whatever their role, name court A's objects on every route that
    takes one: each answer is exactly the one an id that exists nowhere gets (404 where the
    role may use the route, the route's own 403 where it may not), never a success."""
    client = await aiohttp_client(app)
    ids = await _objects(client)
    ids["user_id"] = 1
    missing = {k: 987654 for k in ids}
    add_court_b(database, settings)
    for role in Role:
        database.call(
            create_user,
            username=f"{role.value}-b",
            password=PASSWORD,
            roles=[role],
            department="civil-1",
            court=COURT_B,
            password_hasher=hasher_for(settings),
        )
    tokens = {role: await token(client, f"{role.value}-b") for role in Role}
    bodies = {
        "hearing": hearing_body(),
        "booking": {"hearing_id": ids["hearing_id"]},
        "outage": {"reason": "测试"},
    }
    routes = {k: v[1] for k, v in TABLE.items() if v[0] is not None}
    wrong = []
    not_found = 0
    for (method, pattern), body in routes.items():
        if not any(p in pattern for p in COURT_SCOPED):
            continue
        payload = bodies.get(body, body) if isinstance(body, str) else body
        if isinstance(payload, dict) and "hearing_id" in payload:
            payload_missing = payload | {"hearing_id": missing["hearing_id"]}
        else:
            payload_missing = payload
        for role, headers in tokens.items():
            if method == "GET" and role in authz.READS_EVERY_COURT:
                continue  # the city office reads every court (tests/test_rollup.py)
            theirs = await client.request(
                method, pattern.format(**ids), json=payload, headers=headers
            )
            nowhere = await client.request(
                method, pattern.format(**missing), json=payload_missing, headers=headers
            )
            not_found += theirs.status == 404
            if theirs.status != nowhere.status or theirs.status < 400:
                wrong.append(
                    f"{method} {pattern} {role.value}: {theirs.status}, "
                    f"a missing id {nowhere.status}"
                )
    for _, pattern in PAGES:
        if not any(p in pattern for p in COURT_SCOPED):
            continue
        for role in Role:
            await login_page(client, f"{role.value}-b")
            theirs = await client.get(pattern.format(**ids), allow_redirects=False)
            nowhere = await client.get(pattern.format(**missing), allow_redirects=False)
            not_found += theirs.status == 404
            if theirs.status != nowhere.status or theirs.status < 300:
                wrong.append(
                    f"{pattern} {role.value}: {theirs.status}, a missing id {nowhere.status}"
                )
    assert not_found > 50
    assert not wrong, "\n".join(wrong)
