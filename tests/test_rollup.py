"""The two-level platform's roll-up: the intermediate court's office reads every court,
ranks them, exports one sheet per court plus the ranking, and writes nothing anywhere."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlmodel import select

from streamd.auth import create_user, hasher_for
from streamd.config import Settings
from streamd.domain import Role
from streamd.models import Courtroom, Stream, StreamCommand
from streamd.rollup import CourtMonth, rank
from streamd.store import Database
from tests.conftest import PASSWORD, Client, hearing_body, make_hearing, token
from tests.test_courts import COURT_B, add_court_b
from tests.test_pages import login as login_page


def court(code: str, streamable: int, streamed: int) -> CourtMonth:
    return CourtMonth(
        code=code,
        name=code,
        streamable=streamable,
        streamed=streamed,
        planned=0,
        target=0.8,
        streamed_this_year=streamed,
        streamed_last_year=0,
        utilisation=0.0,
        lines=1,
    )


courts_st = st.lists(
    st.integers(0, 20).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))),
    max_size=12,
).map(lambda xs: [court(f"c{i:02d}", n, k) for i, (n, k) in enumerate(xs)])


@given(courts_st)
def test_the_ranking_is_by_ratio_with_shared_places(courts: list[CourtMonth]) -> None:
    ranked = rank(courts)
    assert Counter(c.code for _, c in ranked) == Counter(c.code for c in courts)
    placed = [(p, c) for p, c in ranked if p is not None]
    # Nothing to stream: unranked, and after every ranked court.
    assert all(c.ratio is None for p, c in ranked[len(placed) :])
    assert all(c.ratio is not None for _, c in placed)
    ratios = [c.ratio or 0.0 for _, c in placed]
    assert ratios == sorted(ratios, reverse=True)
    for i, (place, c) in enumerate(placed):
        # A place is one more than the courts strictly ahead (competition ranking: 1, 1, 3).
        assert place == 1 + sum(1 for _, o in placed if (o.ratio or 0.0) > (c.ratio or 0.0))
        if i:
            assert (place == placed[i - 1][0]) == (c.ratio == placed[i - 1][1].ratio)


def _went_live(database: Database, hearing_id: int) -> None:
    """The room confirmed the go-live: what "streamed" means in every report."""
    now = datetime.now(UTC)
    with database.session() as s:
        room = s.exec(select(Courtroom)).first()
        assert room is not None and room.id is not None
        stream = Stream(hearing_id=hearing_id, courtroom_id=room.id, room=room.code, state="ended")
        s.add(stream)
        s.flush()
        assert stream.id is not None
        s.add(
            StreamCommand(
                id=f"c-{hearing_id}",
                stream_id=stream.id,
                room=room.code,
                kind="go_live",
                issued_at=now,
                expires_at=now + timedelta(seconds=5),
                status="acked",
            )
        )
        s.commit()


async def test_the_city_office_compares_every_court_and_touches_none(
    client: Client, database: Database, settings: Settings
) -> None:
    first = await make_hearing(client, case_number="（2026）粤0111民初1号")
    await make_hearing(client, case_number="（2026）粤0111民初2号")
    add_court_b(database, settings)
    b_clerk = await token(client, "clerk_b")
    resp = await client.post(
        "/api/v1/hearings", json=hearing_body(case_number="（2026）粤0112民初1号"), headers=b_clerk
    )
    assert resp.status == 201, await resp.text()
    theirs = (await resp.json())["id"]
    _went_live(database, first["id"])
    _went_live(database, theirs)
    database.call(
        create_user,
        username="city",
        password=PASSWORD,
        roles=[Role.CITY_OFFICE],
        court="粤0111",
        password_hasher=hasher_for(settings),
    )
    city = await token(client, "city")
    month = datetime.fromisoformat(first["start"]).astimezone(UTC).strftime("%Y-%m")

    # Every court's hearings, each readable by id.
    listed = await (await client.get("/api/v1/hearings", headers=city)).json()
    assert listed["total"] == 3
    assert (await client.get(f"/api/v1/hearings/{theirs}", headers=city)).status == 200

    out = await (await client.get(f"/api/v1/reports/rollup?month={month}", headers=city)).json()
    by_code = {c["code"]: c for c in out["courts"]}
    assert set(by_code) == {"粤0111", COURT_B}
    assert (by_code["粤0111"]["streamable"], by_code["粤0111"]["streamed"]) == (2, 1)
    assert (by_code[COURT_B]["streamable"], by_code[COURT_B]["streamed"]) == (1, 1)
    assert [c["code"] for c in out["courts"]] == [COURT_B, "粤0111"]  # 100 % before 50 %
    assert [c["rank"] for c in out["courts"]] == [1, 2]

    resp = await client.get(f"/api/v1/reports/rollup?month={month}&format=xlsx", headers=city)
    assert resp.status == 200
    book = load_workbook(io.BytesIO(await resp.read()))
    assert book.sheetnames[0] == "排名" and len(book.sheetnames) == 3
    ranking = [row for row in book["排名"].iter_rows(min_row=2, values_only=True)]
    assert [(r[0], r[2], r[6]) for r in ranking] == [(1, COURT_B, 100.0), (2, "粤0111", 50.0)]

    # Writes nothing, anywhere; no record content; a court's own staff never see the roll-up.
    resp = await client.patch(f"/api/v1/hearings/{theirs}", json={"cause": "改"}, headers=city)
    assert resp.status in (403, 404), await resp.text()
    resp = await client.post("/api/v1/hearings", json=hearing_body(), headers=city)
    assert resp.status == 403
    assert (await client.get(f"/api/v1/hearings/{theirs}/record", headers=city)).status == 403
    for user in ("admin", "admin_b", "clerk_b"):
        resp = await client.get(
            f"/api/v1/reports/rollup?month={month}", headers=await token(client, user)
        )
        assert resp.status == 403, user
    resp = await client.get("/api/v1/reports/rollup?month=2026-13", headers=city)
    assert resp.status == 422

    await login_page(client, "city")
    page = await client.get(f"/city?month={month}")
    assert page.status == 200
    html = await page.text()
    assert 'data-court="粤0112"' in html and 'data-court="粤0111"' in html
    assert "另一基层法院" in html


def test_the_cli_names_the_court_once_there_are_several(
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from streamd.cli import main

    add_court_b(database, settings)
    monkeypatch.setenv("STREAMD_DATABASE_URL", settings.effective_database_url)
    assert main(["report", "monthly", "--month", "2026-10", "-o", str(tmp_path / "a.xlsx")]) == 2
    assert "several courts" in capsys.readouterr().err
    assert main(["report", "monthly", "--month", "2026-10", "--court", "粤9999"]) == 2
    out = tmp_path / "b.xlsx"
    assert (
        main(["report", "monthly", "--month", "2026-10", "--court", COURT_B, "-o", str(out)]) == 0
    )
    assert out.exists()
    rolled = tmp_path / "r.xlsx"
    assert main(["report", "rollup", "--month", "2026-10", "-o", str(rolled)]) == 0
    book = load_workbook(rolled)
    assert book.sheetnames == ["排名", "粤0111 示例区人民法院", f"{COURT_B} 另一基层法院"]
    assert main(["report", "rollup", "--month", "2026-13"]) == 2
