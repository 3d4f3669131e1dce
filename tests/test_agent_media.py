"""The agent with a real broker and real ffmpeg: the recording, the stream, the slate."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from agents.config import load
from agents.pipelines import CLOCK_FILE, HLS_PLAYLIST
from streamd_protocol import CommandKind, Leaf
from streamd_protocol import manifest as mf
from streamd_protocol.media import gray_frames, hls_segments, probe
from tests.mqtt_support import broker_for, court_on, room_config, running_agent

pytestmark = [pytest.mark.broker, pytest.mark.ffmpeg, pytest.mark.slow]
K = CommandKind


def _is_slate(frame: bytes, slate: bytes) -> bool:
    return sum(abs(a - b) for a, b in zip(frame, slate, strict=True)) / len(frame) < 12


async def test_a_hearing_is_recorded_three_ways_and_a_pause_shows_the_slate(
    tmp_path: Path,
) -> None:
    async with broker_for(tmp_path) as (host, port):
        path, topics = room_config(tmp_path, port)
        cfg = load(path)
        async with running_agent(cfg) as agent, court_on(host, port, topics) as court:
            assert (await court.send(K.PREPARE, 7)).ok
            await court.transcript(7, 0, "书记员", "请全体起立")
            await asyncio.sleep(2.5)
            live = await court.send(K.GO_LIVE, 7, target={"kind": "hls"})
            assert live.ok and live.phase == "live"
            await court.transcript(7, 1, "审判长", "现在开庭")
            await court.transcript(7, 1, "审判长", "现在开庭")  # a duplicate is stored once
            await asyncio.sleep(3.5)
            paused_at = time.time()
            pause = await court.send(K.PAUSE, 7, reason="旁听人员喧哗")
            assert pause.ok and pause.phase == "paused"
            await asyncio.sleep(3.5)
            assert (await court.send(K.RESUME, 7)).ok
            await asyncio.sleep(3.0)
            await court.transcript(7, 2, "审判长", "现在休庭")
            await asyncio.sleep(0.5)
            stop = court.command(K.STOP, 7)
            await court.publish(stop)
            first = await court.ack_of(stop["id"])
            assert first.ok and first.phase == "idle" and not first.duplicate
            await court.publish(stop)  # delivered twice: answered twice, done once
            again = await court.ack_of(stop["id"], nth=1)
            assert again.ok and again.duplicate
            state = await court.wait_for(
                Leaf.STATE, lambda s: s["phase"] == "idle" and s.get("last_command_id")
            )
            assert state["room"] == "room-01"
            await court.wait_for(Leaf.EVENTS, lambda e: e["kind"] == "recording_stopped")
            assert court.inbox[Leaf.TELEMETRY], "telemetry arrives while the agent runs"

    sessions = list((cfg.data_dir / "recordings" / "7").iterdir())
    assert len(sessions) == 1, "a duplicate stop must not open or close another session"
    folder = sessions[0]
    manifest = mf.load(folder)
    assert mf.verify(folder) == []
    assert manifest.closed_at is not None and manifest.gaps == [] and manifest.set_aside == []
    assert manifest.time_overlay == "agent"
    video = sorted((s for s in manifest.segments if s.kind == "video"), key=lambda s: s.start)
    audio = [s for s in manifest.segments if s.kind == "audio"]
    assert len(video) >= 6 and audio
    for seg in manifest.segments:
        found = probe(folder / seg.file)
        assert found.ok, (seg.file, found.errors)
        assert abs(found.duration - seg.duration) < 0.25, seg.file
    for before, after in itertools.pairwise(video):
        # Contiguous: the pause and the stream switches never touched the recording.
        assert abs((after.start - before.end).total_seconds()) < 0.1
    assert abs(manifest.total("video") - manifest.total("audio")) < 1.0
    lines = mf.transcript_lines(folder)
    assert [line["seq"] for line in lines] == [0, 1, 2]
    for line in lines:
        at = datetime.fromisoformat(str(line["at"]))
        assert video[0].start <= at <= video[-1].end

    slate = Image.open(agent.slate_image).convert("L").resize((64, 36)).tobytes()
    shown: list[tuple[datetime, float, bool]] = []
    for seg in hls_segments(cfg.hls_dir / HLS_PLAYLIST):
        frames = gray_frames(seg.file)
        assert frames, seg.file
        slates = [_is_slate(f, slate) for f in frames]
        assert all(slates) or not any(slates), f"{seg.file.name} mixes slate and courtroom"
        shown.append((seg.start, seg.duration, slates[0]))
    slate_runs = [i for i, (_, _, s) in enumerate(shown) if s]
    assert slate_runs, "the slate was published"
    first_slate = slate_runs[0]
    last_courtroom_end = shown[first_slate - 1][0].timestamp() + shown[first_slate - 1][1]
    assert last_courtroom_end - paused_at < 1.0, "courtroom picture went out after the pause"
    assert shown[first_slate][0].timestamp() - paused_at < 1.0, "slate later than 1 s"
    assert not shown[-1][2], "resume brought the courtroom back"
    events = [e["kind"] for e in court.inbox[Leaf.EVENTS]]
    for kind in ("recording_started", "live", "slate_shown", "segment_closed"):
        assert kind in events
    assert json.loads((cfg.data_dir / "state.json").read_text())["phase"] == "idle"


async def test_rtmp_push_masks_the_public_picture_and_voice_but_never_the_recording(
    tmp_path: Path,
) -> None:
    """A real RTMP receiver (ffmpeg listening) gets the masked stream; the recording is whole."""
    import subprocess

    from streamd_protocol.media import ffmpeg_exe
    from tests.mqtt_support import free_port

    rtmp_port = free_port()
    received = tmp_path / "received.flv"
    url = f"rtmp://127.0.0.1:{rtmp_port}/live/line-1"
    listener = await asyncio.create_subprocess_exec(
        *[ffmpeg_exe(), "-v", "error", "-listen", "1", "-i", url, "-c", "copy", str(received)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.sleep(0.5)  # the listener opens its port
        async with broker_for(tmp_path) as (host, port):
            path, topics = room_config(tmp_path, port)
            cfg = load(path)
            async with running_agent(cfg), court_on(host, port, topics) as court:
                assert (await court.send(K.PREPARE, 11)).ok
                mask = {"regions": [{"x": 0.0, "y": 0.0, "w": 0.5, "h": 0.5}], "voice": True}
                target = {"kind": "rtmp", "url": url}
                assert (await court.send(K.GO_LIVE, 11, target=target, mask=mask)).ok
                await asyncio.sleep(5)
                assert (await court.send(K.STOP, 11)).ok
    finally:
        await asyncio.wait_for(listener.wait(), 15)

    def top_left_mean(frame: bytes) -> float:
        rows = [frame[y * 64 : y * 64 + 28] for y in range(2, 16)]  # away from the clock
        return sum(sum(r) for r in rows) / sum(len(r) for r in rows)

    public = gray_frames(received)
    assert len(public) > 50, "the line received the stream"
    assert all(top_left_mean(f) < 20 for f in public[5:]), "masked region is black"
    (folder,) = list((cfg.data_dir / "recordings" / "11").iterdir())
    video = sorted(s.file for s in mf.load(folder).segments if s.kind == "video")
    recorded = gray_frames(folder / video[1])
    assert recorded and all(top_left_mean(f) > 40 for f in recorded), "recording is unmasked"
    assert probe(received, stream="a").ok, "sound went out (pitch-shifted)"


async def test_a_camera_that_draws_the_time_is_recorded_without_re_encoding(
    tmp_path: Path,
) -> None:
    import subprocess

    from streamd_protocol.media import ffmpeg_exe

    camera = tmp_path / "camera.ts"
    made = await asyncio.create_subprocess_exec(
        *[ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
          "-f", "lavfi", "-i", "sine=sample_rate=48000", "-t", "6", "-c:v", "libx264",
          "-preset", "ultrafast", "-g", "25", "-c:a", "aac", str(camera)],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert await made.wait() == 0
    source = {"kind": "file", "url": str(camera), "codecs": "h264_aac", "draws_time": True}
    async with broker_for(tmp_path) as (host, port):
        path, topics = room_config(tmp_path / "room", port, source=source)
        cfg = load(path)
        assert cfg.agent.source.copyable
        async with running_agent(cfg), court_on(host, port, topics) as court:
            assert (await court.send(K.PREPARE, 12)).ok
            assert (await court.send(K.GO_LIVE, 12, target={"kind": "hls"})).ok
            await asyncio.sleep(5)
            assert (await court.send(K.STOP, 12)).ok
    (folder,) = list((cfg.data_dir / "recordings" / "12").iterdir())
    manifest = mf.load(folder)
    assert manifest.copied_from_source and manifest.time_overlay == "camera"
    assert mf.verify(folder) == [] and manifest.total("video") > 3
    for seg in manifest.segments:
        assert probe(folder / seg.file).ok, seg.file
    assert not (folder / CLOCK_FILE).exists(), "nothing was drawn: the camera copies"
    hls = list(cfg.hls_dir.glob("*.ts"))
    assert hls and all(gray_frames(p) for p in hls)


async def _rtmp_line(url: str, folder: Path) -> None:
    """A line that takes one push after another (an encoder reconnects on each switch),
    each saved to its own file, until cancelled."""
    import subprocess

    from streamd_protocol.media import ffmpeg_exe

    for n in itertools.count():
        out = folder / f"push-{n}.flv"
        proc = await asyncio.create_subprocess_exec(
            *[ffmpeg_exe(), "-v", "error", "-listen", "1", "-i", url, "-c", "copy", str(out)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()


async def test_a_line_move_sends_the_courtroom_to_the_new_line_and_the_recording_runs_on(
    tmp_path: Path,
) -> None:
    """restart_publisher with a target (the orchestrator's move off a line that went down):
    the public picture leaves the old line and reaches the new one; the recording's process
    and segments carry on untouched; a pause afterwards puts the slate on the new line."""
    from tests.mqtt_support import free_port

    pushes = tmp_path / "line-2"
    pushes.mkdir()
    url = f"rtmp://127.0.0.1:{free_port()}/live/line-2"
    line = asyncio.create_task(_rtmp_line(url, pushes))
    try:
        await asyncio.sleep(0.5)
        async with broker_for(tmp_path) as (host, port):
            path, topics = room_config(tmp_path, port)
            cfg = load(path)
            async with running_agent(cfg) as agent, court_on(host, port, topics) as court:
                assert (await court.send(K.PREPARE, 12)).ok
                assert (await court.send(K.GO_LIVE, 12, target={"kind": "hls"})).ok
                await asyncio.sleep(4)
                assert agent.recorder is not None
                recorder = agent.recorder.proc._proc
                assert recorder is not None
                target = {"kind": "rtmp", "url": url}
                moved = await court.send(K.RESTART_PUBLISHER, 12, target=target)
                moved_at = time.time()
                assert moved.ok and agent.publisher.mode == "live"
                assert agent.journal.state.target is not None
                assert agent.journal.state.target.url == url, "the new line is journaled"
                await asyncio.sleep(4)
                assert (await court.send(K.PAUSE, 12, reason="证人出庭")).ok
                assert agent.publisher.mode == "slate"
                await asyncio.sleep(4)
                assert agent.recorder.proc._proc is recorder and recorder.returncode is None
                assert (await court.send(K.STOP, 12)).ok
                await asyncio.sleep(0.5)
    finally:
        line.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await line

    old_line = hls_segments(cfg.hls_dir / HLS_PLAYLIST)
    assert old_line, "the first line carried the courtroom before the move"
    last_end = old_line[-1].start.timestamp() + old_line[-1].duration
    assert last_end - moved_at < 1.0, "nothing went out on the old line after the move"
    slate = Image.open(agent.slate_image).convert("L").resize((64, 36)).tobytes()
    received = [gray_frames(f, fps=5) for f in sorted(pushes.glob("push-*.flv"))]
    received = [frames for frames in received if frames]
    assert len(received) >= 2, "the courtroom, then the slate, each pushed to the new line"
    assert len(received[0]) >= 10 and not any(_is_slate(f, slate) for f in received[0])
    assert len(received[-1]) >= 5 and all(_is_slate(f, slate) for f in received[-1][1:])
    (folder,) = list((cfg.data_dir / "recordings" / "12").iterdir())
    manifest = mf.load(folder)
    assert mf.verify(folder) == [] and manifest.gaps == [] and len(manifest.runs) == 1
    assert manifest.total("video") > 10
