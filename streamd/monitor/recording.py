"""The same ledger for the three-way recording (三同步): video, audio and transcript.

Read from the agent's recording folders (listed by its `recording_started` events) where
this machine can reach them: the same machine, or central storage mounted at the same
path. Every segment is checked against its SHA-256 in the manifest; the spans it lists
must cover the required interval; video and audio must last as long as each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamd.monitor import intervals as iv
from streamd.monitor.intervals import Span, Spans
from streamd_protocol import manifest as mf

JOIN_MS = 300  # segments this close are continuous (their times are rounded by the muxer)
AV_TOLERANCE_S = 1.0


def _spans(items: list[tuple[int, int]]) -> Spans:
    merged: list[Span] = []
    for start, end in iv.normalize(items):
        if merged and start - merged[-1][1] <= JOIN_MS:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


@dataclass(slots=True)
class RecordingCheck:
    verdict: str  # complete | incomplete | unreachable | not_recorded
    folders: list[str] = field(default_factory=list)
    video_gaps: Spans = ()
    audio_gaps: Spans = ()
    video_seconds: float = 0.0
    audio_seconds: float = 0.0
    transcript_lines: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def av_mismatch_seconds(self) -> float:
        return round(abs(self.video_seconds - self.audio_seconds), 3)

    def public(self, iso: Any) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "folders": self.folders,
            "video_seconds": round(self.video_seconds, 3),
            "audio_seconds": round(self.audio_seconds, 3),
            "av_mismatch_seconds": self.av_mismatch_seconds,
            "video_gaps": [[iso(s), iso(e)] for s, e in self.video_gaps],
            "audio_gaps": [[iso(s), iso(e)] for s, e in self.audio_gaps],
            "transcript_lines": self.transcript_lines,
            "problems": self.problems,
        }


def check(folders: list[str], required: Span | None) -> RecordingCheck:
    if not folders:
        return RecordingCheck("not_recorded")
    out = RecordingCheck("complete", folders=list(folders))
    video: list[tuple[int, int]] = []
    audio: list[tuple[int, int]] = []
    reachable = 0
    for name in folders:
        folder = Path(name)
        if not (folder / mf.MANIFEST).exists():
            out.problems.append(f"{name}: not reachable from streamd (no {mf.MANIFEST})")
            continue
        reachable += 1
        try:
            manifest = mf.load(folder)
        except ValueError as exc:
            out.problems.append(f"{name}: unreadable {mf.MANIFEST}: {exc}")
            continue
        problems = mf.verify(folder)
        out.problems += [f"{name}/{p}" for p in problems]
        untrusted = {p.split(":", 1)[0] for p in problems}  # missing or not what was written
        for seg in manifest.segments:
            if seg.file in untrusted:
                continue
            span = (iv.ms(seg.start), iv.ms(seg.end))
            (video if seg.kind == "video" else audio).append(span)
        out.video_seconds += manifest.total("video")
        out.audio_seconds += manifest.total("audio")
        out.transcript_lines += len(mf.transcript_lines(folder))
    if reachable == 0:
        out.verdict = "unreachable"
        return out
    if required is not None:
        out.video_gaps = iv.subtract((required,), _spans(video))
        out.audio_gaps = iv.subtract((required,), _spans(audio))
    if out.av_mismatch_seconds > AV_TOLERANCE_S:
        out.problems.append(
            f"video and audio differ by {out.av_mismatch_seconds:.1f} s "
            f"({out.video_seconds:.1f} s against {out.audio_seconds:.1f} s)"
        )
    if out.video_gaps:
        out.problems.append(f"video missing for {iv.total(out.video_gaps) / 1000:.1f} s")
    if out.audio_gaps:
        out.problems.append(f"audio missing for {iv.total(out.audio_gaps) / 1000:.1f} s")
    if required is not None and out.transcript_lines == 0:
        out.problems.append("no transcript lines")
    if out.problems:
        out.verdict = "incomplete"
    return out
