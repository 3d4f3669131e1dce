"""The three-way recording of one hearing session: video, audio, transcript, manifest.

ffmpeg writes the segments and, as each closes, a line in its run's segment list. The
recorder reads those lists, checksums each closed segment and lists it in the manifest.
Wall-clock times come from the run's anchor (wall clock at media time 0, from ffmpeg's
progress). A new run after a crash or an agent restart records the gap since the last
listed segment; files a dead run left unlisted are decoded whole, then listed as
recovered or set aside, never listed blind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from agents import pipelines
from agents.config import AgentConfig
from agents.process import Exit, Progress, Supervised
from agents.units import Unit, read_segment_list, track_kind, units
from streamd_protocol import (
    EventKind,
    GapEntry,
    Manifest,
    ProcessStats,
    RunEntry,
    SegmentEntry,
    SetAside,
    TrackInfo,
    TranscriptLine,
    probe,
)
from streamd_protocol import manifest as mf

log = logging.getLogger(__name__)
GAP_TOLERANCE = 0.05  # any longer hole between two runs is a gap, however quick the restart
Emit = Callable[..., Awaitable[None]]


class Recorder:
    def __init__(self, cfg: AgentConfig, folder: Path, hearing_id: int, emit: Emit) -> None:
        self.cfg = cfg
        self.folder = folder
        self.hearing_id = hearing_id
        self._emit = emit
        self._scan_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._seen_seq: set[int] = set()
        if (folder / mf.MANIFEST).exists():
            self.manifest = mf.load(folder)
        else:
            src = cfg.agent.source
            self.manifest = Manifest(
                hearing_id=hearing_id,
                room=cfg.room.code,
                session=folder.name,
                started_at=datetime.now(UTC),
                segment_seconds=cfg.agent.segment_seconds,
                copied_from_source=src.copyable,
                time_overlay="camera" if src.copyable else "agent",
                tracks=[
                    TrackInfo(kind="view", name=v.name, label=v.label, folder=f"views/{v.name}")
                    for v in cfg.agent.views
                ]
                + [
                    TrackInfo(
                        kind="channel", name=c.name, label=c.label, folder=f"channels/{c.name}"
                    )
                    for c in cfg.agent.channels
                ],
            )
        self.units = units(cfg)
        self._lost: dict[tuple[str, str], datetime] = {}  # (kind, track) -> its last end
        first_run = max((r.run for r in self.manifest.runs), default=-1) + 1
        self.proc = Supervised(
            f"recorder-{cfg.room.code}",
            lambda run: pipelines.recorder(cfg, folder, run),
            first_run=first_run,
            stall_seconds=cfg.agent.stall_seconds,
            stop_timeout=cfg.agent.stop_timeout,
            on_start=self._on_start,
            on_exit=self._on_exit,
        )
        for line in mf.transcript_lines(folder):
            seq = line.get("seq")
            if isinstance(seq, int):
                self._seen_seq.add(seq)

    def stats(self) -> ProcessStats:
        return self.proc.stats()

    @property
    def segments(self) -> int:
        return len(self.manifest.segments)

    @property
    def lost(self) -> list[str]:
        """The views and channels whose signal is lost now (their track stopped)."""
        return sorted({track for _, track in self._lost})

    async def start(self) -> None:
        """Start (or, after a restart, resume) recording; earlier runs are reconciled first."""
        for sub in ("runs", "set_aside", *(u.folder for u in self.units)):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.manifest.closed_at = None  # an agent stopped mid-hearing resumes the session
        for run in self.manifest.runs:
            if run.ended_at is None:
                run.ended_at = datetime.now(UTC)
                run.end_reason = "agent restarted"
            await self._scan(run.run, final=True)
        self._save()
        self.proc.start()
        await self.proc.wait_started()
        self._scan_task = asyncio.create_task(self._scan_loop(), name="recorder-scan")

    async def stop(self) -> Manifest:
        await self.proc.stop()
        if self._scan_task is not None:
            self._scan_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scan_task
        async with self._lock:
            for run in self.manifest.runs:
                await self._scan(run.run, final=True)
            run_now = self._run(self.proc.run)
            if run_now is not None:
                await self._watch_tracks(run_now)
            self._lost_gaps()
            self.manifest.closed_at = datetime.now(UTC)
            self._save()
        await self._emit(
            EventKind.RECORDING_STOPPED,
            f"recording closed: {self.segments} segments",
            hearing_id=self.hearing_id,
            session=str(self.folder),
            video_seconds=round(self.manifest.total("video"), 3),
            audio_seconds=round(self.manifest.total("audio"), 3),
            gaps=len(self.manifest.gaps),
        )
        return self.manifest

    def add_transcript(self, line: TranscriptLine) -> bool:
        """Append one line stamped on the agent's clock; a repeated seq is stored once."""
        if line.seq in self._seen_seq:
            return False
        now = datetime.now(UTC)
        record = {
            "seq": line.seq,
            "speaker": line.speaker,
            "text": line.text,
            "at": now.isoformat(),
            "offset": round((now - self.manifest.started_at).total_seconds(), 3),
        }
        with (self.folder / mf.TRANSCRIPT).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
        self._seen_seq.add(line.seq)
        return True

    # -- ffmpeg runs -------------------------------------------------------------------

    async def _on_start(self, run: int, progress: Progress) -> None:
        self.manifest.runs.append(RunEntry(run=run, started_at=datetime.now(UTC)))
        self._save()
        if run == self.manifest.runs[0].run:
            await self._emit(
                EventKind.RECORDING_STARTED,
                "recording started",
                hearing_id=self.hearing_id,
                session=str(self.folder),
            )

    async def _on_exit(self, exit_: Exit) -> None:
        async with self._lock:
            entry = self._run(exit_.run)
            if entry is not None:
                entry.ended_at = mf.utc(exit_.ended)
                entry.end_reason = (
                    exit_.reason
                    if exit_.returncode in (0, None)
                    else (f"{exit_.reason} (code {exit_.returncode})")
                )
            await self._scan(exit_.run, final=True)
            self._save()
        if exit_.reason != "stopped":
            await self._emit(
                EventKind.PROCESS_EXITED,
                f"recorder ffmpeg {exit_.reason} (code {exit_.returncode}); restarting",
                hearing_id=self.hearing_id,
                process="recorder",
                code=exit_.returncode,
                stderr=exit_.stderr[-500:],
            )

    def _run(self, run: int) -> RunEntry | None:
        return next((r for r in self.manifest.runs if r.run == run), None)

    # -- segments ----------------------------------------------------------------------

    async def _scan_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            async with self._lock:
                await self._scan(self.proc.run, final=False)
            await self._watch_output()

    async def _watch_tracks(self, run: RunEntry) -> None:
        """A view or channel whose track lags the composite by a segment has lost its
        signal: its tile shows the card, the others and the record go on, and it is said
        once, naming the view."""
        ours = [s for s in self.manifest.segments if s.run == run.run]
        record = [s.end for s in ours if s.kind == "video"]
        if not record:
            return
        for unit in self.units:
            if unit.track is None or (unit.kind, unit.track) in self._lost:
                continue
            ends = [s.end for s in ours if s.kind == unit.kind and s.track == unit.track]
            last = max(ends) if ends else run.started_at
            behind = (max(record) - last).total_seconds()
            if behind > self.cfg.agent.segment_seconds + 1:
                self._lost[(unit.kind, unit.track)] = last
                await self._emit(
                    EventKind.SIGNAL_LOST,
                    f"{unit.kind} {unit.track}: signal lost; the other views record on",
                    hearing_id=self.hearing_id,
                    track=unit.track,
                    track_kind=unit.kind,
                    since=last.isoformat(),
                )

    def _lost_gaps(self) -> None:
        """At the close, each lost track's gap: from its last segment to the record's."""
        end = max((s.end for s in self.manifest.segments if s.kind == "video"), default=None)
        for (kind, track), since in self._lost.items():
            if end is None or end <= since:
                continue
            self.manifest.gaps.append(
                GapEntry(
                    start=since,
                    end=end,
                    seconds=round((end - since).total_seconds(), 3),
                    cause=f"{kind} signal lost",
                    track=track,
                )
            )

    async def _watch_output(self) -> None:
        """A run that writes no segment for two lengths plus slack is as good as dead."""
        run = self._run(self.proc.run)
        if run is None or run.ended_at is not None:
            return
        await self._watch_tracks(run)
        listed = [s.end for s in self.manifest.segments if s.run == run.run]
        since = max(listed) if listed else run.started_at
        limit = 2 * self.cfg.agent.segment_seconds + 10
        if (datetime.now(UTC) - since).total_seconds() > limit:
            await self._emit(
                EventKind.PROCESS_STALLED,
                f"recorder wrote no segment for {limit} s; restarting",
                hearing_id=self.hearing_id,
                process="recorder",
            )
            await self.proc.restart("no segment written")

    async def _scan(self, run: int, *, final: bool) -> None:
        """List the run's closed segments; with `final`, also judge what it left unlisted."""
        entry = self._run(run)
        if entry is None:
            return
        rows = {
            u: read_segment_list(self.folder / "runs" / u.segment_list(run)) for u in self.units
        }
        if entry.anchor is None:
            if not (final or any(rows.values())):
                return
            # Frozen at the first closed segment: by then ffmpeg has reported progress for a
            # whole segment, and later estimates must not move segments already listed.
            live_anchor = self.proc.progress.anchor if run == self.proc.run else None
            if live_anchor is None and not final:
                return  # the first progress report is at most half a second away
            # Media cannot predate its process; a generated source runs a little ahead of
            # the wall clock (ffmpeg's lavfi buffering), a camera never does.
            started = entry.started_at.timestamp()
            # Nor can it predate what the earlier run recorded: a generated source runs
            # ahead of the wall clock, so an earlier run's last segment may end after the
            # stop. Overlapping it would hide the restart's hole from `_gap_before`.
            earlier = [s.end.timestamp() for s in self.manifest.segments if s.run < run]
            entry.anchor = max(live_anchor or started, started, *earlier)
        changed = False
        listed = self.manifest.listed()
        for unit in self.units:
            for name, start, end in rows[unit]:
                rel = f"{unit.folder}/{name}"
                if rel in listed:
                    continue
                await self._add(unit, rel, run, entry.anchor + start, end - start)
                changed = True
            if final:
                changed |= await self._leftovers(unit, run, entry.anchor)
        if changed:
            self._save()

    async def _leftovers(self, unit: Unit, run: int, anchor: float) -> bool:
        listed = self.manifest.listed()
        changed = False
        for path in sorted((self.folder / unit.folder).glob(f"{unit.prefix}{run:03d}_*")):
            rel = f"{unit.folder}/{path.name}"
            if rel in listed:
                continue
            found = await asyncio.to_thread(probe, path)
            if found.ok:
                ends = [
                    s.end
                    for s in self.manifest.segments
                    if s.run == run and s.kind == unit.kind and s.track == unit.track
                ]
                start = max(ends).timestamp() if ends else anchor
                await self._add(unit, rel, run, start, found.duration, recovered=True)
            else:
                reason = "; ".join(found.errors[:3]) or "no decodable media"
                # Every track numbers its files alike: a track's file keeps its name.
                aside = path.name if unit.track is None else f"{unit.track}_{path.name}"
                shutil.move(path, self.folder / "set_aside" / aside)
                self.manifest.set_aside.append(SetAside(file=rel, reason=reason))
                log.warning("set aside %s: %s", rel, reason)
            changed = True
        return changed

    async def _add(
        self,
        unit: Unit,
        rel: str,
        run: int,
        start: float,
        duration: float,
        *,
        recovered: bool = False,
    ) -> None:
        path = self.folder / rel
        digest = await asyncio.to_thread(mf.sha256_file, path)
        seg = SegmentEntry(
            kind=track_kind(unit.kind),
            track=unit.track,
            file=rel,
            run=run,
            start=mf.utc(start),
            end=mf.utc(start + duration),
            duration=round(duration, 6),
            bytes=path.stat().st_size,
            sha256=digest,
            recovered=recovered,
        )
        await self._gap_before(seg)
        self.manifest.segments.append(seg)
        await self._emit(
            EventKind.SEGMENT_CLOSED,
            rel,
            hearing_id=self.hearing_id,
            file=rel,
            duration=seg.duration,
            sha256=digest,
        )

    async def _gap_before(self, seg: SegmentEntry) -> None:
        """The first video segment of a later run closes the gap the earlier run left; so
        does the first segment of each view and channel, for its own track."""
        if seg.kind == "audio" or any(
            s.run == seg.run and s.kind == seg.kind and s.track == seg.track
            for s in self.manifest.segments
        ):
            return
        previous = self.manifest.last_end(seg.kind, seg.run, seg.track)
        prior = [r for r in self.manifest.runs if r.run < seg.run]
        if previous is not None and prior and prior[-1].ended_at is not None:
            previous = min(previous, prior[-1].ended_at)  # nothing was recorded after exit
        if previous is None or (seg.start - previous).total_seconds() <= GAP_TOLERANCE:
            return
        cause = prior[-1].end_reason if prior and prior[-1].end_reason else "recorder restarted"
        gap = GapEntry(
            start=previous,
            end=seg.start,
            seconds=round((seg.start - previous).total_seconds(), 3),
            cause=cause,
            track=seg.track,
        )
        self.manifest.gaps.append(gap)
        where = "" if seg.track is None else f" in {seg.kind} {seg.track}"
        await self._emit(
            EventKind.GAP,
            f"recording gap of {gap.seconds:.1f} s{where}: {cause}",
            hearing_id=self.hearing_id,
            process="recorder",
            track=seg.track,
            start=gap.start.isoformat(),
            end=gap.end.isoformat(),
            seconds=gap.seconds,
            cause=cause,
        )

    def _save(self) -> None:
        mf.save(self.folder, self.manifest)
