"""Agent benchmark: CPU per courtroom, copy mode and re-encode mode, against bare ffmpeg.

    .venv/bin/python -m bench.agent                  # 20 s per mode
    .venv/bin/python -m bench.agent --seconds 60 --size 1920x1080
    .venv/bin/python -m bench.agent --reconnect 5    # also: broker restarts, 5 times
    .venv/bin/python -m bench.agent --pauses 10      # also: pause latency on the HLS output
    .venv/bin/python -m bench.agent --views 6 --seconds 8 --size 1920x1080   # a courtroom host

Per mode, one courtroom records and publishes (HLS) a 720p25 H.264/AAC source for the
given time, driven over MQTT like production. The peer is the same two ffmpeg command
lines run bare, with no agent around them, in the same run: the ratio is what the agent's
supervision, segment hashing, manifest, events and telemetry cost on top of the work
ffmpeg has to do anyway. CPU is user+system seconds of the whole process tree (psutil).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil

from agents import pipelines
from agents.config import AgentConfig, load
from streamd_protocol import CommandKind, Leaf, Mask, PublishTarget, Topics
from streamd_protocol.media import ffmpeg_exe, hls_segments
from tests.mqtt_support import (
    Court,
    PrivateBroker,
    broker_for,
    court_on,
    room_config,
    spawn_agent,
)
from tests.rooms_support import rooms_config


def make_source(folder: Path, size: str, seconds: int) -> Path:
    """An H.264/AAC file with the time burnt in, as a copy-capable camera would send."""
    out = folder / "camera.ts"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-b:v", "2500k",
         "-c:a", "aac", "-b:a", "128k", str(out)],
        check=True,
    )  # fmt: skip
    return out


def tree_cpu(root: psutil.Process) -> dict[int, float]:
    out = {}
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
    return out


def cpu_between(roots: list[psutil.Process], seconds: float) -> float:
    """CPU seconds the process trees used over `seconds` of wall time, from steady state."""
    before = [tree_cpu(r) for r in roots]
    time.sleep(seconds)
    after = [tree_cpu(r) for r in roots]
    return sum(a[p] - b.get(p, 0.0) for a, b in zip(after, before, strict=True) for p in a)


@contextlib.asynccontextmanager
async def live_room(
    folder: Path, **config: Any
) -> AsyncIterator[tuple[Court, asyncio.subprocess.Process, AgentConfig]]:
    """A courtroom agent process, prepared and live to HLS; stopped and ended afterwards."""
    async with broker_for(folder) as (host, port):
        path, topics = room_config(folder, port, **config)
        proc = await spawn_agent(path)
        try:
            async with court_on(host, port, topics) as court:
                await court.wait_for(Leaf.STATE, lambda s: s["phase"] == "idle", 30)
                assert (await court.send(CommandKind.PREPARE, 1)).ok
                assert (await court.send(CommandKind.GO_LIVE, 1, target={"kind": "hls"})).ok
                yield court, proc, load(path)
                assert (await court.send(CommandKind.STOP, 1)).ok
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)


async def agent_run(folder: Path, source: dict[str, object], seconds: float) -> float:
    async with live_room(folder, source=source, segment_seconds=10) as (_, proc, _cfg):
        await asyncio.sleep(3)  # past ffmpeg start-up
        return await asyncio.to_thread(cpu_between, [psutil.Process(proc.pid)], seconds)


def bare_run(folder: Path, source: dict[str, object], seconds: float) -> float:
    path, _ = room_config(folder, 1883, source=source, segment_seconds=10)
    cfg = load(path)
    session = folder / "bare"
    for sub in ("video", "audio", "runs"):
        (session / sub).mkdir(parents=True, exist_ok=True)
    argvs = [
        pipelines.recorder(cfg, session, 0),
        pipelines.live(cfg, PublishTarget(kind="hls"), Mask(), session, 1),
    ]
    quiet = {"stdin": subprocess.PIPE, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen(a, **quiet) for a in argvs]  # type: ignore[call-overload]
    time.sleep(3)
    used = cpu_between([psutil.Process(p.pid) for p in procs], seconds)
    for p in procs:
        p.kill()
        p.wait()
    return used


PATTERNS = ("testsrc2", "smptebars", "rgbtestsrc", "pal75bars", "testsrc", "mandelbrot")


def host_room(folder: Path, port: int, size: str, views: int) -> Path:
    """A courtroom host: `views` cameras at half the canvas each, three microphones."""
    w, h = (int(x) for x in size.split("x"))
    cams = [
        {"name": f"cam{i}", "pattern": PATTERNS[i % 6], "video_size": f"{w // 2}x{h // 2}"}
        for i in range(views)
    ]
    mics = [{"name": f"mic{i}", "tone": 300 + 200 * i, "view": f"cam{i}"} for i in range(3)]
    comp = {"size": size, "fps": 25, "layout": "1+5" if views > 4 else "2x2"}
    path, _ = rooms_config(
        folder, port, views=cams, channels=mics, composition=comp, segment_seconds=10
    )
    return path


async def host_run(
    folder: Path, size: str, views: int, seconds: float
) -> tuple[float, list[float]]:
    """CPU of the agent's process tree, and how long each pin took to be on the picture
    (the compose ack comes after both encoders' zmq filters answered)."""
    async with broker_for(folder) as (host, port):
        path = host_room(folder, port, size, views)
        cfg = load(path)
        proc = await spawn_agent(path)
        try:
            async with court_on(host, port, Topics(cfg.court, cfg.room.code)) as court:
                await court.wait_for(Leaf.STATE, lambda s: s["phase"] == "idle", 30)
                assert (await court.send(CommandKind.PREPARE, 1)).ok
                assert (await court.send(CommandKind.GO_LIVE, 1, target={"kind": "hls"})).ok
                await asyncio.sleep(3)
                used = await asyncio.to_thread(cpu_between, [psutil.Process(proc.pid)], seconds)
                took = []
                for i in range(10):
                    t0 = time.monotonic()
                    ack = await court.send(CommandKind.COMPOSE, 1, pin=f"cam{i % views}")
                    assert ack.ok, ack.message
                    took.append(time.monotonic() - t0)
                    await asyncio.sleep(0.3)
                assert (await court.send(CommandKind.STOP, 1)).ok
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)
    return used, took


class Progress:
    """The media seconds an ffmpeg has written so far, read from its `-progress pipe:1`
    (a progress file is only flushed when ffmpeg closes it)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b"out_time_us=") and line[12:].strip().isdigit():
                self.seconds = int(line[12:]) / 1e6


def host_bare(folder: Path, size: str, views: int, seconds: float) -> tuple[float, float]:
    """The same two ffmpeg command lines (record with tracks, composed line), bare: their
    CPU, and how fast the recorder writes media against the wall clock (its inputs are
    read at their own pace, so 1.00 is keeping up and less is a CPU-starved room)."""
    cfg = load(host_room(folder, 1883, size, views))
    session = folder / "bare"
    record = pipelines.recorder(cfg, session, 0)
    argvs = [
        [record[0], "-progress", "pipe:1", "-stats_period", "0.5", *record[1:]],
        pipelines.live(cfg, PublishTarget(kind="hls"), Mask(), session, 1),
    ]
    for sub in ("video", "audio", "runs", *(f"views/cam{i}" for i in range(views))):
        (session / sub).mkdir(parents=True, exist_ok=True)
    for i in range(3):
        (session / f"channels/mic{i}").mkdir(parents=True, exist_ok=True)
    quiet = {"stdin": subprocess.PIPE, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    recorder = subprocess.Popen(argvs[0], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)  # fmt: skip
    procs = [recorder, subprocess.Popen(argvs[1], **quiet)]  # type: ignore[call-overload]
    progress = Progress(recorder)
    time.sleep(3)
    media, wall = progress.seconds, time.monotonic()
    used = cpu_between([psutil.Process(p.pid) for p in procs], seconds)
    speed = (progress.seconds - media) / (time.monotonic() - wall)
    for p in procs:
        p.kill()
        p.wait()
    return used, speed


def hosts(root: Path, size: str, views: int, seconds: float) -> None:
    ours, took = asyncio.run(host_run(root / "host-agent", size, views, seconds))
    peer, speed = host_bare(root / "host-bare", size, views, seconds)
    rate, peer_rate = ours / seconds, peer / seconds
    print(
        f"courtroom host, {views} views at half of {size}p25 each, 3 mics, composite + "
        f"{views + 3} tracks recorded, composed HLS line; {seconds:g} s"
    )
    need = rate / max(speed, 0.01)
    print(f"{'agent':>8} {'bare ffmpeg':>12} {'ratio':>7} {'real time':>10} {'cores needed':>13}")
    print(f"{rate:>8.3f} {peer_rate:>12.3f} {rate / peer_rate:>7.2f} {speed:>10.2f} {need:>13.2f}")
    if speed < 0.97:
        print(
            f"the bare recorder ran at {speed:.2f}x real time: this machine is too small for "
            f"the room; 'cores needed' scales its CPU up to real time"
        )
    print(
        f"pin -> on both encoders' picture: median {statistics.median(took) * 1000:.0f} ms, "
        f"max {max(took) * 1000:.0f} ms over {len(took)} pins"
    )


async def reconnects(folder: Path, times: int, outage: float) -> list[float]:
    """Seconds from a restarted broker accepting connections to the agent's state on it."""
    broker = PrivateBroker(folder)
    broker.start()
    path, topics = room_config(folder, broker.port)
    proc = await spawn_agent(path)
    took = []
    try:
        async with court_on("127.0.0.1", broker.port, topics, None) as court:
            await court.wait_for(Leaf.STATE, lambda s: s["phase"] == "idle", 30)
        for _ in range(times):
            broker.kill()
            await asyncio.sleep(outage)
            broker.start()
            began = time.monotonic()
            async with court_on("127.0.0.1", broker.port, topics, None) as court:
                await court.wait_for(Leaf.STATE, lambda s: s["phase"] == "idle", 30)
                took.append(time.monotonic() - began)
                print(f"  reconnect {len(took)}: {took[-1]:.2f} s", flush=True)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        broker.kill()
    return took


async def pauses(folder: Path, times: int) -> list[tuple[float, float, float]]:
    """Per pause: seconds from sending it to its ack, to the last courtroom picture on the
    public output, and to the first slate picture there (HLS program date-times)."""
    marks: list[tuple[float, float, str]] = []
    async with live_room(folder, hls_list_size=100000) as (court, _, cfg):
        for _ in range(times):
            await asyncio.sleep(3)
            listed = hls_segments(cfg.hls_dir / pipelines.HLS_PLAYLIST)
            live_prefix = listed[-1].file.name.split("_")[0]
            sent = time.time()
            ack = await court.send(CommandKind.PAUSE, 1, reason="bench")
            assert ack.ok
            marks.append((sent, time.time(), live_prefix))
            await asyncio.sleep(3)
            assert (await court.send(CommandKind.RESUME, 1)).ok
        await asyncio.sleep(2)
    segments = hls_segments(cfg.hls_dir / pipelines.HLS_PLAYLIST)
    out = []
    for sent, acked, live_prefix in marks:
        live = [s for s in segments if s.file.name.startswith(live_prefix)]
        cut = live[-1].start.timestamp() + live[-1].duration
        after = [
            s
            for s in segments
            if s.start.timestamp() >= cut - 0.001 and not s.file.name.startswith(live_prefix)
        ]
        out.append((acked - sent, cut - sent, after[0].start.timestamp() - sent))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--reconnect", type=int, default=0, metavar="N")
    parser.add_argument("--pauses", type=int, default=0, metavar="N")
    parser.add_argument("--views", type=int, default=0, metavar="N", help="a courtroom host only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.views:
            hosts(root, args.size, args.views, args.seconds)
            return
        camera = make_source(root, args.size, 30)
        modes = {
            "copy": {"kind": "file", "url": str(camera), "codecs": "h264_aac", "draws_time": True},
            "re-encode": {"kind": "file", "url": str(camera), "video_size": args.size},
        }
        print(f"one courtroom, {args.size}p25 H.264/AAC source, record + HLS publish, "
              f"{args.seconds:g} s per run; CPU = user+sys seconds per wall second")  # fmt: skip
        print(f"{'mode':<10} {'agent':>8} {'bare ffmpeg':>12} {'ratio':>7} {'cores/room':>11}")
        for name, source in modes.items():
            ours = asyncio.run(agent_run(root / f"agent-{name}", source, args.seconds))
            peer = bare_run(root / f"bare-{name}", source, args.seconds)
            rate, peer_rate = ours / args.seconds, peer / args.seconds
            print(
                f"{name:<10} {rate:>8.3f} {peer_rate:>12.3f} {rate / peer_rate:>7.2f} {rate:>11.3f}"
            )
        if args.reconnect:
            (root / "reconnect").mkdir()
            took = asyncio.run(reconnects(root / "reconnect", args.reconnect, 3.0))
            print(
                f"broker restarted {len(took)}x after 3 s down: agent state back on it in "
                f"median {statistics.median(took):.2f} s, max {max(took):.2f} s "
                "(target < 2 s)"
            )
        if args.pauses:
            rows = asyncio.run(pauses(root / "pauses", args.pauses))
            for name, i in (("ack", 0), ("courtroom cut", 1), ("slate on air", 2)):
                vals = sorted(r[i] for r in rows)
                print(
                    f"pause -> {name:<14} median {statistics.median(vals) * 1000:6.0f} ms, "
                    f"max {vals[-1] * 1000:6.0f} ms over {len(vals)} pauses (target < 1000 ms)"
                )


if __name__ == "__main__":
    main()
