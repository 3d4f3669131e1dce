"""ffmpeg itself: where the binary is, and what a media file holds.

The system ffmpeg is preferred (a court's IT keeps it patched); a pip-only install gets the
static build from the imageio-ffmpeg wheel, which has libx264, AAC, drawtext and the
segment and HLS muxers. There is no ffprobe in that wheel, so files are read by ffmpeg.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

_OUT_TIME = re.compile(rb"out_time_us=(\d+)")
# The recorder's segment formats, named by suffix. libavformat otherwise guesses from the
# first bytes, and a segment of one or two AAC frames (a stop just after a boundary) reads
# as MPEG-TS or as nothing: "Invalid data found". Measured: 125 of 438 one- and two-frame
# ADTS cuts misread when guessed, 0 of 438 when named.
SEGMENT_FORMATS = {".aac": "aac", ".ts": "mpegts"}


class MediaError(RuntimeError):
    pass


@functools.cache
def ffmpeg_exe() -> str:
    """`STREAMD_FFMPEG`, else `ffmpeg` on PATH, else the imageio-ffmpeg binary."""
    explicit = os.environ.get("STREAMD_FFMPEG")
    if explicit:
        return explicit
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a dependency of streamd
        raise MediaError("no ffmpeg on PATH and imageio-ffmpeg is not installed") from exc
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def segment_format(path: Path) -> str | None:
    """The demuxer for one of our segment files, or None to let ffmpeg guess."""
    return SEGMENT_FORMATS.get(path.suffix.lower())


def _input(path: Path) -> list[str]:
    fmt = segment_format(path)
    return ["-f", fmt, "-i", str(path)] if fmt else ["-i", str(path)]


@dataclass(frozen=True, slots=True)
class Probe:
    """What decoding a whole file found: its duration and any decoder complaints."""

    duration: float
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors and self.duration > 0


def probe(path: Path, *, stream: str | None = None, timeout: float = 60.0) -> Probe:
    """Decode `path` fully (or one stream: `"v"` or `"a"`) and report duration and errors.

    Decoding, not just demuxing, is the point: a segment cut by SIGKILL can demux and
    still fail to decode.
    """
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", *_input(path)]
    if stream is not None:
        cmd += ["-map", f"0:{stream}"]
    cmd += ["-f", "null", "-progress", "pipe:1", "-nostats", "-"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Probe(0.0, (f"decoding took longer than {timeout:g} s",))
    times = _OUT_TIME.findall(done.stdout)
    duration = int(times[-1]) / 1e6 if times else 0.0
    errors = tuple(
        line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()
    )
    if done.returncode != 0 and not errors:
        errors = (f"ffmpeg exited with {done.returncode}",)
    return Probe(max(duration, 0.0), errors)


def gray_frames(
    path: Path, *, width: int = 64, height: int = 36, fps: float | None = None
) -> list[bytes]:
    """Every frame (or `fps` of them per second) as small grey images, for comparisons."""
    vf = f"scale={width}:{height},format=gray"
    if fps is not None:
        vf = f"fps={fps},{vf}"
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", *_input(path), "-map", "0:v:0"]
    cmd += ["-vf", vf, "-f", "rawvideo", "-"]
    done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise MediaError(f"{path}: {done.stderr.decode(errors='replace').strip()}")
    size = width * height
    data = done.stdout
    return [data[i : i + size] for i in range(0, len(data) - size + 1, size)]


@functools.cache
def ffmpeg_version() -> tuple[int, int]:
    """(major, minor) of `ffmpeg_exe()`; (0, 0) when it cannot be read (a git build)."""
    done = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, check=False)
    found = re.search(rb"ffmpeg version n?(\d+)\.(\d+)", done.stdout)
    return (int(found[1]), int(found[2])) if found else (0, 0)


@dataclass(frozen=True, slots=True)
class HlsSegment:
    start: datetime  # EXT-X-PROGRAM-DATE-TIME: the wall clock of the segment's first frame
    duration: float
    file: Path


def hls_segments(playlist: Path) -> list[HlsSegment]:
    """The segments an HLS media playlist lists, each with its program date-time.

    A segment the playlist gives no date-time for is an error: the time of what went out
    is the point of reading the playlist.
    """
    out = []
    start: datetime | None = None
    duration = 0.0
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            # ffmpeg writes +0000; keep the form every ISO parser reads
            stamp = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", line.split(":", 1)[1])
            start = datetime.fromisoformat(stamp)
        elif line and not line.startswith("#"):
            if start is None:
                raise MediaError(f"{playlist}: {line} has no EXT-X-PROGRAM-DATE-TIME")
            out.append(HlsSegment(start, duration, playlist.parent / line))
            start += timedelta(seconds=duration)
    return out
