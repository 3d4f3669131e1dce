"""Picture composition as data: where each view's tile sits on the canvas. Pure, no I/O.

A layout is a kind (single, 2x2, 1+5, picture-in-picture) or an explicit list of tiles.
Tile 0 is the large one: the active speaker's view goes there, the others follow in the
room's order. Sizes are kept even so every tile is a valid yuv420p picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LayoutKind(StrEnum):
    SINGLE = "single"
    QUAD = "2x2"
    ONE_PLUS_FIVE = "1+5"
    PIP = "pip"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class Tile:
    x: int
    y: int
    w: int
    h: int

    def inside(self, width: int, height: int) -> bool:
        return (
            self.x >= 0 and self.y >= 0 and self.x + self.w <= width and self.y + self.h <= height
        )

    def overlaps(self, other: Tile) -> bool:
        return not (
            self.x + self.w <= other.x
            or other.x + other.w <= self.x
            or self.y + self.h <= other.y
            or other.y + other.h <= self.y
        )


def _even(n: float) -> int:
    return max(2, int(n) // 2 * 2)


def tiles(kind: LayoutKind, width: int, height: int) -> list[Tile]:
    """The tiles of a built-in layout on a `width`x`height` canvas, large tile first."""
    if kind == LayoutKind.SINGLE:
        return [Tile(0, 0, _even(width), _even(height))]
    if kind == LayoutKind.QUAD:
        w, h = _even(width / 2), _even(height / 2)
        return [Tile(c * w, r * h, w, h) for r in range(2) for c in range(2)]
    if kind == LayoutKind.ONE_PLUS_FIVE:
        # A 3x3 grid: the large tile takes the top-left 2x2, five small ones the L around it.
        w, h = _even(width / 3), _even(height / 3)
        big = Tile(0, 0, 2 * w, 2 * h)
        small = [(2, 0), (2, 1), (0, 2), (1, 2), (2, 2)]
        return [big] + [Tile(c * w, r * h, w, h) for c, r in small]
    if kind == LayoutKind.PIP:
        w, h = _even(width / 4), _even(height / 4)
        margin = _even(min(width, height) / 40)
        inset = Tile(_even(width - w - margin), _even(height - h - margin), w, h)
        return [Tile(0, 0, _even(width), _even(height)), inset]
    raise ValueError(f"layout {kind}: give its tiles")


def card_at(tile: Tile, card: tuple[int, int]) -> tuple[int, int]:
    """Where a view's signal-lost card sits: centred in the view's tile, and off the canvas
    with the tile when the view is parked there (a parked tile is narrower than any card)."""
    cw, ch = card
    return tile.x + max(0, (tile.w - cw) // 2), tile.y + max(0, (tile.h - ch) // 2)


def slots(kind: LayoutKind) -> int:
    return {"single": 1, "2x2": 4, "1+5": 6, "pip": 2}[kind.value]


def assign(order: list[str], big: str | None, count: int) -> list[str]:
    """Which view goes in which tile: `big` (the speaker or the pinned view) in tile 0,
    the rest in the room's order; at most `count` views."""
    if big is None or big not in order:
        return order[:count]
    return ([big] + [v for v in order if v != big])[:count]
