"""The monitor on real ffmpeg output: the console drives a room through the real
orchestrator; the room's public HLS output is made by the agent's own pipelines
(tests/mediaroom.py), which a test can make misbehave; the monitor reads that output and
nothing else.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from streamd.cli import main
from streamd.models import Alert
from streamd.orchestrator import records
from streamd_protocol import CommandKind
from tests.court_support import Court
from tests.mediaroom import clip, media_for, plays

pytestmark = [pytest.mark.db, pytest.mark.broker, pytest.mark.ffmpeg, pytest.mark.slow]
K = CommandKind


async def coverage(court: Court, hearing: int) -> dict[str, Any]:
    resp = await court.client.get(
        f"/api/v1/hearings/{hearing}/coverage", headers=await court.auth("admin")
    )
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


def alerts_of(court: Court, hearing: int) -> list[Alert]:
    rows = court.db.call(
        records.list_alerts, open_only=False, limit=1000, court_id=None, every_court=True
    )
    return [a for a in rows if a.hearing_id == hearing]


async def until_alert(court: Court, kind: str, hearing: int, within: float) -> float:
    """Seconds until the alert is open in the monitor's desk."""
    t0 = time.monotonic()
    key = records.alert_key(kind, "room-01", hearing)
    while key not in court.orch.alerts.open_keys:
        assert time.monotonic() - t0 < within, f"no {kind} alert within {within} s"
        await asyncio.sleep(0.1)
    return time.monotonic() - t0


async def settle(court: Court, hearing: int) -> dict[str, Any]:
    """After adjournment: let the monitor read the last segments and save its runs."""
    await asyncio.sleep(4)
    return await coverage(court, hearing)


async def test_a_clean_hearing_with_a_pause_is_fully_covered(
    court_: Court,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    media = media_for(court_)
    async with court_.agent(on_command=plays(media)):
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")
        before = await coverage(court_, hearing)
        assert before["verdict"] == "not_streamed" and before["required"] is None
        await court_.press(hearing, "discipline-announced")
        await asyncio.sleep(6)
        live = await coverage(court_, hearing)
        assert live["open"] is True and live["gap_seconds"] == 0, live
        await court_.press(hearing, "pause", reason="休庭十分钟")
        await asyncio.sleep(5)
        await court_.press(hearing, "resume")
        await asyncio.sleep(5)
        await court_.press(hearing, "adjourned")
        data = await settle(court_, hearing)
    assert data["verdict"] == "full", data
    assert data["coverage_percent"] == 100.0
    assert data["gap_seconds"] == 0 and data["extra_seconds"] == 0
    assert 4 <= data["paused_seconds"] <= 6
    assert 15 <= data["required_seconds"] <= 18
    assert data["slate"], "the slate was seen during the pause"
    assert not [a.kind for a in alerts_of(court_, hearing)]
    # the timeline picture, and the same ledger from the command line
    resp = await court_.client.get(
        f"/api/v1/hearings/{hearing}/coverage.svg", headers=await court_.auth("clerk")
    )
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    svg = await resp.text()
    assert svg.startswith("<svg") and 'class="live"' in svg and 'class="gaps"' not in svg
    monkeypatch.setenv("STREAMD_DATABASE_URL", court_.settings.effective_database_url)
    monkeypatch.setenv("STREAMD_DATA_DIR", str(tmp_path / "cli"))
    capsys.readouterr()
    assert main(["coverage", "--all", "--json"]) == 0
    listed = {d["hearing_id"]: d for d in json.loads(capsys.readouterr().out)}
    assert listed[hearing]["verdict"] == "full"
    assert listed[hearing]["gaps"] == [] and listed[hearing]["extra"] == []
    assert main(["coverage", str(hearing)]) == 0
    table = capsys.readouterr().out
    assert "verdict" in table and "full" in table and "100.00 %" in table
    assert main(["coverage", "999999"]) == 2
    assert "no hearing with id 999999" in capsys.readouterr().err


async def test_an_encoder_down_for_20_seconds_is_a_20_second_gap(court_: Court) -> None:
    media = media_for(court_)
    async with court_.agent(on_command=plays(media)):
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")
        await court_.press(hearing, "discipline-announced")
        await asyncio.sleep(5)
        await media.stop(kill=True)  # the encoder dies; the agent's state still says live
        waited = await until_alert(court_, "no_frames", hearing, within=12)
        await asyncio.sleep(20 - waited)
        await media.live()
        await asyncio.sleep(6)
        assert not court_.orch.alerts.is_open("no_frames", "room-01", hearing)
        await court_.press(hearing, "adjourned")
        data = await settle(court_, hearing)
    assert data["verdict"] == "gaps", data
    assert len(data["gaps"]) == 1
    assert 18 <= data["gap_seconds"] <= 22, data["gap_seconds"]
    assert data["coverage_percent"] < 100
    kinds = [a.kind for a in alerts_of(court_, hearing)]
    assert kinds == ["no_frames"]
    assert all(a.cleared_at is not None for a in alerts_of(court_, hearing))


async def test_courtroom_picture_during_a_pause_is_extra_flagged_at_once(court_: Court) -> None:
    media = media_for(court_)
    # The room acknowledges the pause but its publisher never switches to the slate.
    async with court_.agent(on_command=plays(media, ignore=frozenset({K.PAUSE}))):
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")
        await court_.press(hearing, "discipline-announced")
        await asyncio.sleep(4)
        await court_.press(hearing, "pause", reason="当事人情绪激动")
        took = await until_alert(court_, "picture_during_pause", hearing, within=8)
        # 2 s are allowed for the slate to replace the courtroom; flagged within 3 s after
        assert took <= 2 + 3, took
        paused_for = took + 6
        await asyncio.sleep(6)
        await court_.press(hearing, "adjourned")
        await media.stop()
        data = await settle(court_, hearing)
    assert data["verdict"] == "extra", data
    # all of the pause but the allowance at either end (the pause, the adjournment)
    assert paused_for - 4 - 1.5 <= data["extra_seconds"] <= paused_for - 4 + 0.5, data
    alert = next(a for a in alerts_of(court_, hearing) if a.kind == "picture_during_pause")
    assert alert.severity == "critical"


async def test_a_black_source_raises_an_alert(court_: Court, tmp_path: Path) -> None:
    black = clip(tmp_path)
    media = media_for(court_, source={"kind": "file", "url": str(black)})
    async with court_.agent(on_command=plays(media)):
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")
        await court_.press(hearing, "discipline-announced")
        await until_alert(court_, "black_picture", hearing, within=18)
        await court_.press(hearing, "adjourned")
        data = await settle(court_, hearing)
    # on air all the same: black is an incident, not a gap
    assert data["verdict"] == "full", data
    assert [i["kind"] for i in data["incidents"]] == ["black"]
    alert = next(a for a in alerts_of(court_, hearing) if a.kind == "black_picture")
    assert alert.cleared_at is not None  # the stream ended, the condition with it
