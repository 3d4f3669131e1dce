"""The orchestrator and the hearing console through the HTTP API, on a real broker and a
real database, with simulated rooms (the real protocol and decision logic, no ffmpeg).
The end-to-end test with real agents and a killed streamd is tests/test_orchestrator_e2e.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import pytest
import sqlalchemy as sa

from streamd import court
from streamd.orchestrator import Orchestrator, recovery
from streamd.orchestrator.journal import FastJournal
from streamd.policy import load_rules
from streamd_protocol import AgentPhase, Compose, Composition, GoLive
from tests.court_support import Court
from tests.simagent import SimulatedAgent
from tests.test_pages import login

pytestmark = [pytest.mark.db, pytest.mark.broker]


async def test_console_runs_a_hearing_and_double_clicks_do_one_thing(court_: Court) -> None:
    async with court_.agent() as room:
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")  # the scheduler prepared it
        status, out = await court_.press(hearing, "discipline-announced")
        assert status == 200 and out["state"] == "live" and out["delivery"] == "acked", out
        go_live = room.commands[-1]
        assert isinstance(go_live, GoLive) and go_live.target.kind == "hls"
        # Two clicks at once on pause: one pause reaches the room.
        (s1, a), (s2, b) = await asyncio.gather(
            court_.press(hearing, "pause", reason="旁听人员喧哗"),
            court_.press(hearing, "pause", reason="旁听人员喧哗"),
        )
        assert s1 == s2 == 200 and {a["noop"], b["noop"]} == {True, False}
        assert room.snapshot.phase is AgentPhase.PAUSED
        status, out = await court_.press(hearing, "resume")
        assert out["state"] == "live" and out["delivery"] == "acked"
        status, again = await court_.press(hearing, "resume")
        assert again["noop"] is True
        for _ in range(2):
            resp = await court_.client.post(
                f"/api/v1/hearings/{hearing}/stream/transcript",
                json={"speaker": "审判长", "text": "现在开庭。", "client_key": "line-0001"},
                headers=await court_.auth(),
            )
            assert resp.status == 200 and (await resp.json())["seq"] == 0
        status, out = await court_.press(hearing, "end-stream", reason="网络故障，终止直播")
        assert out["state"] == "off_air"
        status, out = await court_.press(hearing, "discipline-announced")
        assert status == 409 and "cannot go live again" in out["detail"]
        status, out = await court_.press(hearing, "adjourned")
        assert out["state"] == "ended" and room.snapshot.phase is AgentPhase.IDLE
        assert room.kinds() == ["prepare", "go_live", "pause", "resume", "end_stream", "stop"]
        await asyncio.sleep(0.3)
        assert [(t.seq, t.text) for t in room.transcript] == [(0, "现在开庭。")]

    view = await court_.stream(hearing)
    assert [t["to_state"] for t in view["transitions"]] == [
        "preparing", "ready", "live", "paused", "live", "off_air", "ended",
    ]  # fmt: skip
    assert [t["actor"] for t in view["transitions"]][:3] == ["scheduler", "agent", "clerk"]
    assert all(c["status"] == "acked" for c in view["commands"])
    resp = await court_.client.get(
        "/api/v1/audit?object_type=stream&limit=50", headers=await court_.auth("admin")
    )
    actions = sorted(e["action"] for e in (await resp.json())["items"])
    for action in ("stream.open", "stream.prepare", "stream.pause", "stream.adjourned"):
        assert action in actions


async def test_go_live_fails_closed(court_: Court) -> None:
    async with court_.agent() as room:
        unbooked = await court_.hearing(book=False)
        await court_.until_state(unbooked, "ready")  # recorded all the same (三同步)
        status, out = await court_.press(unbooked, "discipline-announced")
        assert status == 409 and "no stream slot" in out["detail"]
        assert "go_live" not in room.kinds()
    # The room's agent is gone: nothing may be sent live.
    async with court_.agent("room-02") as other:
        booked = await court_.hearing(courtroom="room-02")
        await court_.until_state(booked, "ready")
        await other.crash()
    await asyncio.sleep(0.5)
    status, out = await court_.press(booked, "discipline-announced")
    assert status == 409 and "offline" in out["detail"]
    # A hearing that stops being public loses its right to a line at once.
    async with court_.agent("room-02") as other:
        clerk = await court_.auth()
        resp = await court_.client.patch(
            f"/api/v1/hearings/{booked}",
            json={"public": False, "non_public_reason": "涉及国家秘密"},
            headers=clerk,
        )
        assert resp.status == 200, await resp.text()
        status, out = await court_.press(booked, "discipline-announced")
        assert status == 409 and "不得直播" in out["detail"]
        assert "go_live" not in other.kinds()
    status, out = await court_.press(12345, "pause", reason="x")
    assert status == 404


async def test_pause_does_not_wait_for_the_database(court_: Court) -> None:
    async with court_.agent() as room:
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")
        await court_.press(hearing, "discipline-announced")
        headers = await court_.auth()  # logging in writes; do it before the lock
        url = court_.settings.effective_database_url
        if url.startswith("sqlite"):
            lock = sqlite3.connect(url.split("///", 1)[1], timeout=5)
            lock.execute("BEGIN IMMEDIATE")  # every writer now waits
            release = lock.rollback
        else:
            engine = sa.create_engine(url)
            conn = engine.connect()
            tx = conn.begin()
            conn.execute(sa.text("LOCK TABLE stream, stream_transition, stream_command"))

            def release() -> None:
                tx.rollback()
                conn.close()
                engine.dispose()

        try:
            resp = await court_.client.post(
                f"/api/v1/hearings/{hearing}/stream/pause",
                json={"reason": "当事人情绪失控"},
                headers=headers,
            )
            out = await resp.json()
            # Answered and carried out while the database still refuses every write.
            assert resp.status == 200 and out["delivery"] == "acked", out
            assert room.snapshot.phase is AgentPhase.PAUSED
        finally:
            release()
        for _ in range(100):  # the write lands once the database is back
            view = await court_.stream(hearing)
            if view["state"] == "paused":
                break
            await asyncio.sleep(0.1)
        assert view["transitions"][-1]["reason"] == "当事人情绪失控"
        for _ in range(50):
            if view["commands"][-1]["status"] == "acked":
                break
            await asyncio.sleep(0.1)
            view = await court_.stream(hearing)
        assert [c["kind"] for c in view["commands"]] == ["prepare", "go_live", "pause"]
        assert view["commands"][-1]["status"] == "acked"


async def test_an_unanswered_command_is_escalated(court_: Court) -> None:
    async with court_.agent(answer=False) as room:
        hearing = await court_.hearing(minutes=60)  # not due yet: the clerk starts it
        status, out = await court_.press(hearing, "prepare")
        assert status == 200 and out["delivery"] == "unacknowledged"
        assert room.kinds() == ["prepare", "prepare"]  # resent once, same id
        assert room.commands[0].id == room.commands[1].id
    for _ in range(50):
        resp = await court_.client.get("/api/v1/alerts", headers=await court_.auth("technician"))
        kinds = {a["kind"] for a in (await resp.json())["items"]}
        if "command_unacknowledged" in kinds:
            break
        await asyncio.sleep(0.1)
    assert "command_unacknowledged" in kinds
    view = await court_.stream(hearing)
    assert view["at_risk"] and view["commands"][0]["status"] == "unacknowledged"


async def test_agent_crash_alerts_on_the_feed_and_recovery_clears_it(court_: Court) -> None:
    headers = await court_.auth("technician")
    received: list[tuple[str, dict[str, Any]]] = []

    async def listen() -> None:
        url = "/api/v1/feed?types=alert,alert_cleared"
        async with court_.client.get(url, headers=headers) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
            kind = ""
            async for raw in r.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    received.append((kind, json.loads(line[6:])))

    listener = asyncio.create_task(listen())
    try:
        room = SimulatedAgent(court_.host, court_.port, court_.topics(), court_.key())
        await room.start()
        await asyncio.sleep(0.3)
        await room.crash()
        for _ in range(100):
            if any(k == "alert" and d["kind"] == "agent_offline" for k, d in received):
                break
            await asyncio.sleep(0.1)
        alert = next(d for k, d in received if k == "alert")
        assert alert["kind"] == "agent_offline" and alert["room"] == "room-01"
        async with court_.agent():
            for _ in range(50):
                if any(k == "alert_cleared" for k, _ in received):
                    break
                await asyncio.sleep(0.1)
            assert any(k == "alert_cleared" for k, _ in received)
    finally:
        listener.cancel()
    resp = await court_.client.get("/api/v1/alerts?open=false", headers=headers)
    rows = (await resp.json())["items"]
    assert rows[0]["kind"] == "agent_offline" and rows[0]["cleared_at"] is not None
    resp = await court_.client.post(
        f"/api/v1/alerts/{rows[0]['id']}/acknowledge", json={}, headers=headers
    )
    assert resp.status == 200 and (await resp.json())["acknowledged_by"] == "technician"


async def test_malformed_messages_are_counted_and_change_nothing(court_: Court) -> None:
    async with court_.agent() as room:
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")
        topics = court_.topics()
        async with aiomqtt.Client(court_.host, court_.port) as rogue:
            for leaf in (topics.ack, topics.events, topics.telemetry):
                await rogue.publish(leaf, b"{not json", qos=1)
            await rogue.publish(topics.ack, json.dumps({"v": 1, "ok": "maybe"}), qos=1)
        for _ in range(50):
            if court_.orch.stats.malformed + court_.orch.intake.stats.malformed >= 4:
                break
            await asyncio.sleep(0.05)
        # The telemetry is refused by the intake that took it, the rest by the link.
        assert (court_.orch.stats.malformed, court_.orch.intake.stats.malformed) == (3, 1)
        status, out = await court_.press(hearing, "discipline-announced")
        assert status == 200 and out["delivery"] == "acked"
        assert room.snapshot.phase is AgentPhase.LIVE


async def test_interruptions_pause_the_broadcast_and_go_to_the_case_file(court_: Court) -> None:
    async with court_.agent():
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")
        await court_.press(hearing, "discipline-announced")
        status, out = await court_.press(hearing, "interruptions", kind="recess", reason="午休")
        assert status == 200 and out["state"] == "paused"
        status, again = await court_.press(hearing, "interruptions", kind="recess")
        assert again["noop"] is True
        status, _other = await court_.press(hearing, "interruptions", kind="mediation")
        assert status == 409
        status, out = await court_.press(hearing, "interruptions", kind="chat")
        assert status == 422
        await court_.press(hearing, "interruptions/end")
        await court_.press(hearing, "resume")
        await court_.press(hearing, "adjourned")
    resp = await court_.client.get(
        f"/api/v1/hearings/{hearing}/stream/case-file", headers=await court_.auth()
    )
    record = await resp.json()
    assert [i["label_zh"] for i in record["interruptions"]] == ["休庭"]
    assert record["interruptions"][0]["ended_at"] is not None
    assert len(record["pauses"]) == 1 and record["pauses"][0]["resumed_at"] is not None
    assert record["explanation"] is None  # nothing failed


async def test_a_pause_only_in_the_journal_reaches_the_database_on_restart(court_: Court) -> None:
    """streamd died after journaling and sending a pause, before copying it to the database."""
    async with court_.agent():
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")
        await court_.press(hearing, "discipline-announced")
    view = court_.orch.views[hearing]
    now = datetime.now(UTC)
    journal = FastJournal(court_.settings.data_dir / "orchestrator.journal")
    journal.step(
        "pause-lost-in-crash",
        {
            "stream_id": view.stream_id,
            "action": "pause",
            "before": "live",
            "after": "paused",
            "actor": "clerk",
            "reason": "证人情绪激动",
            "room": view.room,
            "at": now.isoformat(),
            "command": {
                "id": "pause-lost-in-crash",
                "kind": "pause",
                "issued_at": now.isoformat(),
                "expires_at": (now + timedelta(minutes=1)).isoformat(),
            },
        },
    )
    journal.close()
    restarted = Orchestrator(
        db=court_.db,
        settings=court_.settings,
        courts=court.read_courts(court_.settings.court_config_dir),
        rules=load_rules(None),
        mqtt_url=court_.settings.mqtt_url or "",
    )
    await recovery.recover(restarted)
    assert restarted.views[hearing].state.value == "paused"
    assert restarted.journal.pending() == []
    await recovery.recover(restarted)  # a second start writes nothing twice
    restarted.close()
    view_out = await court_.stream(hearing)
    assert [t["reason"] for t in view_out["transitions"]].count("证人情绪激动") == 1
    assert view_out["commands"][-1]["id"] == "pause-lost-in-crash"


async def test_the_clerk_pins_a_view_and_returns_to_the_voice(court_: Court) -> None:
    views = ["bench", "plaintiff", "defendant", "witness"]
    labels = {"bench": "审判席", "plaintiff": "原告席", "defendant": "被告席", "witness": "证人席"}
    comp = Composition(
        layout="1+3", layouts=["1+3", "2x2"], views=views, labels=labels, big="bench",
        lost=["defendant"],
    )  # fmt: skip
    async with court_.agent(composition=comp, telemetry_every=0.1) as room:
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")

        async def known() -> None:
            while True:
                t = court_.orch.agents["room-01"].telemetry
                if t is not None and t.composition is not None:
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(known(), 5)
        status, out = await court_.press(hearing, "compose", pin="witness")
        assert status == 200 and out["delivery"] == "acked", out
        sent = room.commands[-1]
        assert isinstance(sent, Compose) and sent.pin == "witness" and not sent.auto
        status, out = await court_.press(hearing, "compose", auto=True, layout="2x2")
        assert status == 200, out
        sent = room.commands[-1]
        assert isinstance(sent, Compose) and sent.auto and sent.layout == "2x2"
        # A view or layout the room does not have is refused before anything is sent.
        sent_before = len(room.commands)
        for bad in ({"pin": "gallery"}, {"layout": "3x3"}):
            status, out = await court_.press(hearing, "compose", **bad)
            assert status == 422 and "本庭无此" in out["detail"], out
        status, out = await court_.press(hearing, "compose", pin="witness", auto=True)
        assert status == 422, out
        status, out = await court_.press(hearing, "compose", user="technician", pin="bench")
        assert status == 403, out
        assert len(room.commands) == sent_before
        # The console offers each seat to pin; the wall shows each view's health.
        await login(court_.client, "clerk")
        html = await (await court_.client.get(f"/console/{hearing}")).text()
        assert 'id="pin-witness"' in html and "证人席" in html and 'id="layout-2x2"' in html
        await login(court_.client, "technician")
        wall = await (await court_.client.get("/wall")).text()
        lost = wall.split('data-view="defendant"')[1].split("</li>")[0]
        assert "信号中断" in lost and "pin-" not in wall  # the wall watches, it does not pin
    view = await court_.stream(hearing)
    assert [c["kind"] for c in view["commands"]][-2:] == ["compose", "compose"]
