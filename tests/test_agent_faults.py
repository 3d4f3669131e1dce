"""The agent under fire: bad payloads, a kill -9 mid-recording, a broker restart."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
from pathlib import Path

import pytest

from agents.config import load
from streamd_protocol import CommandKind, ErrorCode, Leaf, sign
from streamd_protocol import manifest as mf
from streamd_protocol.media import probe
from tests.mqtt_support import (
    PrivateBroker,
    broker_for,
    court_on,
    room_config,
    running_agent,
    spawn_agent,
)

K = CommandKind


def _check_recording(folder: Path) -> mf.Manifest:
    """Verifies, decodes, and is contiguous apart from the gaps it declares."""
    manifest = mf.load(folder)
    assert mf.verify(folder) == []
    for seg in manifest.segments:
        found = probe(folder / seg.file)
        assert found.ok, (seg.file, found.errors)
    for aside in manifest.set_aside:
        assert aside.file not in manifest.listed()
    video = sorted((s for s in manifest.segments if s.kind == "video"), key=lambda s: s.start)
    for before, after in itertools.pairwise(video):
        hole = (after.start - before.end).total_seconds()
        if after.run == before.run:
            assert abs(hole) < 0.1, f"hole of {hole:.2f} s inside run {after.run}"
        elif hole >= 0.1:
            assert any(abs((g.end - after.start).total_seconds()) < 0.01 for g in manifest.gaps), (
                f"undeclared hole of {hole:.2f} s before {after.file}"
            )
    return manifest


@pytest.mark.broker
async def test_bad_commands_get_error_acks_and_counters_and_nothing_breaks(
    tmp_path: Path,
) -> None:
    async with broker_for(tmp_path) as (host, port):
        path, topics = room_config(tmp_path, port)
        async with running_agent(load(path)) as agent, court_on(host, port, topics) as court:
            await court.publish(b"\xff not json")
            ack = await court.ack_of(None)
            assert not ack.ok and ack.error is ErrorCode.MALFORMED

            forged = court.command(K.GO_LIVE, target={"kind": "rtmp", "url": "rtmp://evil/x"})
            forged["sig"] = "0" * 64
            await court.publish(forged)
            ack = await court.ack_of(forged["id"])
            assert ack.error is ErrorCode.UNAUTHORISED

            court.secret = "s3cret"
            other = court.command(K.PREPARE)
            other["room"] = "room-02"
            other["sig"] = sign(other, "s3cret")
            await court.publish(other)
            ack = await court.ack_of(other["id"])
            assert ack.error is ErrorCode.UNAUTHORISED and "room-01" in ack.message

            stale = court.command(K.PREPARE, age=60)
            await court.publish(stale)
            assert (await court.ack_of(stale["id"])).error is ErrorCode.EXPIRED

            ack = await court.send(K.GO_LIVE, target={"kind": "hls"})
            assert ack.error is ErrorCode.WRONG_STATE and "prepare" in ack.message

            bad_line = b'{"v":1,"hearing_id":1,"seq":0,"speaker":"x"}'
            await court.client.publish(topics.transcript, bad_line, qos=1)
            await court.wait_for(Leaf.EVENTS, lambda e: e["kind"] == "transcript_rejected")

            stop = court.command(K.STOP)  # still answering, still idle
            await court.publish(stop)
            ack = await court.ack_of(stop["id"])
            assert ack.ok and ack.phase == "idle"
            state = await court.wait_for(
                Leaf.STATE, lambda s: s.get("last_command_id") == stop["id"]
            )
            assert state["rejected"] == {
                "malformed": 1,
                "unauthorised": 2,
                "expired": 1,
                "wrong_state": 1,
                "transcript_malformed": 1,
            }
            assert len(court.events("command_rejected")) == 5
    assert not (agent.cfg.data_dir / "recordings").exists(), "nothing was recorded"


@pytest.mark.broker
@pytest.mark.ffmpeg
@pytest.mark.slow
async def test_kill_9_mid_recording_then_restart_resumes_and_records_the_gap(
    tmp_path: Path,
) -> None:
    async with broker_for(tmp_path) as (host, port):
        path, topics = room_config(tmp_path, port)
        cfg = load(path)
        proc = await spawn_agent(path)
        try:
            async with court_on(host, port, topics) as court:
                await court.wait_for(Leaf.STATE, lambda s: s["phase"] == "idle", 30)
                assert (await court.send(K.PREPARE, 9)).ok
                assert (await court.send(K.GO_LIVE, 9, target={"kind": "hls"})).ok
                await asyncio.sleep(5)
                proc.kill()
                await proc.wait()
                offline = await court.wait_for(Leaf.STATE, lambda s: s["phase"] == "offline", 10)
                assert offline["room"] == "room-01"
                await asyncio.sleep(2)
                proc = await spawn_agent(path)
                await court.wait_for(Leaf.EVENTS, lambda e: e["kind"] == "recovered", 30)
                state = await court.wait_for(
                    Leaf.STATE, lambda s: s["phase"] == "live" and s["hearing_id"] == 9, 30, nth=1
                )
                assert state["session"]
                await asyncio.sleep(5)
                ack = await court.send(K.STOP, 9)
                assert ack.ok and ack.phase == "idle"
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)
    (folder,) = list((cfg.data_dir / "recordings" / "9").iterdir())
    manifest = _check_recording(folder)
    assert manifest.closed_at is not None
    assert len(manifest.gaps) == 1
    gap = manifest.gaps[0]
    assert gap.cause == "agent restarted"
    assert 1.0 < gap.seconds < 15.0
    assert len({s.run for s in manifest.segments}) == 2
    events = [json.loads(x) for x in (cfg.data_dir / "events.jsonl").read_text().splitlines()]
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert any(e["kind"] == "gap" and e["data"]["process"] == "recorder" for e in events)


@pytest.mark.broker
@pytest.mark.ffmpeg
@pytest.mark.slow
async def test_a_broker_restart_leaves_the_recording_untouched(tmp_path: Path) -> None:
    broker = PrivateBroker(tmp_path)
    broker.start()
    path, topics = room_config(tmp_path, broker.port)
    cfg = load(path)
    try:
        async with running_agent(cfg) as agent:
            async with court_on("127.0.0.1", broker.port, topics) as court:
                assert (await court.send(K.PREPARE, 5)).ok
                await asyncio.sleep(3)
                broker.kill()
            sent_before = agent.journal.sent
            await asyncio.sleep(4)  # segments close while the broker is away
            assert agent.journal.count > sent_before, "events were raised during the outage"
            outage_seqs = set(range(sent_before, agent.journal.count))
            broker.start()
            async with court_on("127.0.0.1", broker.port, topics) as court:
                state = await court.wait_for(Leaf.STATE, lambda s: s["phase"] == "ready", 10)
                assert state["hearing_id"] == 5
                for seq in outage_seqs:
                    await court.wait_for(Leaf.EVENTS, lambda e, seq=seq: e["seq"] == seq, 10)
                await asyncio.sleep(2)
                assert (await court.send(K.STOP, 5)).ok
    finally:
        broker.kill()
    (folder,) = list((cfg.data_dir / "recordings" / "5").iterdir())
    manifest = _check_recording(folder)
    assert manifest.gaps == [] and len(manifest.runs) == 1
    assert manifest.total("video") > 8


@pytest.mark.broker
@pytest.mark.ffmpeg
@pytest.mark.slow
async def test_a_crashed_or_stalled_ffmpeg_restarts_and_the_gap_is_reported(
    tmp_path: Path,
) -> None:
    def pid_of(supervised: object) -> int:
        proc = supervised._proc  # type: ignore[attr-defined]
        assert proc is not None and proc.returncode is None
        return int(proc.pid)

    async with broker_for(tmp_path) as (host, port):
        path, topics = room_config(tmp_path, port, stall_seconds=2.0)
        async with running_agent(load(path)) as agent, court_on(host, port, topics) as court:
            assert (await court.send(K.PREPARE, 3)).ok
            assert (await court.send(K.GO_LIVE, 3, target={"kind": "hls"})).ok
            await asyncio.sleep(3)
            assert agent.recorder is not None
            os.kill(pid_of(agent.recorder.proc), signal.SIGKILL)
            gap = await court.wait_for(
                Leaf.EVENTS, lambda e: e["kind"] == "gap" and e["data"]["process"] == "recorder"
            )
            assert gap["data"]["seconds"] < 5.0, "restarted within the backoff"
            await asyncio.sleep(2)
            os.kill(pid_of(agent.recorder.proc), signal.SIGSTOP)  # alive, silent
            stalled = await court.wait_for(
                Leaf.EVENTS,
                lambda e: e["kind"] == "process_exited" and "stalled" in e["message"],
            )
            assert stalled["data"]["process"] == "recorder"
            await court.wait_for(
                Leaf.EVENTS,
                lambda e: e["kind"] == "gap" and e["data"]["process"] == "recorder",
                nth=1,
            )
            os.kill(pid_of(agent.publisher._proc), signal.SIGKILL)
            public = await court.wait_for(
                Leaf.EVENTS, lambda e: e["kind"] == "gap" and e["data"]["process"] == "publisher"
            )
            assert public["data"]["seconds"] < 5.0
            await asyncio.sleep(2)
            assert (await court.send(K.STOP, 3)).ok
    (folder,) = list((agent.cfg.data_dir / "recordings" / "3").iterdir())
    manifest = _check_recording(folder)
    causes = [g.cause for g in manifest.gaps]
    assert len(causes) == 2 and causes[0].startswith("exited") and causes[1].startswith("stalled")
    assert all(g.seconds < 6.0 for g in manifest.gaps)


@pytest.mark.broker
@pytest.mark.slow
async def test_a_recorder_that_cannot_start_fails_the_prepare_and_leaves_the_room_idle(
    tmp_path: Path,
) -> None:
    async with broker_for(tmp_path) as (host, port):
        path, topics = room_config(tmp_path, port)
        no_ffmpeg = {"STREAMD_FFMPEG": str(tmp_path / "no-such-ffmpeg")}
        proc = await spawn_agent(path, env=os.environ | no_ffmpeg)
        try:
            async with court_on(host, port, topics) as court:
                await court.wait_for(Leaf.STATE, lambda s: s["phase"] == "idle", 30)
                ack = await court.send(K.PREPARE, 4)
                assert ack.error is ErrorCode.FAILED and "no-such-ffmpeg" in ack.message
                assert ack.phase == "idle"
                live = await court.send(K.GO_LIVE, 4, target={"kind": "hls"})
                assert live.error is ErrorCode.WRONG_STATE, "nothing airs without a recording"
        finally:
            proc.terminate()
            assert await asyncio.wait_for(proc.wait(), 30) == 0


@pytest.mark.broker
@pytest.mark.ffmpeg
@pytest.mark.slow
async def test_an_agent_stopped_mid_hearing_resumes_the_same_session(tmp_path: Path) -> None:
    """SIGTERM (a service restart) closes segments cleanly; the next start carries on."""
    async with broker_for(tmp_path) as (host, port):
        path, topics = room_config(tmp_path, port)
        cfg = load(path)
        async with court_on(host, port, topics) as court:
            async with running_agent(cfg):
                assert (await court.send(K.PREPARE, 6)).ok
                await asyncio.sleep(3)
            async with running_agent(cfg):
                await court.wait_for(Leaf.EVENTS, lambda e: e["kind"] == "recovered", 20)
                await asyncio.sleep(3)
                assert (await court.send(K.STOP, 6)).ok
    (folder,) = list((cfg.data_dir / "recordings" / "6").iterdir())
    manifest = _check_recording(folder)
    assert manifest.closed_at is not None and len(manifest.runs) == 2
    # In-process the restart takes tens of milliseconds: a gap is recorded only if longer.
    assert all(g.cause == "stopped" for g in manifest.gaps) and len(manifest.gaps) <= 1
    assert manifest.set_aside == [] and not any(s.recovered for s in manifest.segments)


@pytest.mark.broker
@pytest.mark.slow
async def test_a_technicians_restart_gives_a_fresh_encoder_in_the_same_mode(
    tmp_path: Path,
) -> None:
    """restart_publisher: a new publisher process, courtroom or slate as before, and the
    recording's process untouched; with nothing public it does nothing."""

    def pid_of(supervised: object) -> int:
        proc = supervised._proc  # type: ignore[attr-defined]
        assert proc is not None and proc.returncode is None
        return int(proc.pid)

    async with broker_for(tmp_path) as (host, port):
        path, topics = room_config(tmp_path, port)
        async with running_agent(load(path)) as agent, court_on(host, port, topics) as court:
            assert (await court.send(K.PREPARE, 4)).ok
            idle = await court.send(K.RESTART_PUBLISHER, 4)
            assert idle.ok and idle.message == "nothing public to restart"
            assert (await court.send(K.GO_LIVE, 4, target={"kind": "hls"})).ok
            await asyncio.sleep(1.5)
            assert agent.recorder is not None
            recorder, publisher = pid_of(agent.recorder.proc), pid_of(agent.publisher._proc)
            ack = await court.send(K.RESTART_PUBLISHER, 4)
            assert ack.ok and ack.message == "publisher restarted"
            assert agent.publisher.mode == "live" and pid_of(agent.publisher._proc) != publisher
            assert pid_of(agent.recorder.proc) == recorder
            assert (await court.send(K.PAUSE, 4, reason="旁听人员喧哗")).ok
            ack = await court.send(K.RESTART_PUBLISHER, 4)
            assert ack.ok and agent.publisher.mode == "slate"  # never the courtroom
            assert (await court.send(K.STOP, 4)).ok
