"""Several courts on one deployment (the two-level platform): an account sees and touches
only its own court's objects, and another court's object is a 404 exactly like a missing
one, so nothing about it leaks, not even that its id exists.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamd import court
from streamd.auth import create_user, hasher_for
from streamd.authz import Act, Actor, Target, decide
from streamd.config import Settings
from streamd.domain import Role
from streamd.lifecycle import StreamState
from streamd.store import Database
from tests.conftest import COURT_DIR, PASSWORD, Client, hearing_body, make_hearing, token
from tests.test_pages import login as login_page

COURT_B = "粤0112"


def add_court_b(database: Database, settings: Settings) -> None:
    """A second basic court: the sample's departments and rooms (codes repeat between
    courts), its own lines, and a clerk of its civil-1."""
    sample = court.read_structure(COURT_DIR)
    lines = [ln.model_copy(update={"code": f"b-{ln.code}"}) for ln in sample.lines]
    spec = sample.court.model_copy(update={"code": COURT_B, "name": "另一基层法院"})
    structure = sample.model_copy(update={"court": spec, "lines": lines})
    database.call(court.apply_structure, structure=structure, actor="test")
    for name, roles, dept in (
        ("clerk_b", [Role.CLERK], "civil-1"),
        ("admin_b", [Role.ADMIN], None),
    ):
        database.call(
            create_user,
            username=name,
            password=PASSWORD,
            roles=roles,
            department=dept,
            court=COURT_B,
            password_hasher=hasher_for(settings),
        )


# ---- the pure rule -----------------------------------------------------------------------

ACTS = [a for a in Act if a not in (Act.LOGIN, Act.LOGOUT)]


@given(
    act=st.sampled_from(ACTS),
    roles=st.frozensets(st.sampled_from(list(Role)), min_size=1),
    state=st.none() | st.sampled_from(list(StreamState)),
)
def test_another_courts_object_is_not_found_whatever_the_role(
    act: Act, roles: frozenset[Role], state: StreamState | None
) -> None:
    """Role, department and state are never even asked: the answer is the one a missing
    object gets, so a refusal cannot tell an id of court B from no id at all."""
    actor = Actor(username="u", roles=roles, department_id=1, court_id=1)
    theirs = Target(departments=frozenset({1}), stream_state=state, courts=frozenset({2}))
    decision = decide(act, actor, theirs)
    assert (decision.allowed, decision.status) == (False, 404)
    courtless = Actor(username="u", roles=roles, department_id=1, court_id=None)
    assert decide(act, courtless, Target(courts=frozenset({1}))).status == 404


def test_with_several_courts_a_new_account_must_name_its_court(
    database: Database, settings: Settings
) -> None:
    add_court_b(database, settings)
    with pytest.raises(ValueError, match="several courts"):
        database.call(create_user, username="x", password=PASSWORD, roles=[Role.ADMIN])
    with pytest.raises(ValueError, match="unknown court"):
        database.call(
            create_user, username="x", password=PASSWORD, roles=[Role.ADMIN], court="粤9999"
        )


# ---- through the API ---------------------------------------------------------------------


async def test_a_user_of_court_b_sees_nothing_of_court_a(
    client: Client, database: Database, settings: Settings
) -> None:
    hearing = await make_hearing(client)
    add_court_b(database, settings)
    b_clerk, b_admin = await token(client, "clerk_b"), await token(client, "admin_b")
    hid = hearing["id"]

    for path in (f"/api/v1/hearings/{hid}", f"/api/v1/hearings/{hid}/decision"):
        resp = await client.get(path, headers=b_clerk)
        assert resp.status == 404, (path, await resp.text())
        assert str(hid) not in (await resp.json()).get("title", "")
    resp = await client.post("/api/v1/bookings", json={"hearing_id": hid}, headers=b_clerk)
    assert resp.status == 404, await resp.text()
    resp = await client.patch(f"/api/v1/hearings/{hid}", json={"cause": "改"}, headers=b_admin)
    assert resp.status == 404, await resp.text()

    listed = await (await client.get("/api/v1/hearings", headers=b_clerk)).json()
    assert listed["total"] == 0
    # The same department codes in both courts: court B's user sees court B's alone.
    a_depts = await (
        await client.get("/api/v1/departments", headers=await token(client, "admin"))
    ).json()
    b_depts = await (await client.get("/api/v1/departments", headers=b_admin)).json()
    assert {d["code"] for d in a_depts["items"]} == {d["code"] for d in b_depts["items"]}
    assert not {d["id"] for d in a_depts["items"]} & {d["id"] for d in b_depts["items"]}
    b_lines = await (await client.get("/api/v1/lines", headers=b_admin)).json()
    assert b_lines["items"] and all(ln["code"].startswith("b-") for ln in b_lines["items"])

    # Court A's own clerk still has it, and court B's clerk files into court B.
    assert (
        await client.get(f"/api/v1/hearings/{hid}", headers=await token(client, "clerk"))
    ).status == 200
    mine = await client.post(
        "/api/v1/hearings", json=hearing_body(case_number="（2026）粤0112民初7号"), headers=b_clerk
    )
    assert mine.status == 201, await mine.text()
    listed = await (await client.get("/api/v1/hearings", headers=b_clerk)).json()
    assert [h["case_number"] for h in listed["items"]] == ["（2026）粤0112民初7号"]
    a_listed = await (
        await client.get("/api/v1/hearings", headers=await token(client, "clerk"))
    ).json()
    assert [h["id"] for h in a_listed["items"]] == [hid]


async def test_each_court_streams_on_its_own_lines(
    client: Client, database: Database, settings: Settings
) -> None:
    """Five hearings at once in court A, which has four lines: the fifth has no line,
    though court B's lines stand free (a court's lines are its own)."""
    add_court_b(database, settings)
    clerk = await token(client, "clerk")
    for n in range(1, 6):
        hearing = await make_hearing(
            client, courtroom=f"room-0{n}", case_number=f"（2026）粤0111民初{n}号"
        )
        resp = await client.post(
            "/api/v1/bookings", json={"hearing_id": hearing["id"]}, headers=clerk
        )
        assert resp.status == 201, await resp.text()
    listed = await (await client.get("/api/v1/bookings", headers=clerk)).json()
    given = sorted((b["line"], b["line_status"]) for b in listed["items"] if b["line"])
    assert [code for code, _ in given] == ["L1", "L2", "L3", "L4"]
    statuses = sorted(b["line_status"] for b in listed["items"])
    assert statuses == ["assigned"] * 4 + ["no_line"]
    # Court B's hearing at the same hour gets court B's line.
    b_clerk = await token(client, "clerk_b")
    resp = await client.post(
        "/api/v1/hearings", json=hearing_body(case_number="（2026）粤0112民初1号"), headers=b_clerk
    )
    assert resp.status == 201, await resp.text()
    resp = await client.post(
        "/api/v1/bookings", json={"hearing_id": (await resp.json())["id"]}, headers=b_clerk
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["line"] == "b-L1"


async def test_court_b_reads_none_of_court_a_in_reports_audit_alerts_and_the_wall(
    client: Client, database: Database, settings: Settings
) -> None:
    from datetime import UTC, datetime

    from streamd.models import Alert

    hearing = await make_hearing(client)
    add_court_b(database, settings)
    with database.session() as s:
        s.add(
            Alert(
                key="k:room-01:1",
                kind="encoder_down",
                severity="critical",
                room="room-01",
                hearing_id=hearing["id"],
                message_zh="甲院告警",
                message_en="court A's alert",
            )
        )
        s.commit()
    b_admin, a_admin = await token(client, "admin_b"), await token(client, "admin")
    month = datetime.fromisoformat(hearing["start"]).astimezone(UTC).strftime("%Y-%m")

    def departments(report: dict[str, object]) -> list[object]:
        (ratio,) = [t for t in report["tables"] if t["sheet"] == "直播率"]  # type: ignore[attr-defined]
        return [(r[0], r[1]) for r in ratio["rows"]]

    url = f"/api/v1/reports/monthly?month={month}"
    a_report = await (await client.get(url, headers=a_admin)).json()
    b_report = await (await client.get(url, headers=b_admin)).json()
    assert sum(n for _, n in departments(a_report)) == 1  # type: ignore[misc]
    assert sum(n for _, n in departments(b_report)) == 0  # type: ignore[misc]
    assert len(departments(b_report)) == len(departments(a_report))  # its own departments

    a_audit = await (await client.get("/api/v1/audit?limit=500", headers=a_admin)).json()
    b_audit = await (await client.get("/api/v1/audit?limit=500", headers=b_admin)).json()
    assert any(e["object_type"] == "hearing" for e in a_audit["items"])
    assert not any(e["object_type"] == "hearing" for e in b_audit["items"])
    assert not {e["id"] for e in a_audit["items"]} & {e["id"] for e in b_audit["items"]}

    a_alerts = await (await client.get("/api/v1/alerts", headers=a_admin)).json()
    b_alerts = await (await client.get("/api/v1/alerts", headers=b_admin)).json()
    assert [a["message_zh"] for a in a_alerts["items"]] == ["甲院告警"]
    assert b_alerts["items"] == []
    alert_id = a_alerts["items"][0]["id"]
    resp = await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={}, headers=b_admin)
    assert resp.status == 404, await resp.text()

    await login_page(client, "admin_b")
    wall = await (await client.get("/wall")).text()
    assert "甲院告警" not in wall
    await login_page(client, "admin")
    assert "甲院告警" in await (await client.get("/wall")).text()


def test_two_courts_may_name_their_lines_alike(database: Database, settings: Settings) -> None:
    """Court B loads lines coded L1..L4 as court A's are: each court keeps its own."""
    from sqlmodel import col, select

    from streamd.models import Court, Line

    sample = court.read_structure(COURT_DIR)
    spec = sample.court.model_copy(
        update={"code": COURT_B, "name": "另一基层法院", "stream_target_ratio": 0.6}
    )
    database.call(
        court.apply_structure, structure=sample.model_copy(update={"court": spec}), actor="t"
    )
    with database.session() as s:
        by_court: dict[str, list[str]] = {}
        for line, c in s.exec(select(Line, Court).join(Court).order_by(col(Line.code))).all():
            by_court.setdefault(c.code, []).append(line.code)
        targets = {c.code: c.stream_target_ratio for c in s.exec(select(Court))}
    assert by_court == {"粤0111": ["L1", "L2", "L3", "L4"], COURT_B: ["L1", "L2", "L3", "L4"]}
    assert targets[COURT_B] == 0.6


async def test_each_court_has_its_own_public_announcements(
    client: Client, database: Database, settings: Settings
) -> None:
    add_court_b(database, settings)
    for who, number in (
        ("clerk", "（2026）粤0111民初501号"),
        ("clerk_b", "（2026）粤0112民初502号"),
    ):
        headers = await token(client, who)
        resp = await client.post(
            "/api/v1/hearings", json=hearing_body(case_number=number), headers=headers
        )
        assert resp.status == 201, await resp.text()
        resp = await client.post(
            "/api/v1/bookings", json={"hearing_id": (await resp.json())["id"]}, headers=headers
        )
        assert resp.status == 201, await resp.text()

    async def cases(path: str) -> list[str]:
        resp = await client.get(path)
        assert resp.status == 200, await resp.text()
        return sorted(i["case_number"] for i in (await resp.json())["items"])

    assert await cases("/public/粤0111/announcements.json") == ["（2026）粤0111民初501号"]
    assert await cases(f"/public/{COURT_B}/announcements.json") == ["（2026）粤0112民初502号"]
    assert len(await cases("/public/announcements.json")) == 2  # the platform's, every court
    page = await (await client.get(f"/public/{COURT_B}/announcements")).text()
    assert "另一基层法院" in page and "粤0112民初502号" in page and "粤0111民初501号" not in page
    ics = await (await client.get(f"/public/{COURT_B}/announcements.ics")).text()
    assert "粤0112民初502号" in ics and "粤0111民初501号" not in ics
    for path in ("/public/粤9999/announcements", "/public/粤9999/announcements.json"):
        assert (await client.get(path)).status == 404


def test_the_platform_folder_holds_one_folder_per_court(
    database: Database,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from streamd.cli import main
    from tests.court_support import write_court

    write_court(tmp_path / "mid", "粤01", rooms=2)
    write_court(tmp_path / "basic", COURT_B, rooms=2, prefix="b-")
    courts = court.read_courts(tmp_path)
    assert [c.court.code for c in courts] == [COURT_B, "粤01"]  # by folder name
    monkeypatch.setenv("STREAMD_DATABASE_URL", settings.effective_database_url)
    assert main(["court", "load", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"court loaded: {COURT_B}" in out and "court loaded: 粤01" in out
    # Room codes are the agents' broker logins: the same code in two courts is refused.
    write_court(tmp_path / "clash", "粤02", rooms=1)
    with pytest.raises(court.CourtConfigError, match="room-01 in more than one court"):
        court.read_courts(tmp_path)
    assert main(["court", "load", str(tmp_path)]) == 2
    assert "more than one court" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(court.CourtConfigError, match="one per court"):
        court.read_courts(tmp_path / "empty")


async def test_court_b_sees_none_of_court_a_s_approvals_or_room_pictures(
    client: Client, database: Database, settings: Settings
) -> None:
    hearing = await make_hearing(client)
    resp = await client.post(
        f"/api/v1/hearings/{hearing['id']}/not-streamed",
        json={"flag": "other_unsuitable", "reason": "测试"},
        headers=await token(client, "judge"),
    )
    assert resp.status == 201, await resp.text()
    approval = (await resp.json())["id"]
    resp = await client.post(
        f"/api/v1/approvals/{approval}/review",
        json={"comment": "同意"},
        headers=await token(client, "department_head"),
    )
    assert resp.status == 200, await resp.text()
    add_court_b(database, settings)
    database.call(
        create_user,
        username="leader_b",
        password=PASSWORD,
        roles=[Role.COURT_LEADER],
        court=COURT_B,
        password_hasher=hasher_for(settings),
    )
    leader_a, leader_b = await token(client, "court_leader"), await token(client, "leader_b")
    a_queue = await (await client.get("/api/v1/approvals/queue", headers=leader_a)).json()
    b_queue = await (await client.get("/api/v1/approvals/queue", headers=leader_b)).json()
    assert [x["id"] for x in a_queue["items"]] == [approval]
    assert b_queue["items"] == []
    b_list = await (await client.get("/api/v1/approvals", headers=leader_b)).json()
    assert b_list["total"] == 0
    resp = await client.get(
        "/api/v1/views/thumbnail.jpg?room=room-01&view=bench",
        headers=await token(client, "admin_b"),
    )
    assert resp.status == 404


def test_the_live_feed_passes_a_court_only_its_own_rooms() -> None:
    from streamd.orchestrator import Message
    from streamd.web.operations_api import ours

    mine = frozenset({"room-01"})
    cases = [
        (Message(1, "stream", {"room": "room-01", "hearing_id": 1}), True),
        (Message(2, "stream", {"room": "b-room-01", "hearing_id": 2}), False),
        (Message(3, "plan", {"room": None, "case_number": "（2026）粤0112民初1号"}), False),
        (Message(4, "telemetry", {"room": "b-room-01"}), False),
        (Message(5, "alert", {"room": None, "key": "archive_disk:-:-"}), True),
        (Message(6, "alert_cleared", {"key": "encoder_down:b-room-01:-"}), False),
        (Message(7, "alert_cleared", {"key": "encoder_down:room-01:7"}), True),
        (Message(8, "alert_cleared", {"key": "archive_disk:-:-"}), True),
        (Message(0, "missed", {"count": 3}), True),
    ]
    assert [ours(m, mine) for m, _ in cases] == [want for _, want in cases]


def test_an_import_files_into_the_court_it_names(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    """A court's file fills that court's departments and rooms; one that names another
    court's hearings (same case number and start) is refused whole, nothing written."""
    from sqlmodel import func, select

    from streamd.import_read import ImportFailed
    from streamd.importer import import_file
    from streamd.models import Department, Hearing
    from streamd.policy import load_rules
    from streamd.sample import schedule

    add_court_b(database, settings)
    theirs = tmp_path / "b.csv"
    theirs.write_text(
        schedule().read_text(encoding="utf-8").replace("粤0111", COURT_B), encoding="utf-8"
    )

    def run(path: Path, court: str | None) -> object:
        return import_file(
            db=database, path=path, zone=settings.zone, actor="t", rules=load_rules(), court=court
        )

    def count() -> int:
        with database.session() as s:
            return int(s.exec(select(func.count()).select_from(Hearing)).one())

    with pytest.raises(ValueError, match="several courts"):
        run(schedule(), None)
    a = run(schedule(), "粤0111")
    b = run(theirs, COURT_B)
    assert a.created == b.created > 0  # type: ignore[attr-defined]
    with database.session() as s:
        courts = {d.id: d.court_id for d in s.exec(select(Department)).all()}
        per_court: dict[int, int] = {}
        for h in s.exec(select(Hearing)).all():
            per_court[courts[h.department_id]] = per_court.get(courts[h.department_id], 0) + 1
    assert sorted(per_court.values()) == [a.created, b.created]  # type: ignore[attr-defined]
    before = count()
    with pytest.raises(ImportFailed, match="another court's hearing"):
        run(schedule(), COURT_B)
    assert count() == before
