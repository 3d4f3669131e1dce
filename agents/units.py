"""What a session's ffmpeg runs write, named: the units it segments (the record's video and
audio, each view and channel), their segment lists and the session's folder.

Kept apart from the recorder so the names of files on disk are decided in one place and the
recorder is only the watching and listing of them.
"""

from __future__ import annotations

import contextlib
import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agents import compose
from agents.config import AgentConfig
from streamd_protocol import manifest as mf

__all__ = ["Unit", "read_segment_list", "session_folder", "track_kind", "units"]


@dataclass(frozen=True, slots=True)
class Unit:
    """One stream ffmpeg segments: the record's video or audio, or one view or channel."""

    kind: str
    track: str | None
    folder: str  # relative to the session
    prefix: str

    def segment_list(self, run: int) -> str:
        name = self.kind if self.track is None else f"{self.kind}_{self.track}"
        return f"r{run:03d}_{name}.csv"

    @property
    def gaps(self) -> bool:
        """Gaps are judged on the record's video and on every view and channel."""
        return self.kind != "audio"


def units(cfg: AgentConfig) -> list[Unit]:
    record = [Unit("video", None, "video", "v"), Unit("audio", None, "audio", "a")]
    extra = compose.tracks(list(cfg.agent.views), list(cfg.agent.channels))
    return record + [Unit(t.kind, t.name, t.folder, t.prefix) for t in extra]


_KINDS: dict[str, mf.TrackKind] = {
    "video": "video",
    "audio": "audio",
    "view": "view",
    "channel": "channel",
}


def track_kind(kind: str) -> mf.TrackKind:
    return _KINDS[kind]


def read_segment_list(path: Path) -> list[tuple[str, float, float]]:
    """Complete rows of a segment list; a row being written is skipped until it is whole."""
    if not path.exists():
        return []
    text = path.read_text(errors="replace")
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    rows = []
    for row in csv.reader(text.splitlines()):
        with contextlib.suppress(ValueError, IndexError):
            rows.append((row[0], float(row[1]), float(row[2])))
    return rows


def session_folder(data_dir: Path, hearing_id: int, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return data_dir / "recordings" / str(hearing_id) / stamp
