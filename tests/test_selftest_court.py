"""The self-test through streamd: a real agent prepares for a hearing streamd scheduled,
with the planned length and line streamd sent; the failed check is an alert at once, the
console lists the checks above 宣布法庭纪律 and the wall shows them per room."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents import selftest
from agents.agent import Agent
from agents.config import load
from streamd.orchestrator import records
from tests.conftest import PASSWORD
from tests.court_support import Court
from tests.mqtt_support import room_config

pytestmark = [pytest.mark.db, pytest.mark.broker, pytest.mark.ffmpeg, pytest.mark.slow]


@contextlib.asynccontextmanager
async def _agent(court: Court, folder: Path, probes: selftest.Probes) -> AsyncIterator[Agent]:
    path, _ = room_config(folder, court.port, secret=court.key(), court=court.code)
    agent = Agent(load(path), probes=probes)
    task = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.connected.wait(), 10)
        yield agent
    finally:
        agent.stop()
        await asyncio.wait_for(task, 30)


async def _login(court: Court, user: str) -> None:
    resp = await court.client.post(
        "/api/v1/auth/session", json={"username": user, "password": PASSWORD}
    )
    assert resp.status == 200, await resp.text()


async def test_a_full_disk_alerts_before_the_hearing_and_shows_on_console_and_wall(
    court_: Court, tmp_path: Path
) -> None:

    def tiny_disk(_path: Path) -> int:
        return 10_000_000  # 10 MB: nowhere near twice an hour at 2.6 Mb/s

    probes = selftest.Probes(clock=lambda _s: (0.05, "chrony"), disk_free=tiny_disk)
    async with _agent(court_, tmp_path / "room", probes) as agent:
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")
        key = records.alert_key("selftest_disk", "room-01", hearing)
        t0 = time.monotonic()
        while key not in court_.orch.alerts.open_keys:
            assert time.monotonic() - t0 < 20, sorted(court_.orch.alerts.open_keys)
            await asyncio.sleep(0.1)
        report = court_.orch.agents["room-01"].selftest
        assert report is not None and report.hearing_id == hearing
        checks = {c.name.value: c for c in report.checks}
        assert checks["disk"].ok is False and checks["push"].ok is True  # L1: the court's HLS
        assert checks["video"].ok and checks["audio"].ok and checks["clock"].ok
        # streamd told the room the hearing's planned length (1 h, not the 3 h default)
        assert "0.01 GB free, 2.37 GB needed" in checks["disk"].detail_en, checks["disk"]
        assert agent.recorder is not None, "the recording started and goes on"

        await _login(court_, "clerk")
        console = await court_.client.get(f"/console/{hearing}")
        html = await console.text()
        assert console.status == 200, html
        assert html.index("庭前设备自检") < html.index("宣布法庭纪律"), "checked before going live"
        assert 'data-check="disk"' in html and "未通过" in html
        await _login(court_, "technician")
        wall = await (await court_.client.get("/wall")).text()
        assert 'id="selftest-room-01"' in wall and "未通过" in wall
        await court_.press(hearing, "adjourned")
    alert = next(
        a
        for a in court_.db.call(
            records.list_alerts, open_only=False, limit=100, court_id=None, every_court=True
        )
        if a.kind == "selftest_disk"
    )
    assert "磁盘空间" in alert.message_zh and alert.severity == "critical"
