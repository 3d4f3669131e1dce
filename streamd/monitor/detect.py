"""What one sampled picture shows, and runs of samples as observations. Pure numpy.

The probe hands over each decoded keyframe as a small grey thumbnail and the span of
media time it stands for. The top band of the picture is left out of every test: the
agent draws the wall clock there, so a frozen camera would otherwise look alive and a
black one not quite black.

Thresholds follow ffmpeg's own filters where there is one: blackdetect calls a picture
black when 98 % of its pixels are below 10 % luma; freezedetect compares against the
previous frame with a small noise tolerance. Comparing whole keyframes at 128×72 keeps a
real camera's sensor noise averaged away while a person shifting in a chair still counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamd.monitor.ledger import Observation, Seen

THUMB = (128, 72)  # width, height
CLOCK_BAND = 0.12  # the top of the picture, where the agent's time overlay is
BLACK_LUMA = 0.10 * 255
BLACK_SHARE = 0.98
FROZEN_MAX_DIFF = 3  # grey levels: no pixel of the thumbnail moved by more
SLATE_MEAN_DIFF = 12.0  # grey levels on average from the slate image
SILENT_DBFS = -50.0
JOIN_MS = 500  # samples this close are one run

Thumb = npt.NDArray[np.uint8]


def body(thumb: Thumb) -> Thumb:
    """The picture without the clock band."""
    return thumb[int(thumb.shape[0] * CLOCK_BAND) :]


def is_black(thumb: Thumb) -> bool:
    b = body(thumb)
    return float(np.count_nonzero(b < BLACK_LUMA)) >= BLACK_SHARE * b.size


def _diff(a: Thumb, b: Thumb) -> npt.NDArray[np.int16]:
    return np.abs(body(a).astype(np.int16) - body(b).astype(np.int16))


def is_same_picture(a: Thumb, b: Thumb) -> bool:
    return a.shape == b.shape and int(_diff(a, b).max()) <= FROZEN_MAX_DIFF


def is_slate(thumb: Thumb, slate: Thumb | None) -> bool:
    return (
        slate is not None
        and thumb.shape == slate.shape
        and float(_diff(thumb, slate).mean()) <= SLATE_MEAN_DIFF
    )


def dbfs(samples: npt.NDArray[np.floating]) -> float:
    """RMS level of float samples in [-1, 1]; -inf for digital silence."""
    if samples.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * float(np.log10(rms)) if rms > 0 else float("-inf")


class Classifier:
    """Kinds of successive pictures of one stream; remembers the last for freezes."""

    def __init__(self, slate: Thumb | None) -> None:
        self.slate = slate
        self._last: Thumb | None = None

    def kind(self, thumb: Thumb) -> Seen:
        last, self._last = self._last, thumb
        if is_slate(thumb, self.slate):
            return Seen.SLATE
        if is_black(thumb):
            return Seen.BLACK
        if last is not None and is_same_picture(thumb, last):
            return Seen.FROZEN
        return Seen.PICTURE


@dataclass(slots=True)
class Run:
    kind: Seen
    start: int
    end: int


class Runs:
    """Samples (kind, start, end in epoch ms) merged into runs; a change closes a run.

    `video` and `audio` are tracked apart: silence is independent of what is pictured.
    """

    def __init__(self) -> None:
        self.open: dict[str, Run] = {}
        self.closed: list[Observation] = []

    def add(self, track: str, kind: Seen | None, start: int, end: int) -> None:
        """`kind` None: the sample showed nothing worth a run on this track (sound)."""
        run = self.open.get(track)
        if run is not None and (kind != run.kind or start > run.end + JOIN_MS):
            self._close(track)
            run = None
        if kind is None:
            return
        if run is None:
            self.open[track] = Run(kind, start, end)
        else:
            run.end = max(run.end, end)

    def close_all(self) -> None:
        for track in list(self.open):
            self._close(track)

    def _close(self, track: str) -> None:
        run = self.open.pop(track)
        if run.end > run.start:
            self.closed.append(Observation(run.kind, run.start, run.end))

    def take_closed(self) -> list[Observation]:
        out, self.closed = self.closed, []
        return out
