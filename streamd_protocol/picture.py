"""What one small grey picture shows: black, the same as another, the slate. Pure numpy.

The top-left corner is left out of every test: the agent draws the wall clock there, so
a frozen camera would otherwise look alive and a black one not quite black. Thresholds
follow ffmpeg's own filters where there is one: blackdetect calls a picture black when
98 % of its pixels are below 10 % luma; freezedetect compares against the previous frame
with a small noise tolerance. Shared by the monitor (the public output) and the agent's
pre-hearing self-test (each camera), so both call the same picture black.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

THUMB = (128, 72)  # width, height
# The agent's time overlay: 16 px from the top-left corner, h/20 high, about half the width
# at most; at the smallest picture the agents send (320×180) that is the top fifth.
CLOCK_ROWS, CLOCK_COLS = 0.2, 0.6
BLACK_LUMA = 0.10 * 255
BLACK_SHARE = 0.98
FROZEN_MEAN_DIFF = 0.5  # grey levels on average: encoder noise on a still, not a person moving
SLATE_MEAN_DIFF = 12.0  # grey levels on average from the slate image

Thumb = npt.NDArray[np.uint8]


def _analysed() -> npt.NDArray[np.bool_]:
    w, h = THUMB
    mask = np.ones((h, w), dtype=bool)
    mask[: int(h * CLOCK_ROWS), : int(w * CLOCK_COLS)] = False
    return mask


ANALYSED = _analysed()


def body(thumb: Thumb) -> npt.NDArray[np.uint8]:
    """The picture's pixels without the clock overlay, flattened."""
    return thumb[ANALYSED]


def is_black(thumb: Thumb) -> bool:
    b = body(thumb)
    return float(np.count_nonzero(b < BLACK_LUMA)) >= BLACK_SHARE * b.size


def _mean_diff(a: Thumb, b: Thumb) -> float:
    return float(np.abs(body(a).astype(np.int16) - body(b).astype(np.int16)).mean())


def is_same_picture(a: Thumb, b: Thumb) -> bool:
    return a.shape == b.shape and _mean_diff(a, b) <= FROZEN_MEAN_DIFF


def is_slate(thumb: Thumb, slate: Thumb | None) -> bool:
    return (
        slate is not None
        and thumb.shape == slate.shape
        and _mean_diff(thumb, slate) <= SLATE_MEAN_DIFF
    )
