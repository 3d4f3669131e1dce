"""The monitor: one watcher per stream that may be public, run by `streamd serve`.

Each second it asks the database which streams to watch (not finished, or finished less
than `STREAMD_MONITOR_LINGER_SECONDS` ago) and what state each is in; each watcher reads
its stream's public output (streamd.monitor.probe), turns samples into runs it saves as
it goes, and raises or clears the alerts whose conditions changed
(streamd.monitor.alarms). Decoding runs in worker threads, never on the event loop.

It depends on nothing the agent says: not its events, not its state. A watcher that
cannot read its output keeps trying and, while the stream should be public, the missing
frames raise `no_frames`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from streamd.config import Settings
from streamd.court import redact_url
from streamd.monitor import alarms, records
from streamd.monitor.detect import Classifier, Runs
from streamd.monitor.probe import (
    HlsSource,
    ProbeError,
    Sample,
    UrlSource,
    analyse_segment,
    image_thumbnail,
)
from streamd.monitor.records import Target
from streamd.orchestrator import AlertDesk, Worker
from streamd.play import is_hls
from streamd_protocol import picture, slate

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
SAVE_SECONDS = 1.0


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class MonitorStats:
    segments: int = 0
    undecodable: int = 0
    read_errors: int = 0
    samples: int = 0
    decode_seconds: float = 0.0
    watching: int = 0


def _timed(
    data: bytes, start_ms: int, duration_ms: int, classifier: Classifier
) -> tuple[list[Sample], float]:
    """analyse_segment, and the CPU seconds this thread spent on it."""
    t0 = time.thread_time()
    samples = analyse_segment(data, start_ms, duration_ms, classifier)
    return samples, time.thread_time() - t0


class Watcher:
    def __init__(self, monitor: Monitor, target: Target, where: str, since: int = 0) -> None:
        self.monitor = monitor
        self.since = since
        self.target = target
        self.where = where
        self.runs = Runs()
        self.classifier = Classifier(None)
        self.raised: set[str] = set()
        self.task: asyncio.Task[None] | None = None
        self._last_save = 0.0
        # Samples newer than the monitor's last look at the database wait here: until then
        # nobody knows whether another hearing took the output over before they were shown
        # (the next hearing in the room going live a moment after this one adjourned).
        self.pending: list[Sample] = []
        self.as_of = 0

    @property
    def hearing_id(self) -> int:
        return self.target.hearing_id

    async def run(self) -> None:
        m = self.monitor
        since = await m.work.call(records.last_seen, hearing_id=self.hearing_id)
        since = max(since or 0, self.target.since_ms, self.since)
        try:
            while True:
                try:
                    if is_hls(self.where):  # else HTTP-FLV, RTMP, SRT: a stream
                        await self._watch_hls(since)
                    else:
                        await self._watch_url()
                except ProbeError as exc:
                    m.stats.read_errors += 1
                    # Never the stream key, not even at DEBUG: logs travel further than keys.
                    shown = redact_url(self.where)
                    log.debug("monitor %s: %s", shown, str(exc).replace(self.where, shown))
                await self.save()
                await asyncio.sleep(1.0)
                since = max(since, *self.runs.last_end.values(), *(p.end for p in self.pending), 0)
        finally:
            self.runs.close_all()
            await self.save(force=True)

    async def _watch_hls(self, since: int) -> None:
        m = self.monitor
        source = HlsSource(self.where, m.http)
        while True:
            for ref in await source.new_segments(since):
                try:
                    data = await source.read(ref)
                except ProbeError:
                    m.stats.read_errors += 1
                    continue
                await self._ensure_slate()
                try:
                    samples, cpu = await asyncio.to_thread(
                        _timed, data, ref.start_ms, ref.duration_ms, self.classifier
                    )
                except ProbeError:
                    m.stats.undecodable += 1
                    continue
                m.stats.decode_seconds += cpu
                m.stats.segments += 1
                self.take(samples)
            self.check()
            await self.save()
            await asyncio.sleep(POLL_SECONDS)

    async def _watch_url(self) -> None:
        source = UrlSource(self.where, self.classifier, timeout=self.monitor.limits.stall_ms / 1000)
        await self._ensure_slate()
        try:
            async for sample in source.samples():
                self.take([sample])
                self.check()
                await self.save()
        finally:
            source.close()

    async def _ensure_slate(self) -> None:
        if self.classifier.slate is None:
            self.classifier.slate = await self.monitor.slate_thumbnail(self.target.room)

    def take(self, samples: list[Sample]) -> None:
        self.monitor.stats.samples += len(samples)
        self.pending.extend(samples)
        self.commit()

    def commit(self) -> None:
        """Attribute to this hearing what was shown before the database was last read; the
        ownership of anything later is decided at the next read."""
        floor = max(self.target.since_ms, self.since)
        held: list[Sample] = []
        for s in self.pending:
            if s.end > self.as_of:
                held.append(s)
            elif s.end > floor:
                self.runs.add(s.track, s.kind, max(s.start, floor), s.end)
        self.pending = held

    def check(self) -> None:
        """Raise what now holds, clear what no longer does."""
        m, t = self.monitor, self.target
        video = self.runs.open.get("video")
        pushing = t.pushed and m.pushing is not None and m.pushing(t.room)
        holding = alarms.active(
            t.state,
            t.state_ms,
            video,
            self.runs.last_end.get("video"),
            now_ms(),
            m.limits,
            pushing=pushing,
        )
        for kind, alarm in holding.items():
            if kind not in self.raised:
                self.raised.add(kind)
                m.alerts.raise_(kind, alarm.severity, t.room, t.hearing_id, alarm.zh, alarm.en)
        for kind in self.raised - holding.keys():
            self.raised.discard(kind)
            m.alerts.clear(kind, t.room, t.hearing_id)

    async def save(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_save < SAVE_SECONDS:
            return
        self._last_save = time.monotonic()
        runs = [(r.id, r.observation()) for r in self.runs.to_save()]
        if runs:
            await self.monitor.work.call(
                records.save_runs, hearing_id=self.hearing_id, room=self.target.room, runs=runs
            )

    def clear_all(self) -> None:
        for kind in list(self.raised):
            self.monitor.alerts.clear(kind, self.target.room, self.target.hearing_id)
        self.raised.clear()


class Monitor:
    def __init__(
        self,
        *,
        work: Worker,
        alerts: AlertDesk,
        settings: Settings,
        court_names: Mapping[str, str],
        pushing: Callable[[str], bool] | None = None,
        owns: Callable[[str], bool] | None = None,
    ) -> None:
        """`pushing(room)`: whether the room's publisher is sending now (the agent's own
        word, used only to tell a platform's fault from the encoder's, never for coverage).
        `owns(room)`: whether this replica watches the room (streamd.monitor.share); None:
        every room."""
        self.owns = owns
        self.pushing = pushing
        self.work = work
        self.alerts = alerts
        self.settings = settings
        self.court_names = court_names  # room -> its court's name, for the pause slate
        self.limits = alarms.Limits(
            allowance_ms=round(settings.monitor_allowance_seconds * 1000),
            stall_ms=round(settings.monitor_stall_seconds * 1000),
            picture_ms=round(settings.monitor_picture_seconds * 1000),
        )
        self.watchers: dict[int, Watcher] = {}
        self.stats = MonitorStats()
        self.http: aiohttp.ClientSession | None = None
        self._owned: set[str] = set()  # outputs a watcher has had since streamd started
        self._slates: dict[str, picture.Thumb] = {}
        self._slate_lock = asyncio.Lock()

    async def slate_thumbnail(self, room: str | None) -> picture.Thumb:
        """The room's court's pause slate as the agents draw it, for matching. The thumbnail
        is the same at every picture size the agents use (16:9), so one is drawn at
        1280×720, once per court."""
        names = self.court_names
        name = names.get(room or "") or next(iter(sorted(names.values())), "")
        async with self._slate_lock:
            if name not in self._slates:
                folder = Path(self.settings.data_dir) / "monitor"
                image = await asyncio.to_thread(slate.render, folder, name, (1280, 720))
                self._slates[name] = await asyncio.to_thread(image_thumbnail, image)
            return self._slates[name]

    async def run(self) -> None:
        async with aiohttp.ClientSession() as http:
            self.http = http
            try:
                while True:
                    try:
                        await self.refresh()
                    except Exception:
                        log.exception("monitor refresh failed; retrying")
                    await asyncio.sleep(1.0)
            finally:
                await self.stop_all()

    async def refresh(self) -> None:
        as_of = now_ms()  # the database read below is at least this recent
        found = await self.work.call(
            records.targets,
            now=datetime.now(UTC),
            linger_seconds=self.settings.monitor_linger_seconds,
        )
        if self.owns is not None:
            found = [t for t in found if self.owns(t.room)]
        wanted = {
            t.hearing_id: (t, where)
            for where, t in records.owners(found, self.settings.monitor_hls).items()
        }
        for hid in list(self.watchers):
            if hid not in wanted or wanted[hid][1] != self.watchers[hid].where:
                await self._stop(hid)
        for hid, (target, where) in wanted.items():
            watcher = self.watchers.get(hid)
            if watcher is None:
                # What the output showed before this hearing took it over was another's;
                # from the moment it went on air, everything there is its own.
                since = 0
                if where in self._owned:
                    on_air = target.state in records.ON_AIR_STATES
                    since = target.state_ms if on_air else as_of
                self._owned.add(where)
                watcher = self.watchers[hid] = Watcher(self, target, where, since)
                watcher.task = asyncio.create_task(watcher.run(), name=f"monitor {hid}")
            else:
                watcher.target = target
            watcher.as_of = as_of
            watcher.commit()
            watcher.check()
        self.stats.watching = len(self.watchers)

    async def _stop(self, hearing_id: int) -> None:
        watcher = self.watchers.pop(hearing_id)
        if watcher.task is not None:
            watcher.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher.task
        watcher.clear_all()

    async def stop_all(self) -> None:
        for hid in list(self.watchers):
            await self._stop(hid)
