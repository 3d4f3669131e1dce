"""Agent benchmark: CPU per courtroom, copy mode and re-encode mode, against bare ffmpeg.

    .venv/bin/python -m bench.agent                  # 20 s per mode
    .venv/bin/python -m bench.agent --seconds 60 --size 1920x1080
    .venv/bin/python -m bench.agent --reconnect 5    # also: broker restarts, 5 times
    .venv/bin/python -m bench.agent --pauses 10      # also: pause latency on the HLS output

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
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import aiomqtt
import psutil

from agents import pipelines
from agents.config import load
from streamd.media import ffmpeg_exe
from streamd.protocol import CommandKind, Leaf, Mask, PublishTarget
from tests.mqtt_support import Court, PrivateBroker, room_config, shared_broker


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


def cpu_between(root: psutil.Process, seconds: float) -> float:
    """CPU seconds the tree used over `seconds` of wall time, from steady state."""
    before = tree_cpu(root)
    time.sleep(seconds)
    after = tree_cpu(root)
    return sum(after[p] - before.get(p, 0.0) for p in after)


async def agent_run(folder: Path, source: dict[str, object], seconds: float) -> float:
    host, port, private = shared_broker(folder)
    path, topics = room_config(folder, port, source=source, segment_seconds=10)
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "agents.cli", "--config", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with aiomqtt.Client(host, port) as client:
            court = Court(client, topics, "s3cret")
            await court.start()
            await court.wait_for(Leaf.STATE, lambda s: s["phase"] == "idle", 30)
            assert (await court.send(CommandKind.PREPARE, 1)).ok
            assert (await court.send(CommandKind.GO_LIVE, 1, target={"kind": "hls"})).ok
            await asyncio.sleep(3)  # past ffmpeg start-up
            used = await asyncio.to_thread(cpu_between, psutil.Process(proc.pid), seconds)
            assert (await court.send(CommandKind.STOP, 1)).ok
            await court.close()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        if private:
            private.kill()
    return used


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
    before = [tree_cpu(psutil.Process(p.pid)) for p in procs]
    time.sleep(seconds)
    after = [tree_cpu(psutil.Process(p.pid)) for p in procs]
    used = sum(sum(a.values()) - sum(b.values()) for a, b in zip(after, before, strict=True))
    for p in procs:
        p.kill()
        p.wait()
    return used


async def reconnects(folder: Path, times: int, outage: float) -> list[float]:
    """Seconds from a restarted broker accepting connections to the agent's state on it."""
    broker = PrivateBroker(folder)
    broker.start()
    path, topics = room_config(folder, broker.port)
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "agents.cli", "--config", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    took = []
    try:
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            court = Court(client, topics, None)
            await court.start()
            await court.wait_for(Leaf.STATE, lambda s: s["phase"] == "idle", 30)
            await court.close()
        for _ in range(times):
            broker.kill()
            await asyncio.sleep(outage)
            broker.start()
            began = time.monotonic()
            async with aiomqtt.Client("127.0.0.1", broker.port) as client:
                court = Court(client, topics, None)
                await court.start()
                await court.wait_for(Leaf.STATE, lambda s: s["phase"] == "idle", 30)
                took.append(time.monotonic() - began)
                print(f"  reconnect {len(took)}: {took[-1]:.2f} s", flush=True)
                await court.close()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        broker.kill()
    return took


def playlist(folder: Path) -> list[tuple[float, float, str]]:
    """(program date-time, duration, file) of each HLS segment, times as epoch seconds."""
    out, pdt, duration = [], 0.0, 0.0
    for line in (folder / "index.m3u8").read_text().splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            stamp = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", line.split(":", 1)[1])
            pdt = datetime.fromisoformat(stamp).timestamp()
        elif line and not line.startswith("#"):
            out.append((pdt, duration, line))
    return out


async def pauses(folder: Path, times: int) -> list[tuple[float, float, float]]:
    """Per pause: seconds from sending it to its ack, to the last courtroom picture on the
    public output, and to the first slate picture there (HLS program date-times)."""
    host, port, private = shared_broker(folder)
    path, topics = room_config(folder, port, hls_list_size=100000)
    cfg = load(path)
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "agents.cli", "--config", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marks: list[tuple[float, float, str]] = []
    try:
        async with aiomqtt.Client(host, port) as client:
            court = Court(client, topics, "s3cret")
            await court.start()
            await court.wait_for(Leaf.STATE, lambda s: s["phase"] == "idle", 30)
            assert (await court.send(CommandKind.PREPARE, 1)).ok
            assert (await court.send(CommandKind.GO_LIVE, 1, target={"kind": "hls"})).ok
            for _ in range(times):
                await asyncio.sleep(3)
                live_prefix = playlist(cfg.hls_dir)[-1][2].split("_")[0]
                sent = time.time()
                ack = await court.send(CommandKind.PAUSE, 1, reason="bench")
                assert ack.ok
                marks.append((sent, time.time(), live_prefix))
                await asyncio.sleep(3)
                assert (await court.send(CommandKind.RESUME, 1)).ok
            await asyncio.sleep(2)
            assert (await court.send(CommandKind.STOP, 1)).ok
            await court.close()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        if private:
            private.kill()
    segments = playlist(cfg.hls_dir)
    out = []
    for sent, acked, live_prefix in marks:
        live = [s for s in segments if s[2].startswith(live_prefix)]
        cut = live[-1][0] + live[-1][1]
        after = [s for s in segments if s[0] >= cut - 0.001 and not s[2].startswith(live_prefix)]
        out.append((acked - sent, cut - sent, after[0][0] - sent))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--reconnect", type=int, default=0, metavar="N")
    parser.add_argument("--pauses", type=int, default=0, metavar="N")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
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
