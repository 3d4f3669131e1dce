"""Who is in the large tile: the active speaker from the channels' levels, or the view the
clerk pinned. The decision is pure (`Picker`); the commands that carry it out are the
difference between two placements (`commands`), sent to the running ffmpeg's zmq filter.

Hold times stop the picture flickering: a new speaker must be the loudest for `attack`
seconds, and the large tile stays at least `hold` seconds on whoever has it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.layouts import Tile, card_at

SPEAKING_DB = -40.0  # a channel quieter than this is nobody speaking (RMS, dBFS)
ATTACK = 0.1


@dataclass
class Picker:
    """Feed it each channel's level as it arrives; it answers the view for the large tile."""

    channel_view: dict[str, str]  # channel -> the view its speaker sits in
    hold: float = 2.0
    attack: float = ATTACK
    threshold: float = SPEAKING_DB
    pinned: str | None = None
    speaker: str | None = None  # the view in the large tile by voice
    _since: float = float("-inf")  # when `speaker` took the tile
    _candidate: str | None = None
    _candidate_since: float = 0.0
    levels: dict[str, float] = field(default_factory=dict)

    def pin(self, view: str | None) -> None:
        """Pin a view in the large tile; None returns to following the voice."""
        self.pinned = view

    @property
    def big(self) -> str | None:
        return self.pinned if self.pinned is not None else self.speaker

    def update(self, now: float, levels: dict[str, float]) -> str | None:
        """Take new levels; the view for the large tile (None: nobody has spoken yet)."""
        self.levels.update(levels)
        loud = [
            (db, ch)
            for ch, db in self.levels.items()
            if db >= self.threshold and ch in self.channel_view
        ]
        top = self.channel_view[max(loud)[1]] if loud else None
        if top is None or top == self.speaker:
            self._candidate = None
            return self.big
        if top != self._candidate:
            self._candidate, self._candidate_since = top, now
        if now - self._candidate_since >= self.attack and now - self._since >= self.hold:
            self.speaker, self._since, self._candidate = top, now, None
        return self.big


def commands(
    old: dict[str, Tile] | None, new: dict[str, Tile], card: tuple[int, int] | None = None
) -> list[str]:
    """The zmq filter commands that move every view from `old` to `new` (all of them when
    `old` is None): scale to the tile's size, overlay at its corner, and, with `card` (its
    size), the view's signal-lost card under it to the tile's centre."""
    out = []
    for view, tile in new.items():
        if old is not None and old.get(view) == tile:
            continue
        out += [
            f"scale@{view} w {tile.w}",
            f"scale@{view} h {tile.h}",
            f"overlay@{view} x {tile.x}",
            f"overlay@{view} y {tile.y}",
        ]
        if card is not None:
            x, y = card_at(tile, card)
            out += [f"overlay@card-{view} x {x}", f"overlay@card-{view} y {y}"]
    return out
