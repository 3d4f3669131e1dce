"""The pre-hearing self-test (庭前设备自检), run by the agent when its room prepares.

Each source must give frames neither black nor frozen, each microphone signal; the clock
must agree with the court's time source (the recording's time overlay must be true); the
disk must hold twice the planned length at the room's bitrate; the line's push address
must accept an RTMP handshake. A failed check is reported (streamd alerts on it); nothing
here ever stops or delays the recording, which is already running when this starts.

Judging is pure (`judge_*`); the probes are I/O and each one a parameter (`Probes`), so a
test can give a disk of its own size or a clock of its own offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import ffmpeg
import numpy as np

from agents import pipelines
from agents.config import AgentConfig
from streamd_protocol import CheckName, PublishTarget, SelfCheck, SelfTest, ffmpeg_exe, picture

SAMPLE_SECONDS = 2.0  # of picture and sound read from the source
SAMPLE_FPS = 4
SILENT_DB = -60.0  # a microphone whose loudest moment is below this has no signal
BLACK_SHARE = 0.5  # of the sampled frames black: the source is black
CLOCK_TOLERANCE_SECONDS = 1.0
DISK_MARGIN = 2.0  # free space for this many times the planned length
HANDSHAKE_SECONDS = 5.0
RTMP_HANDSHAKE = 1536
NTP_EPOCH = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)


@dataclass(frozen=True, slots=True)
class Sample:
    frames: list[picture.Thumb]
    max_volume_db: float | None  # None: the source has no sound at all


# ---- judging (pure) ------------------------------------------------------------------


def judge_video(frames: list[picture.Thumb], source: str) -> SelfCheck:
    def check(ok: bool, zh: str, en: str) -> SelfCheck:
        return SelfCheck(
            name=CheckName.VIDEO,
            source=source,
            ok=ok,
            value=float(len(frames)),
            detail_zh=zh,
            detail_en=en,
        )

    if len(frames) < 2:
        return check(False, "信号源无画面", "the source gives no frames")
    if sum(picture.is_black(f) for f in frames) >= BLACK_SHARE * len(frames):
        return check(False, "信号源画面全黑", "the source's picture is black")
    if all(picture.is_same_picture(a, b) for a, b in itertools.pairwise(frames)):
        return check(False, "信号源画面静止不动", "the source's picture is frozen")
    return check(True, "画面正常", "picture moves and is not black")


def judge_audio(max_volume_db: float | None, source: str) -> SelfCheck:
    ok = max_volume_db is not None and max_volume_db > SILENT_DB
    shown = "无声音" if max_volume_db is None else f"{max_volume_db:.1f} dB"
    return SelfCheck(
        name=CheckName.AUDIO,
        source=source,
        ok=ok,
        value=max_volume_db,
        detail_zh=f"话筒有信号（峰值 {shown}）" if ok else f"话筒无信号（峰值 {shown}）",
        detail_en=f"microphone has signal (peak {shown})"
        if ok
        else f"microphone silent (peak {shown})",
    )


def judge_clock(offset: float | None, via: str, tolerance: float) -> SelfCheck:
    if offset is None:
        return SelfCheck(
            name=CheckName.CLOCK,
            ok=None,
            detail_zh="无法测量时钟偏差（无 chrony，未配置授时服务器）",
            detail_en="clock offset unknown (no chrony, no time server configured)",
        )
    ok = abs(offset) <= tolerance
    return SelfCheck(
        name=CheckName.CLOCK,
        ok=ok,
        value=offset,
        detail_zh=f"与授时源（{via}）偏差 {offset:+.3f} 秒" + ("" if ok else "，时间叠加不准确"),
        detail_en=f"offset {offset:+.3f} s from the time source ({via})"
        + ("" if ok else ": the time overlay is wrong"),
    )


def bits_per_second(rate: str) -> int:
    """`2500k`, `2M`, `128000` as ffmpeg reads them."""
    scale = {"k": 1000, "M": 1_000_000}.get(rate[-1], 1)
    return int(rate.rstrip("kM")) * scale


def needed_bytes(cfg: AgentConfig, planned_seconds: int) -> int:
    src = cfg.agent.source
    rate = bits_per_second(src.video_bitrate) + bits_per_second(src.audio_bitrate)
    return int(DISK_MARGIN * planned_seconds * rate / 8)


def judge_disk(free: int | None, needed: int) -> SelfCheck:
    if free is None:
        return SelfCheck(
            name=CheckName.DISK,
            ok=None,
            detail_zh="无法读取剩余空间",
            detail_en="free space unknown",
        )
    ok = free >= needed
    gb = 1e9
    return SelfCheck(
        name=CheckName.DISK,
        ok=ok,
        value=float(free),
        detail_zh=f"剩余 {free / gb:.2f} GB，需 {needed / gb:.2f} GB（计划时长两倍）",
        detail_en=f"{free / gb:.2f} GB free, {needed / gb:.2f} GB needed "
        "(twice the planned length)",
    )


def judge_push(target: PublishTarget | None, error: str | None) -> SelfCheck:
    if target is None:
        return SelfCheck(
            name=CheckName.PUSH,
            ok=None,
            detail_zh="未告知推流地址",
            detail_en="no push address given",
        )
    if target.kind == "hls":
        return SelfCheck(
            name=CheckName.PUSH,
            ok=True,
            detail_zh="本院 HLS 输出，无需推流",
            detail_en="the court's own HLS output: nothing to push to",
        )
    host = urlsplit(target.url or "").hostname or "?"
    if error is None:
        return SelfCheck(
            name=CheckName.PUSH,
            ok=True,
            detail_zh=f"推流地址 {host} 握手成功",
            detail_en=f"push address {host} accepted the RTMP handshake",
        )
    return SelfCheck(
        name=CheckName.PUSH,
        ok=False,
        detail_zh=f"推流地址 {host} 无法握手：{error}"[:300],
        detail_en=f"push address {host} refused the handshake: {error}"[:300],
    )


# ---- probes (I/O) --------------------------------------------------------------------


def sample_argv(cfg: AgentConfig, seconds: float = SAMPLE_SECONDS) -> list[str]:
    """Small grey frames of the source on stdout, its loudest moment on stderr."""
    video, audio = pipelines._inputs(cfg.agent.source)
    w, h = picture.THUMB
    v = video.filter("fps", SAMPLE_FPS).filter("scale", w, h).filter("format", "gray")
    out_v = ffmpeg.output(v, "pipe:1", f="rawvideo", t=seconds)
    out_a = ffmpeg.output(audio.filter("volumedetect"), "-", f="null", t=seconds)
    merged = ffmpeg.merge_outputs(out_v, out_a).global_args("-nostdin", "-hide_banner")
    return [str(a) for a in merged.compile(cmd=ffmpeg_exe())]


_MAX_VOLUME = re.compile(r"max_volume:\s*(-?inf|-?\d+(?:\.\d+)?) dB")


def parse_sample(stdout: bytes, stderr: str) -> Sample:
    w, h = picture.THUMB
    n = len(stdout) // (w * h)
    frames = [
        np.frombuffer(stdout[i * w * h : (i + 1) * w * h], dtype=np.uint8).reshape(h, w)
        for i in range(n)
    ]
    found = _MAX_VOLUME.findall(stderr)
    volume = None
    if found:
        volume = float("-inf") if found[-1].endswith("inf") else float(found[-1])
    return Sample(frames, volume)


async def sample_source(cfg: AgentConfig) -> Sample:
    proc = await asyncio.create_subprocess_exec(
        *sample_argv(cfg),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), SAMPLE_SECONDS + 20)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return Sample([], None)
    return parse_sample(out, err.decode(errors="replace"))


def chrony_offset() -> float | None:
    """The system clock's offset from chrony's reference, if chrony runs here."""
    exe = shutil.which("chronyc")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-c", "tracking"], capture_output=True, text=True, timeout=3)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_chrony(out.stdout) if out.returncode == 0 else None


def parse_chrony(csv_line: str) -> float | None:
    """`chronyc -c tracking`: the fifth field is the system time's offset in seconds."""
    fields = csv_line.strip().split(",")
    try:
        return float(fields[4])
    except (IndexError, ValueError):
        return None


def sntp_offset(server: str, timeout: float = 2.0) -> float | None:
    """One SNTP exchange (RFC 4330): the local clock's offset from `server` (host[:port])."""
    host, _, port = server.partition(":")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            t0 = time.time()
            sock.sendto(b"\x1b" + 47 * b"\0", (host, int(port or 123)))
            data, _ = sock.recvfrom(512)
            t3 = time.time()
    except (OSError, ValueError):
        return None
    if len(data) < 48:
        return None

    def stamp(at: int) -> float:
        seconds, fraction = struct.unpack("!II", data[at : at + 8])
        return float(seconds - NTP_EPOCH + fraction / 2**32)

    t1, t2 = stamp(32), stamp(40)
    return ((t1 - t0) + (t2 - t3)) / 2


async def rtmp_handshake(url: str, within: float = HANDSHAKE_SECONDS) -> str | None:
    """None when the server completes the RTMP handshake (C0/C1 → S0/S1/S2 → C2); else why.
    Nothing is published: the key is not sent."""
    parts = urlsplit(url)
    tls = parts.scheme == "rtmps"
    host, port = parts.hostname or "", parts.port or (443 if tls else 1935)
    try:
        async with asyncio.timeout(within):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=ssl.create_default_context() if tls else None
            )
            try:
                c1 = struct.pack("!II", int(time.time()) & 0xFFFFFFFF, 0) + os.urandom(
                    RTMP_HANDSHAKE - 8
                )
                writer.write(b"\x03" + c1)
                await writer.drain()
                s0s1 = await reader.readexactly(1 + RTMP_HANDSHAKE)
                if s0s1[0] != 3:
                    return f"not an RTMP server (version byte {s0s1[0]})"
                writer.write(s0s1[1:])
                await writer.drain()
                await reader.readexactly(RTMP_HANDSHAKE)
            finally:
                writer.close()
                with contextlib.suppress(OSError, ssl.SSLError):
                    await writer.wait_closed()
    except TimeoutError:
        return f"no answer within {within:g} s"
    except (OSError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
        return type(exc).__name__ if not str(exc) else str(exc)
    return None


def disk_free(path: Path) -> int | None:
    """Free bytes where `path` is (or will be: its nearest existing folder)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


@dataclass(slots=True)
class Probes:
    """Every probe the self-test makes, replaceable one by one."""

    sample: Callable[[AgentConfig], Awaitable[Sample]] = sample_source
    disk_free: Callable[[Path], int | None] = disk_free
    clock: Callable[[str | None], tuple[float | None, str]] = field(
        default=lambda server: _clock(server)
    )
    handshake: Callable[[str], Awaitable[str | None]] = rtmp_handshake


def _clock(server: str | None) -> tuple[float | None, str]:
    offset = chrony_offset()
    if offset is not None:
        return offset, "chrony"
    if server:
        return sntp_offset(server), f"NTP {server}"
    return None, ""


async def run(
    cfg: AgentConfig,
    *,
    hearing_id: int | None,
    planned_seconds: int | None,
    target: PublishTarget | None,
    probes: Probes | None = None,
    default_planned_seconds: int = 3 * 3600,
) -> SelfTest:
    p = probes or Probes()
    source = cfg.agent.source.kind
    sampled, handshake_error = await asyncio.gather(
        p.sample(cfg),
        p.handshake(target.url)
        if target is not None and target.kind == "rtmp" and target.url
        else _none(),
    )
    offset, via = await asyncio.to_thread(p.clock, cfg.agent.time_server)
    free = await asyncio.to_thread(p.disk_free, cfg.data_dir)
    planned = planned_seconds if planned_seconds else default_planned_seconds
    checks = [
        judge_video(sampled.frames, source),
        judge_audio(sampled.max_volume_db, source),
        judge_clock(offset, via, cfg.agent.clock_tolerance_seconds),
        judge_disk(free, needed_bytes(cfg, planned)),
        judge_push(target, handshake_error),
    ]
    return SelfTest(room=cfg.room.code, hearing_id=hearing_id, at=datetime.now(UTC), checks=checks)


async def _none() -> None:
    return None
