"""The pre-hearing self-test (庭前设备自检) against real sources, a real disk probe, a real
RTMP server and a real agent: each failure is seen, and none stops the recording."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from agents import selftest
from agents.agent import Agent
from agents.config import AgentConfig, load
from streamd_protocol import CheckName, CommandKind, Leaf, PublishTarget, SelfTest
from streamd_protocol.media import ffmpeg_exe
from tests.mqtt_support import broker_for, court_on, free_port, room_config
from tests.rtmp_server import rtmp_server

pytestmark = [pytest.mark.ffmpeg, pytest.mark.slow]
K = CommandKind


def _clip(folder: Path, picture: str, sound: str) -> Path:
    path = folder / f"{picture.split('=')[0]}-{sound.split('=')[0]}.ts"
    subprocess.run(
        [
            *(ffmpeg_exe(), "-v", "error", "-y"),
            *("-f", "lavfi", "-i", f"{picture}{':' if '=' in picture else '='}s=320x180:r=25:d=6"),
            *("-f", "lavfi", "-i", f"{sound}:d=6" if "sine" in sound else sound),
            *("-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(path)),
        ],
        check=True,
    )
    return path


def _cfg(folder: Path, source: dict[str, Any] | None = None) -> AgentConfig:
    src = {"video_size": "320x180", "fps": 25, **(source or {})}
    path, _ = room_config(folder, 1883, source=src)
    return load(path)


def _by_name(report: SelfTest) -> dict[CheckName, Any]:
    return {c.name: c for c in report.checks}


def _no_clock(server: str | None) -> tuple[float | None, str]:
    return None, ""


async def _run(cfg: AgentConfig, **kw: Any) -> dict[CheckName, Any]:
    probes = kw.pop("probes", selftest.Probes(clock=_no_clock))
    report = await selftest.run(cfg, hearing_id=7, probes=probes, **kw)
    assert report.room == "room-01" and report.hearing_id == 7
    return _by_name(report)


async def test_a_working_room_passes_and_the_push_address_shakes_hands(tmp_path: Path) -> None:
    async with rtmp_server(tmp_path, {"k"}) as server:
        target = PublishTarget(kind="rtmp", url=f"{server.push_url}/k")
        checks = await _run(_cfg(tmp_path), planned_seconds=3600, target=target)
    assert checks[CheckName.VIDEO].ok is True, checks[CheckName.VIDEO]
    assert checks[CheckName.AUDIO].ok is True, checks[CheckName.AUDIO]
    assert checks[CheckName.DISK].ok is True
    assert checks[CheckName.PUSH].ok is True, checks[CheckName.PUSH]
    assert checks[CheckName.CLOCK].ok is None and "unknown" in checks[CheckName.CLOCK].detail_en
    assert server.refused == [], "a handshake sends no key and publishes nothing"


async def test_a_black_source_fails_the_picture_check(tmp_path: Path) -> None:
    clip = _clip(tmp_path, "color=black", "sine=frequency=300")
    checks = await _run(
        _cfg(tmp_path, {"kind": "file", "url": str(clip)}),
        planned_seconds=60,
        target=PublishTarget(kind="hls"),
    )
    assert checks[CheckName.VIDEO].ok is False and "黑" in checks[CheckName.VIDEO].detail_zh
    assert checks[CheckName.AUDIO].ok is True


async def test_a_frozen_source_fails_the_picture_check(tmp_path: Path) -> None:
    clip = _clip(tmp_path, "smptebars", "sine=frequency=300")
    checks = await _run(
        _cfg(tmp_path, {"kind": "file", "url": str(clip)}), planned_seconds=60, target=None
    )
    assert checks[CheckName.VIDEO].ok is False and "frozen" in checks[CheckName.VIDEO].detail_en
    assert checks[CheckName.PUSH].ok is None  # nothing said where it will push


async def test_a_silent_microphone_fails_the_sound_check(tmp_path: Path) -> None:
    clip = _clip(tmp_path, "testsrc2", "anullsrc=r=48000:cl=stereo")
    checks = await _run(
        _cfg(tmp_path, {"kind": "file", "url": str(clip)}), planned_seconds=60, target=None
    )
    assert checks[CheckName.VIDEO].ok is True
    assert checks[CheckName.AUDIO].ok is False and "无信号" in checks[CheckName.AUDIO].detail_zh


async def test_a_disk_without_room_for_twice_the_hearing_fails(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    needed = selftest.needed_bytes(cfg, 2 * 3600)
    # 2 h at 2.5 Mb/s + 128 kb/s, twice over: about 4.7 GB
    assert 4.5e9 < needed < 5e9
    probes = selftest.Probes(clock=_no_clock, disk_free=lambda _path: needed - 1)
    checks = await _run(cfg, planned_seconds=2 * 3600, target=None, probes=probes)
    assert checks[CheckName.DISK].ok is False and "needed" in checks[CheckName.DISK].detail_en
    probes = selftest.Probes(clock=_no_clock, disk_free=lambda _path: needed)
    checks = await _run(cfg, planned_seconds=2 * 3600, target=None, probes=probes)
    assert checks[CheckName.DISK].ok is True


async def test_an_unreachable_push_address_fails(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    target = PublishTarget(kind="rtmp", url=f"rtmp://127.0.0.1:{closed}/live/k")
    checks = await _run(_cfg(tmp_path), planned_seconds=60, target=target)
    assert checks[CheckName.PUSH].ok is False, checks[CheckName.PUSH]
    assert "127.0.0.1" in checks[CheckName.PUSH].detail_en


async def test_the_clock_is_checked_against_the_court_s_ntp_server() -> None:
    """A real SNTP exchange with a server 5 s ahead of this machine."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    loop = asyncio.get_running_loop()

    async def answer() -> None:
        data, peer = await loop.sock_recvfrom(sock, 512)
        now = time.time() + 5 + selftest.NTP_EPOCH
        stamp = struct.pack("!II", int(now), int((now % 1) * 2**32))
        reply = b"\x24\x01\x00\x00" + b"\0" * 20 + data[40:48] + stamp + stamp
        await loop.sock_sendto(sock, reply, peer)

    server = asyncio.create_task(answer())
    offset = await asyncio.to_thread(selftest.sntp_offset, f"127.0.0.1:{port}")
    await server
    sock.close()
    assert offset is not None and abs(offset - 5) < 0.5, offset
    check = selftest.judge_clock(offset, "NTP", 1.0)
    assert check.ok is False and "overlay" in check.detail_en
    assert selftest.judge_clock(0.2, "chrony", 1.0).ok is True
    assert selftest.parse_chrony("A29FC87B,ntp.example,3,1.0,-0.000123,0.1") == -0.000123


@pytest.mark.broker
async def test_a_room_reports_its_self_test_when_it_prepares_and_records_anyway(
    tmp_path: Path,
) -> None:
    async with broker_for(tmp_path) as (host, port):
        clip = _clip(tmp_path, "color=black", "anullsrc=r=48000:cl=stereo")
        path, topics = room_config(
            tmp_path, port, source={"kind": "file", "url": str(clip), "video_size": "320x180"}
        )
        probes = selftest.Probes(clock=_no_clock, disk_free=lambda _p: 1000)
        cfg = load(path)
        async with running_agent_with(cfg, probes) as agent, court_on(host, port, topics) as court:
            ack = await court.send(K.PREPARE, 12, planned_seconds=1800, target={"kind": "hls"})
            assert ack.ok
            report = await court.wait_for(Leaf.SELFTEST, lambda r: r.get("hearing_id") == 12)
            failed = {c["name"] for c in report["checks"] if c.get("ok") is False}
            SelfTest.model_validate(report)  # what streamd reads
            assert failed == {"video", "audio", "disk"}, report
            assert agent.recorder is not None, "a failed self-test never stops the recording"
            await asyncio.sleep(3)
            assert agent.recorder.segments > 0
            assert (await court.send(K.STOP, 12)).ok


def running_agent_with(cfg: AgentConfig, probes: selftest.Probes) -> Any:
    """tests.mqtt_support.running_agent, with the self-test's probes given."""

    @contextlib.asynccontextmanager
    async def run() -> Any:
        agent = Agent(cfg, probes=probes)
        task = asyncio.create_task(agent.run())
        try:
            await asyncio.wait_for(agent.connected.wait(), 10)
            yield agent
        finally:
            agent.stop()
            await asyncio.wait_for(task, 30)

    return run()
