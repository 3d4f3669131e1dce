"""Reading a stream's public output the way a viewer would, and sampling it cheaply.

Two kinds of output:

- **HLS** (a playlist path or http(s) URL): the playlist is polled, each new segment read
  whole and analysed in memory. Every segment carries EXT-X-PROGRAM-DATE-TIME, so each
  sample is placed at the wall-clock time it was *encoded*, not the time the probe got
  round to it: coverage is exact however late the probe reads.
- **Anything ffmpeg can open** (rtmp://, srt://, an MPEG-TS socket, HTTP-FLV): PyAV reads it
  in a thread; samples are placed at arrival time, which for these low-latency transports
  is within a second of air time.

Only keyframes are decoded, and only to a 128×72 grey thumbnail: packets between
keyframes are never handed to the decoder at all. The agent forces a keyframe every
second when it encodes, so one keyframe per second is the sampling rate, which is what
black, frozen and slate detection need. Audio is decoded whole (AAC is cheap) to tell
silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aiohttp
import av
import m3u8
import numpy as np

from streamd.monitor.detect import Classifier, silence
from streamd.monitor.intervals import ms
from streamd.monitor.ledger import Seen
from streamd_protocol import picture

log = logging.getLogger(__name__)


class ProbeError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Sample:
    track: str  # video | audio
    kind: Seen | None  # audio: SILENT or None (sound)
    start: int  # epoch ms
    end: int


def thumbnail(frame: av.VideoFrame) -> picture.Thumb:
    w, h = picture.THUMB
    out = cast(picture.Thumb, frame.reformat(width=w, height=h, format="gray").to_ndarray())
    # the thumbnail may be padded to the decoder's line size
    return np.ascontiguousarray(out[:h, :w])


def image_thumbnail(path: Path) -> picture.Thumb:
    """The same thumbnail of a still image (the slate), through the same scaler."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return thumbnail(frame)
    raise ProbeError(f"{path}: no picture")


# ---- one HLS segment -----------------------------------------------------------------

# Opening a container makes libavformat decode frames to learn the streams' parameters;
# told to skip all but keyframes and to read little, it costs ~1 ms instead of ~11 ms per
# 720p segment (measured with bench/monitor.py's segments).
_OPEN = {"skip_frame": "nonkey", "analyzeduration": "0", "probesize": "32768"}


def analyse_segment(
    data: bytes, start_ms: int, duration_ms: int, classifier: Classifier
) -> list[Sample]:
    """Samples of one MPEG-TS segment that began at `start_ms` (wall clock)."""
    end_ms = start_ms + duration_ms
    keyframes: list[tuple[float, Seen]] = []
    audio: list[np.ndarray[Any, Any]] = []
    first: float | None = None
    try:
        with av.open(io.BytesIO(data), mode="r", format="mpegts", options=_OPEN) as container:
            streams = [s for s in container.streams if s.type in ("video", "audio")]
            for packet in container.demux(streams):
                if packet.pts is None or packet.time_base is None:
                    continue
                t = packet.pts * float(packet.time_base)
                first = t if first is None else min(first, t)
                if packet.stream.type == "video":
                    if not packet.is_keyframe:
                        continue  # never decoded: the point of sampling keyframes
                    for frame in packet.decode():
                        if isinstance(frame, av.VideoFrame):
                            keyframes.append((t, classifier.kind(thumbnail(frame))))
                else:
                    for frame in packet.decode():
                        if isinstance(frame, av.AudioFrame):
                            audio.append(frame.to_ndarray())
    except av.FFmpegError as exc:
        raise ProbeError(f"undecodable segment: {exc}") from None
    out = []
    base = first or 0.0
    for k, (t, kind) in enumerate(keyframes):
        s = start_ms + max(0, round((t - base) * 1000))
        e = end_ms
        if k + 1 < len(keyframes):
            e = start_ms + round((keyframes[k + 1][0] - base) * 1000)
        out.append(Sample("video", kind, min(s, end_ms), max(min(e, end_ms), s)))
    if out:
        # the picture before the first keyframe continues the previous segment's run
        out[0] = Sample("video", out[0].kind, start_ms, out[0].end)
    out.append(Sample("audio", silence(audio), start_ms, end_ms))
    return out


# ---- sources ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentRef:
    uri: str
    start_ms: int
    duration_ms: int


def placed(segments: Any, *, now_ms: int) -> list[tuple[Any, int, int]]:
    """(segment, start, duration) of each segment with a URI and duration, oldest first.

    The agents' own playlists carry a program date-time on every segment. A platform's play
    address (nginx-rtmp, most CDNs) often has none: such a segment is placed by when the
    playlist listed it, the newest ending about now and each earlier one where the next
    began. A segment is placed once, when first seen, so the estimate never moves.
    """
    out = []
    end = now_ms
    for seg in reversed(segments):
        if seg.uri is None or seg.duration is None:
            continue
        duration = round(seg.duration * 1000)
        when = seg.current_program_date_time
        start = ms(when) if when is not None else end - duration
        out.append((seg, start, duration))
        end = start
    out.reverse()
    return out


class HlsSource:
    """New segments of a live HLS playlist, each once, oldest first."""

    def __init__(self, playlist: str, http: aiohttp.ClientSession | None = None) -> None:
        self.playlist = playlist
        self.remote = playlist.startswith(("http://", "https://"))
        self.http = http
        self._seen: deque[str] = deque(maxlen=1000)
        self._seen_set: set[str] = set()

    async def _read(self, where: str) -> bytes:
        if self.remote:
            assert self.http is not None, "an http playlist needs a client session"
            async with self.http.get(where, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                if resp.status != 200:
                    raise ProbeError(f"{where}: HTTP {resp.status}")
                return await resp.read()
        return await asyncio.to_thread(Path(where).read_bytes)

    def _resolve(self, uri: str) -> str:
        if uri.startswith(("http://", "https://", "/")):
            return uri
        if self.remote:
            return self.playlist.rsplit("/", 1)[0] + "/" + uri
        return str(Path(self.playlist).parent / uri)

    async def new_segments(self, since_ms: int) -> list[SegmentRef]:
        """Segments not returned before that end after `since_ms`."""
        try:
            text = (await self._read(self.playlist)).decode()
        except (OSError, aiohttp.ClientError, TimeoutError) as exc:
            raise ProbeError(f"{self.playlist}: {exc}") from None
        out = []
        for seg, start, duration in placed(
            m3u8.loads(text).segments, now_ms=round(time.time() * 1000)
        ):
            uri = self._resolve(seg.uri)
            if uri in self._seen_set or start + duration <= since_ms:
                continue
            if len(self._seen) == self._seen.maxlen:
                self._seen_set.discard(self._seen[0])
            self._seen.append(uri)
            self._seen_set.add(uri)
            out.append(SegmentRef(uri, start, duration))
        return out

    async def read(self, ref: SegmentRef) -> bytes:
        try:
            return await self._read(ref.uri)
        except (OSError, aiohttp.ClientError, TimeoutError) as exc:
            # deleted from the list before it was read: the probe fell behind
            raise ProbeError(f"{ref.uri}: {exc}") from None


class UrlSource:
    """Samples of a low-latency stream (RTMP, SRT, MPEG-TS over TCP/UDP) read by PyAV.

    The container is read in a thread (PyAV blocks); samples cross to the event loop
    through a queue. A read that stalls for `timeout` seconds ends the connection, and
    the next `samples()` call opens it again.
    """

    def __init__(self, url: str, classifier: Classifier, *, timeout: float = 5.0) -> None:
        self.url = url
        self.classifier = classifier
        self.timeout = timeout
        self._stop = threading.Event()

    def close(self) -> None:
        self._stop.set()

    def _read(self) -> Iterator[Sample]:
        with av.open(self.url, mode="r", timeout=(self.timeout, self.timeout)) as container:
            streams = [s for s in container.streams if s.type in ("video", "audio")]
            last: tuple[int, Seen] | None = None
            sound: list[np.ndarray[Any, Any]] = []
            sound_from = int(time.time() * 1000)
            for packet in container.demux(streams):
                if self._stop.is_set():
                    return
                now = int(time.time() * 1000)
                if packet.stream.type == "video":
                    if not packet.is_keyframe:
                        continue
                    for frame in packet.decode():
                        if not isinstance(frame, av.VideoFrame):
                            continue
                        kind = self.classifier.kind(thumbnail(frame))
                        if last is not None:
                            yield Sample("video", last[1], last[0], now)
                        last = (now, kind)
                elif packet.stream.type == "audio":
                    sound.extend(
                        f.to_ndarray() for f in packet.decode() if isinstance(f, av.AudioFrame)
                    )
                    if now - sound_from >= 1000:
                        yield Sample("audio", silence(sound), sound_from, now)
                        sound, sound_from = [], now

    async def samples(self) -> AsyncIterator[Sample]:
        """Samples until the stream ends or stalls; raises ProbeError if it cannot open.

        The reading thread hands samples to the loop with call_soon_threadsafe: a watcher
        never parks a thread of the default executor, which the database work shares.
        """
        loop = asyncio.get_running_loop()
        out: asyncio.Queue[Sample | BaseException | None] = asyncio.Queue()

        def put(item: Sample | BaseException | None) -> None:
            if self._stop.is_set():
                return  # nobody is listening any more; the loop may be gone
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(out.put_nowait, item)

        def pump() -> None:
            try:
                for sample in self._read():
                    put(sample)
            except (av.FFmpegError, OSError) as exc:
                put(ProbeError(f"{self.url}: {exc}"))
            except BaseException as exc:  # pragma: no cover - surfaced to the caller
                put(exc)
            put(None)

        thread = threading.Thread(target=pump, name=f"probe {self.url}", daemon=True)
        thread.start()
        try:
            while True:
                item = await out.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()
