"""Monitor benchmark: CPU per stream-minute of our probe against ffmpeg's own detectors.

    .venv/bin/python -m bench.monitor                 # 60 s of 720p25
    .venv/bin/python -m bench.monitor --seconds 120 --size 1920x1080

One HLS stream is made as the agents publish it (H.264 2.5 Mb/s with a keyframe every
second, AAC, 1 s segments with program date-time). Then, in the same run:

- ours: every segment through `streamd.monitor.probe.analyse_segment` (keyframes only,
  128×72 thumbnails, black / frozen / slate / silence), in this process, one thread;
- peer: `ffmpeg -i index.m3u8 -vf blackdetect,freezedetect -af silencedetect -f null -`,
  the detectors a technician would otherwise run, which decode every frame.

Both are CPU seconds (user + system) per minute of stream. "Streams per core" is 60 s
divided by that: how many live streams one core keeps up with. Then a check that the
figure holds: that many streams' segments, one per stream per second as live output
arrives, analysed by a pool pinned to one core, must keep up with real time.

    .venv/bin/python -m bench.monitor --share 200 --replicas 2

The monitor's share over replicas: that many live streams (rooms of a dozen courts) split
by `streamd.monitor.share.owner` among replicas named as the compose file names them, each
replica a process on its own core analysing its share live, against one replica alone
taking them all on one core, in the same run: streams, cores spent, worst lag.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from streamd.monitor.detect import Classifier
from streamd.monitor.probe import HlsSource, analyse_segment
from streamd.monitor.share import owner
from streamd_protocol.media import ffmpeg_exe


def make_stream(folder: Path, size: str, seconds: int) -> Path:
    playlist = folder / "index.m3u8"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:beep_factor=4:sample_rate=48000",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-b:v", "2500k",
         "-g", "25", "-force_key_frames", "expr:gte(t,n_forced*1)", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
         "-hls_flags", "program_date_time+independent_segments", str(playlist)],
        check=True,
    )  # fmt: skip
    return playlist


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def ours(segments: list[tuple[bytes, int, int]]) -> float:
    classifier = Classifier(None)
    t0 = time.process_time()
    for data, start, duration in segments:
        analyse_segment(data, start, duration, classifier)
    return time.process_time() - t0


def peer(playlist: Path, threads: int | None) -> float:
    before = children_cpu()
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin"]
    if threads is not None:
        cmd += ["-threads", str(threads)]
    cmd += ["-i", str(playlist), "-vf", "blackdetect=d=2,freezedetect=d=2",
            "-af", "silencedetect=d=2", "-f", "null", "-"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    return children_cpu() - before


def live_check(
    segments: list[tuple[bytes, int, int]], streams: int, seconds: int, core: int | None = None
) -> float:
    """`streams` live streams for `seconds` on one core: the worst lag behind real time."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0)) if core is None else core})
    classifiers = [Classifier(None) for _ in range(streams)]
    worst = 0.0
    with ThreadPoolExecutor(max_workers=4) as pool:
        t0 = time.monotonic()
        for second in range(seconds):
            due = t0 + second + 1  # a segment is whole one second after it began
            time.sleep(max(0.0, due - time.monotonic()))
            data, start, duration = segments[second % len(segments)]
            jobs = [pool.submit(analyse_segment, data, start, duration, c) for c in classifiers]
            for job in jobs:
                job.result()
            worst = max(worst, time.monotonic() - due)
    return worst


Segments = list[tuple[bytes, int, int]]


def _replica(
    index: int, segments: Segments, streams: int, seconds: int, core: int, out: object
) -> None:
    """Child process: one replica's monitor share, live on its own core."""
    t0, cpu0 = time.monotonic(), time.process_time()
    lag = live_check(segments, streams, seconds, core)
    cores = (time.process_time() - cpu0) / (time.monotonic() - t0)
    out.put((index, streams, cores, lag))  # type: ignore[attr-defined]


def watch(segments: Segments, shares: list[int], seconds: int) -> list[tuple[int, float, float]]:
    """Each share in its own process on its own core, all at once: (streams, cores, lag)."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    cores = sorted(os.sched_getaffinity(0))
    children = [
        ctx.Process(target=_replica, args=(i, segments, n, seconds, cores[i % len(cores)], out))
        for i, n in enumerate(shares)
    ]
    for child in children:
        child.start()
    got = [out.get(timeout=seconds * 20 + 60) for _ in children]
    for child in children:
        child.join()
    return [result[1:] for result in sorted(got)]


def share(segments: Segments, streams: int, replicas: int, seconds: int) -> None:
    """The monitor's share of `streams` live streams over `replicas`, against one alone."""
    rooms = [f"c{i % 12:02d}-t{i // 12:02d}" for i in range(streams)]
    names = [f"streamd-{chr(ord('a') + i)}" for i in range(replicas)]
    owners = [owner(room, names) for room in rooms]
    shares = [owners.count(name) for name in names]
    print(f"\nmonitor share: {streams} live streams over {replicas} replicas, {seconds} s live")
    alone = watch(segments, [streams], seconds)[0]
    split = watch(segments, shares, seconds)
    for name, (n, cores, lag) in zip(names, split, strict=True):
        print(f"  {name}: {n:4d} streams, {cores:.2f} of a core, worst lag {lag:.2f} s")
    worst = max(c for _, c, _ in split)
    print(
        f"  one replica alone: {alone[0]:4d} streams, {alone[1]:.2f} of a core, "
        f"worst lag {alone[2]:.2f} s | ratio (busiest replica / alone) {worst / alone[1]:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--live-seconds", type=int, default=20)
    ap.add_argument("--share", type=int, default=0, help="live streams split over replicas")
    ap.add_argument("--replicas", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"making {args.seconds} s of {args.size}p25 HLS ...", flush=True)
        playlist = make_stream(folder, args.size, args.seconds)
        source = HlsSource(str(playlist))
        refs = asyncio.run(source.new_segments(0))
        segments = [(asyncio.run(source.read(r)), r.start_ms, r.duration_ms) for r in refs]
        minutes = sum(d for _, _, d in segments) / 60_000
        if args.share:
            share(segments, args.share, args.replicas, args.live_seconds)
            return
        ours_cpu = min(ours(segments) for _ in range(3))
        peer_cpu = peer(playlist, None)
        peer_one = peer(playlist, 1)
        per_min = ours_cpu / minutes
        print(f"\n{len(segments)} segments, {minutes * 60:.0f} s of {args.size}")
        print(f"{'':34} {'CPU s / stream-min':>19} {'streams / core':>15}")
        for name, cpu in (
            ("ours (keyframes, thumbnails)", ours_cpu),
            ("ffmpeg black+freeze+silence", peer_cpu),
            ("ffmpeg, -threads 1", peer_one),
        ):
            print(f"{name:34} {cpu / minutes:19.3f} {60 / (cpu / minutes):15.0f}")
        print(f"ratio (peer / ours): {peer_cpu / ours_cpu:.1f}x less CPU")
        streams = int(60 / per_min * 0.8)
        lag = live_check(segments, streams, args.live_seconds)
        verdict = "keeps up" if lag < 1.0 else "falls behind"
        print(
            f"live check: {streams} streams on one core for {args.live_seconds} s: "
            f"worst lag {lag:.2f} s ({verdict})"
        )


if __name__ == "__main__":
    main()
