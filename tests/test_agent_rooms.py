"""A courtroom host with real ffmpeg: 4 views and 3 channels recorded as a composite and
as tracks of their own, on one wall clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents import manifest as mf
from agents.config import load
from streamd.archive.plan import FileKind, kind_of
from streamd.media import probe
from streamd.protocol import CommandKind
from tests.mqtt_support import broker_for, court_on, running_agent
from tests.rooms_support import CHANNELS, VIEWS, rooms_config

pytestmark = [pytest.mark.broker, pytest.mark.ffmpeg, pytest.mark.slow]
K = CommandKind


async def test_every_view_and_channel_is_recorded_as_its_own_track_beside_the_composite(
    tmp_path: Path,
) -> None:
    async with broker_for(tmp_path) as (host, port):
        path, topics = rooms_config(tmp_path, port)
        cfg = load(path)
        async with running_agent(cfg) as agent, court_on(host, port, topics) as court:
            assert (await court.send(K.PREPARE, 7)).ok
            await asyncio.sleep(5.0)
            assert (await court.send(K.STOP, 7)).ok
            assert agent.recorder is None or agent.recorder.manifest.closed_at is not None

    (folder,) = list((cfg.data_dir / "recordings" / "7").iterdir())
    manifest = mf.load(folder)
    assert mf.verify(folder) == []
    assert manifest.gaps == [] and manifest.set_aside == []
    assert [(t.kind, t.name) for t in manifest.tracks] == [("view", n) for n, _, _ in VIEWS] + [
        ("channel", n) for n, _, _ in CHANNELS
    ]
    composite = manifest.total("video")
    assert composite > 3.0
    assert abs(manifest.total("audio") - composite) < 0.2
    for name, _, _ in VIEWS:
        assert abs(manifest.total("view", name) - composite) < 0.2, name
    for name, _, _ in CHANNELS:
        assert abs(manifest.total("channel", name) - composite) < 0.2, name
    for seg in manifest.segments:
        assert probe(folder / seg.file).ok, seg.file
        assert seg.file.startswith("views/" if seg.kind == "view" else "")
        # The archive takes every track's files (agents/shipper.py ships what is listed).
        assert kind_of(seg.file) in (
            FileKind.VIDEO,
            FileKind.AUDIO,
            FileKind.VIEW,
            FileKind.CHANNEL,
        )
    starts = {
        s.track: min(x.start for x in manifest.segments if x.track == s.track)
        for s in manifest.segments
    }
    assert max(starts.values()) == min(starts.values()), "every track starts on one wall clock"
