"""The end-of-day summary: every hearing's coverage verdict and recording, checked.

The coverage and the checksum verification are streamd's own (the monitor's ledger and
recording check, what `streamd coverage` prints); on top, every recorded segment is opened
and its first frame decoded, so "playable" is a fact, not a file size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from streamd.demo.clerk import ClerkOutcome
from streamd_protocol import manifest as mf
from streamd_protocol import segment_format


def undecodable(folder: Path) -> list[str]:
    """Segments listed in a session's manifest whose first frame does not decode."""
    bad: list[str] = []
    for seg in mf.load(folder).segments:
        try:
            path = folder / seg.file
            with av.open(str(path), format=segment_format(path)) as container:
                streams = container.streams
                picture = seg.kind in ("video", "view")  # a view is one camera's own track
                next(container.decode(streams.video[0] if picture else streams.audio[0]))
        except (av.FFmpegError, StopIteration, IndexError, OSError) as exc:
            bad.append(f"{seg.file}: {type(exc).__name__} {exc}".strip())
    return bad


@dataclass(slots=True)
class Row:
    key: str
    hearing_id: int
    room: str
    case_number: str
    line: str | None
    not_streamed: str | None
    coverage: dict[str, Any]
    undecodable: list[str] = field(default_factory=list)
    archived: int = 0  # closed segments in both archive roots, hash checked
    archive_problems: list[str] = field(default_factory=list)

    @property
    def streamed(self) -> bool:
        return self.line is not None

    @property
    def recording_ok(self) -> bool:
        return self.coverage["recording"]["verdict"] == "complete" and not self.undecodable

    def problems(self) -> list[str]:
        out: list[str] = []
        if self.streamed and self.coverage["verdict"] == "not_streamed":
            out.append("streamed but no coverage verdict")
        if not self.recording_ok:
            rec = self.coverage["recording"]
            out.append(f"recording {rec['verdict']}: {'; '.join(rec['problems'])}")
            out += [f"not playable: {b}" for b in self.undecodable]
        out += [f"archive: {p}" for p in self.archive_problems]
        return out

    def line_text(self) -> str:
        cov, rec = self.coverage, self.coverage["recording"]
        if self.streamed:
            stream = (
                f"{self.line} coverage {cov['verdict']} {cov['coverage_percent']:.1f}% "
                f"gap {cov['gap_seconds']:.1f} s extra {cov['extra_seconds']:.1f} s "
                f"paused {len(cov['paused'])}"
            )
        else:
            stream = f"not streamed: {self.not_streamed}"
        segments = "playable" if not self.undecodable else f"{len(self.undecodable)} undecodable"
        return (
            f"  {self.key} {self.room} {self.case_number}  {stream}\n"
            f"      recording {rec['verdict']}: video {rec['video_seconds']:.1f} s, "
            f"audio {rec['audio_seconds']:.1f} s, {rec['transcript_lines']} transcript lines, "
            f"checksums verified, {segments}\n"
            f"      archive: {self.archived} segments in both roots"
            + (f", {len(self.archive_problems)} missing" if self.archive_problems else "")
        )


def rows(outcomes: list[ClerkOutcome], coverage: dict[int, dict[str, Any]]) -> list[Row]:
    out: list[Row] = []
    for o in outcomes:
        if o.hearing_id is None or o.hearing_id not in coverage:
            continue
        cov = coverage[o.hearing_id]
        bad: list[str] = []
        for folder in cov["recording"]["folders"]:
            if (Path(folder) / mf.MANIFEST).exists():
                bad += undecodable(Path(folder))
        h = o.timed.hearing
        out.append(
            Row(h.key, o.hearing_id, h.room, h.case_number, o.line, o.not_streamed, cov, bad)
        )
    return out


def render(table: list[Row]) -> str:
    streamed = [r for r in table if r.streamed]
    full = [r for r in streamed if r.coverage["verdict"] == "full"]
    gaps = sum(r.coverage["gap_seconds"] for r in streamed)
    recorded = [r for r in table if r.recording_ok]
    lines = [
        f"streamd demo: the day is over. {len(table)} hearings, {len(streamed)} streamed "
        f"({len(full)} with full coverage, {gaps:.1f} s of gaps in all), "
        f"{len(recorded)}/{len(table)} recordings complete and playable.",
        *(r.line_text() for r in table),
    ]
    return "\n".join(lines)
