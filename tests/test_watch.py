"""The public watch page: 200 for a hearing on the announcements list, with its state and
the platform's play address; 404 for one that may not be streamed and for unknown ids."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from streamd.models import Hearing, Line, Stream
from streamd.store import Database
from tests.conftest import Client, make_hearing, token

pytestmark = pytest.mark.db


async def _booked(client: Client, **over: Any) -> int:
    hearing = await make_hearing(client, **over)
    resp = await client.post(
        "/api/v1/bookings", json={"hearing_id": hearing["id"]}, headers=await token(client, "clerk")
    )
    assert resp.status == 201, await resp.text()
    return int(hearing["id"])


def _set_state(database: Database, hearing: int, state: str) -> None:
    """The stream as the orchestrator leaves it (the lifecycle itself is tested elsewhere)."""

    def work(session: Session) -> None:
        row = session.exec(select(Stream).where(Stream.hearing_id == hearing)).first()
        line = session.exec(select(Line).where(Line.code == "L1")).one()
        if row is None:
            h = session.get(Hearing, hearing)
            assert h is not None
            row = Stream(
                hearing_id=hearing,
                courtroom_id=h.courtroom_id,
                room="room-01",
                state=state,
                line_id=line.id,
            )
        row.state = state
        session.add(row)

    database.call(work)


async def test_every_watch_link_on_the_announcements_page_works(
    client: Client, database: Database
) -> None:
    streamed = await _booked(client, case_number="（2026）粤0111民初7001号")
    divorce = (
        await make_hearing(client, case_number="（2026）粤0111民初7002号", cause="离婚纠纷")
    )["id"]
    private = (
        await make_hearing(
            client,
            case_number="（2026）粤0111民初7003号",
            public=False,
            non_public_reason="涉及个人隐私",
        )
    )["id"]
    # Even on air on a line (however it got there), the page reads the rules afresh.
    for never in (divorce, private):
        _set_state(database, never, "live")
    page = await (await client.get("/public/announcements")).text()
    links = re.findall(r'href="(/public/watch/\d+)"', page)
    assert links == [f"/public/watch/{streamed}"]
    for link in links:
        resp = await client.get(link)
        assert resp.status == 200, link
        html = await resp.text()
        assert "（2026）粤0111民初7001号" in html and "未开始" in html
        assert "/static/vendor/hls.min.js" in html and "<script>" not in html  # no inline JS
    for hidden in (divorce, private, 999999):
        assert (await client.get(f"/public/watch/{hidden}")).status == 404, hidden
        assert (await client.get(f"/public/watch/{hidden}.json")).status == 404, hidden
    assert (await client.get("/public/watch/abc")).status == 404
    # '²' passes str.isdigit() and int() refuses it; 12 digits overflow PostgreSQL's int32
    for bad in ("%C2%B2", "9" * 12, "%D9%A3"):
        for suffix in ("", ".json"):
            resp = await client.get(f"/public/watch/{bad}{suffix}")
            assert resp.status == 404, (bad, suffix)


async def test_the_page_follows_the_hearing_and_plays_the_platform_s_address(
    client: Client, database: Database
) -> None:
    hearing = await _booked(client, case_number="（2026）粤0111民初7011号")
    state = await (await client.get(f"/public/watch/{hearing}.json")).json()
    assert state["phase"] == "not_started" and state["play_url"] is None, state
    for stored, phase, label in (
        ("ready", "not_started", "未开始"),
        ("live", "live", "直播中"),
        ("paused", "paused", "暂停"),
        ("ended", "ended", "已结束"),
    ):
        _set_state(database, hearing, stored)
        resp = await client.get(f"/public/watch/{hearing}.json")
        assert resp.headers["Cache-Control"] == "no-store"
        state = await resp.json()
        assert (state["phase"], state["label_zh"]) == (phase, label)
        html = await (await client.get(f"/public/watch/{hearing}")).text()
        assert label in html
        on_air = phase in ("live", "paused")
        # the sample court's L1 plays at the platform's HLS address, never the push address
        assert state["play_url"] == ("http://127.0.0.1:8088/hls/line-1.m3u8" if on_air else None)
        assert "sample-key-line-1" not in html and "rtmp://" not in html
    assert "ended" in (await (await client.get(f"/public/watch/{hearing}?lang=en")).text())


async def test_a_local_line_plays_the_court_s_own_hls(client: Client, database: Database) -> None:
    hearing = await _booked(client, case_number="（2026）粤0111民初7021号")

    def local(session: Session) -> None:
        line = session.exec(select(Line).where(Line.code == "L1")).one()
        line.push_url, line.play_url = "hls", None
        session.add(line)

    database.call(local)
    _set_state(database, hearing, "live")
    state = await (await client.get(f"/public/watch/{hearing}.json")).json()
    assert (state["play_kind"], state["play_url"]) == ("hls", "/hls/room-01/index.m3u8")


async def test_the_watch_page_lets_the_player_fetch_only_its_line_s_platform(
    client: Client, database: Database
) -> None:
    hearing = await _booked(client, case_number="（2026）粤0111民初7031号")

    def platform(session: Session) -> None:
        line = session.exec(select(Line).where(Line.code == "L1")).one()
        line.play_url = "https://play.example-platform.cn:8443/live/line-1.m3u8"
        session.add(line)

    database.call(platform)
    for stored in ("ready", "live"):  # the page polls into the stream: allowed before air too
        _set_state(database, hearing, stored)
        csp = (await client.get(f"/public/watch/{hearing}")).headers["Content-Security-Policy"]
        origin = "https://play.example-platform.cn:8443"
        assert f"connect-src 'self' {origin};" in csp, csp
        assert f"media-src 'self' blob: {origin};" in csp, csp
        assert csp.count(origin) == 2 and "*" not in csp, csp
    # every other public page keeps the strict policy
    strict = (await client.get("/public/announcements")).headers["Content-Security-Policy"]
    assert "connect-src" not in strict and "example-platform" not in strict
    assert (
        "example-platform"
        not in (
            (await client.get(f"/public/watch/{hearing}.json")).headers["Content-Security-Policy"]
        )
    )
