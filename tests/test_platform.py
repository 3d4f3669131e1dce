"""The public leg against a real RTMP server: Debian's nginx with libnginx-mod-rtmp as the
trial platform (tests/rtmp_server.py), the real agent pushing to it, streamd driving the
hearing through the console and its monitor reading the platform's play address (HLS
without program date-times), never the agent's own output.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from agents.agent import Agent
from agents.config import load
from streamd.models import Line, Stream
from streamd.orchestrator import records
from streamd_protocol import manifest as mf
from tests.court_support import Court
from tests.mqtt_support import room_config, running_agent
from tests.rtmp_server import RtmpServer, require, rtmp_server

pytestmark = [pytest.mark.db, pytest.mark.broker, pytest.mark.ffmpeg, pytest.mark.slow]
KEY = "line-1-key-0123"


@pytest.fixture
def court_settings() -> dict[str, Any]:
    require()
    return {"monitor_allowance_seconds": 3.0}


def _use_platform(
    court: Court, server: RtmpServer, key: str, play_key: str | None = None, *, rtmp: bool = False
) -> None:
    """L1 becomes the platform's line: push there with `key`, watched at its play address
    (the platform's HLS, or with `rtmp` its RTMP play address)."""
    play = f"{server.push_url}/{play_key or key}" if rtmp else server.play_url(play_key or key)

    def work(session: Session) -> None:
        line = session.exec(select(Line).where(Line.code == "L1")).one()
        line.push_url, line.stream_key = server.push_url, key
        line.play_url, line.same_server = play, False
        session.add(line)

    court.db.call(work)


@contextlib.asynccontextmanager
async def _agent(court: Court, folder: Path) -> AsyncIterator[Agent]:
    path, _ = room_config(
        folder, court.port, secret=court.key(), court=court.code, segment_seconds=2
    )
    async with running_agent(load(path)) as agent:
        yield agent


async def _coverage(court: Court, hearing: int) -> dict[str, Any]:
    resp = await court.client.get(
        f"/api/v1/hearings/{hearing}/coverage", headers=await court.auth("admin")
    )
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def _until_alert(court: Court, kind: str, hearing: int, within: float) -> None:
    key = records.alert_key(kind, "room-01", hearing)
    deadline = time.monotonic() + within
    while key not in court.orch.alerts.open_keys:
        assert time.monotonic() < deadline, (kind, sorted(court.orch.alerts.open_keys))
        await asyncio.sleep(0.1)


async def _booking(court: Court, hearing: int) -> dict[str, Any]:
    resp = await court.client.get("/api/v1/bookings", headers=await court.auth())
    assert resp.status == 200, await resp.text()
    return next(b for b in (await resp.json())["items"] if b["hearing_id"] == hearing)


def _alert(court: Court, kind: str, hearing: int) -> Any:
    rows = court.db.call(
        records.list_alerts, open_only=False, limit=1000, court_id=None, every_court=True
    )
    return next(a for a in rows if a.kind == kind and a.hearing_id == hearing)


def _stream(court: Court, hearing: int) -> Stream:
    def work(session: Session) -> Stream:
        row = session.exec(select(Stream).where(Stream.hearing_id == hearing)).one()
        session.expunge(row)
        return row

    return court.db.call(work)


async def test_a_hearing_on_the_platform_is_covered_exactly_as_it_was_pushed(
    court_: Court, tmp_path: Path
) -> None:
    async with rtmp_server(tmp_path, {KEY}) as server:
        _use_platform(court_, server, KEY)
        async with _agent(court_, tmp_path / "room"):
            hearing = await court_.hearing()
            await court_.until_state(hearing, "ready")
            await court_.press(hearing, "discipline-announced")
            await asyncio.sleep(8)
            await court_.press(hearing, "pause", reason="休庭十分钟")
            await asyncio.sleep(6)
            await court_.press(hearing, "resume")
            await asyncio.sleep(8)
            await court_.press(hearing, "adjourned")
            await asyncio.sleep(5)
            data = await _coverage(court_, hearing)
            assert data["verdict"] == "full", data
            assert data["coverage_percent"] == 100.0 and data["gap_seconds"] == 0, data
            assert data["slate"], "the pause was seen on the platform as the slate"
            assert 5 <= data["paused_seconds"] <= 7, data
    assert data["extra_seconds"] == 0, data


async def test_an_rtmp_play_address_is_watched_as_a_stream(court_: Court, tmp_path: Path) -> None:
    async with rtmp_server(tmp_path, {KEY}) as server:
        _use_platform(court_, server, KEY, rtmp=True)
        async with _agent(court_, tmp_path / "room"):
            hearing = await court_.hearing()
            await court_.until_state(hearing, "ready")
            await court_.press(hearing, "discipline-announced")
            await asyncio.sleep(10)
            await court_.press(hearing, "adjourned")
            await asyncio.sleep(4)
            data = await _coverage(court_, hearing)
    # A stream address exists only once the push has begun, so the monitor's first read
    # comes up to a retry later than an HLS playlist's: at most a second or two at the start.
    assert data["coverage_percent"] >= 85.0, data
    start = datetime.fromisoformat(data["required"][0])
    for gap in data["gaps"]:
        # the allowance (3 s) after the start, and only then
        assert (datetime.fromisoformat(gap[0]) - start).total_seconds() <= 3.5, data
    assert data["live"], "the courtroom was seen at the RTMP play address"


async def test_a_platform_that_drops_the_push_is_reconnected_and_counted_as_a_gap(
    court_: Court, tmp_path: Path
) -> None:
    """The agent pushes again within its backoff, says how long the public was without
    it, and the monitor counts the gap; the recording never noticed."""
    async with rtmp_server(tmp_path, {KEY}) as server:
        _use_platform(court_, server, KEY)
        async with _agent(court_, tmp_path / "room") as agent:
            second = await court_.hearing()
            await court_.until_state(second, "ready")
            await court_.press(second, "discipline-announced")
            await asyncio.sleep(8)
            # Down for 3 s: longer than the monitor's allowance, so the public saw a gap.
            await asyncio.to_thread(server.drop_publishers, 3.0)
            await asyncio.sleep(10)
            assert agent.publisher.stats().restarts >= 1
            assert agent.publisher.stats().state.value == "running", "pushing again"
            # the unreachable server was an alert while it lasted, cleared once frames flow
            assert not court_.orch.alerts.is_open("push_unreachable", "room-01", second)
            await court_.press(second, "adjourned")
            await asyncio.sleep(5)
            again = await _coverage(court_, second)
        events = court_.db.call(records.events_of, hearing_id=second)
    assert again["verdict"] == "gaps" and again["gap_seconds"] > 0, again
    gaps = [e for e in events if e.kind == "gap" and e.data.get("process") == "publisher"]
    # Each failed retry's start reports the time down since the last run; together they
    # are the outage, back within the agent's backoff (0.25 s doubling): under 12 s.
    down = sum(float(e.data["seconds"]) for e in gaps)
    assert gaps and 2.5 <= down < 12, [e.data for e in gaps]
    for folder in (tmp_path / "room" / "agent" / "recordings" / str(second)).iterdir():
        assert mf.verify(folder) == [] and mf.load(folder).gaps == [], "the recording ran on"


async def test_a_refused_key_alerts_naming_the_line_and_the_recording_goes_on(
    court_: Court, tmp_path: Path
) -> None:
    async with rtmp_server(tmp_path, {"the-new-key-9876"}) as server:
        _use_platform(court_, server, KEY)  # the platform rotated the key; the court did not
        async with _agent(court_, tmp_path / "room") as agent:
            hearing = await court_.hearing()
            await court_.until_state(hearing, "ready")
            await court_.press(hearing, "discipline-announced")
            await _until_alert(court_, "push_refused", hearing, within=15)
            assert KEY in server.refused
            assert agent.recorder is not None
            segments = agent.recorder.segments
            await asyncio.sleep(4)
            assert agent.recorder.segments > segments, "the recording goes on"
            stream = _stream(court_, hearing)
            booking = await _booking(court_, hearing)
            assert booking["line"] == "L1" and "推流被拒绝" in booking["line_failing"]["zh"]
            # Steady: a refused retry starts but sends nothing, so the alert stays up.
            await asyncio.sleep(3)
            assert court_.orch.alerts.is_open("push_refused", "room-01", hearing)
            # The court's key is the platform's again: the next retry (backoff ≤ 8 s) gets
            # through, the alert clears and the stream is no longer at risk.
            server.keys.add(KEY)
            deadline = time.monotonic() + 25
            while court_.orch.alerts.is_open("push_refused", "room-01", hearing):
                assert time.monotonic() < deadline, "the alert did not clear"
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)
            assert not _stream(court_, hearing).at_risk
            assert (await _booking(court_, hearing))["line_failing"] is None
            await court_.press(hearing, "adjourned")
            await asyncio.sleep(1)
    alert = _alert(court_, "push_refused", hearing)
    assert "L1" in alert.message_zh and "推流被拒绝" in alert.message_zh, alert.message_zh
    assert "refused the key" in alert.message_en
    assert stream.at_risk and stream.risk_reason and "L1" in stream.risk_reason
    events = court_.db.call(records.events_of, hearing_id=hearing)
    exits = [e for e in events if e.kind == "process_exited" and e.data.get("push")]
    assert exits and all(KEY not in str(e.data.get("stderr")) for e in exits), "key scrubbed"


async def test_a_play_address_showing_nothing_while_the_room_pushes_is_the_platform_s_fault(
    court_: Court, tmp_path: Path
) -> None:
    async with rtmp_server(tmp_path, {KEY}) as server:
        # The push is accepted, but the play address the court was given shows nothing.
        _use_platform(court_, server, KEY, play_key="not-this-stream")
        async with _agent(court_, tmp_path / "room"):
            hearing = await court_.hearing()
            await court_.until_state(hearing, "ready")
            await court_.press(hearing, "discipline-announced")
            await _until_alert(court_, "platform_not_playing", hearing, within=20)
            assert not court_.orch.alerts.is_open("push_refused", "room-01", hearing)
            await court_.press(hearing, "adjourned")
            await asyncio.sleep(1)
