"""What one sampled picture shows, and runs of samples as observations. Pure numpy.

The probe hands over each decoded keyframe as a small grey thumbnail and the span of
media time it stands for. The top-left corner of the picture is left out of every
test: the agent draws the wall clock there, so a frozen camera would otherwise look alive
and a black one not quite black.

Thresholds follow ffmpeg's own filters where there is one: blackdetect calls a picture
black when 98 % of its pixels are below 10 % luma; freezedetect compares against the
previous frame with a small noise tolerance. Comparing keyframes at 128×72 averages a
real camera's sensor noise away while a person shifting in a chair still counts
(measured: a still re-encoded at 400 kb/s differs from itself by ≤ 0.1 level on average,
the test picture from one second to the next by ≥ 9).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from streamd.monitor.ledger import Observation, Seen
from streamd_protocol import picture

SILENT_DBFS = -50.0
JOIN_MS = 500  # samples this close are one run


def dbfs(samples: npt.NDArray[np.floating]) -> float:
    """RMS level of float samples in [-1, 1]; -inf for digital silence."""
    if samples.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * float(np.log10(rms)) if rms > 0 else float("-inf")


def silence(chunks: list[npt.NDArray[Any]]) -> Seen | None:
    """SILENT if decoded audio chunks are below the threshold, or there are none: no audio
    at all is silence to the public as much as a silent track is."""
    if not chunks:
        return Seen.SILENT
    level = dbfs(np.concatenate([c.reshape(-1) for c in chunks]).astype(np.float32))
    return Seen.SILENT if level < SILENT_DBFS else None


class Classifier:
    """Kinds of successive pictures of one stream; remembers the last for freezes."""

    def __init__(self, slate: picture.Thumb | None) -> None:
        self.slate = slate
        self._last: picture.Thumb | None = None

    def kind(self, thumb: picture.Thumb) -> Seen:
        last, self._last = self._last, thumb
        if picture.is_slate(thumb, self.slate):
            return Seen.SLATE
        if picture.is_black(thumb):
            return Seen.BLACK
        if last is not None and picture.is_same_picture(thumb, last):
            return Seen.FROZEN
        return Seen.PICTURE


@dataclass(slots=True)
class Run:
    id: str
    kind: Seen
    start: int
    end: int

    def observation(self) -> Observation:
        return Observation(self.kind, self.start, self.end)


class Runs:
    """Samples (kind, start, end in epoch ms) merged into runs; a change closes a run.

    Tracks (`video`, `audio`) are apart: silence is independent of what is pictured. Each
    run has an id from its start, so the open run can be saved again as it grows.
    """

    def __init__(self) -> None:
        self.open: dict[str, Run] = {}
        self.closed: list[Run] = []
        self.last_end: dict[str, int] = {}

    def add(self, track: str, kind: Seen | None, start: int, end: int) -> None:
        """`kind` None: the sample showed nothing worth a run on this track (sound)."""
        self.last_end[track] = max(self.last_end.get(track, end), end)
        run = self.open.get(track)
        if run is not None and (kind != run.kind or start > run.end + JOIN_MS):
            self._close(track)
            run = None
        if kind is None:
            return
        if run is None:
            self.open[track] = Run(uuid.uuid4().hex, kind, start, end)
        else:
            run.end = max(run.end, end)

    def close_all(self) -> None:
        for track in list(self.open):
            self._close(track)

    def _close(self, track: str) -> None:
        run = self.open.pop(track)
        if run.end > run.start:
            self.closed.append(run)

    def to_save(self) -> list[Run]:
        """Runs closed since the last call, then the open ones as they stand."""
        out, self.closed = self.closed, []
        return out + [r for r in self.open.values() if r.end > r.start]
