"""Which replica watches which room: the monitor's work, partitioned (the two-level
platform's hundreds of streams are more than one process decodes).

Rendezvous hashing: each room goes to the live replica whose hash of (replica, room) is
highest. Every replica computes the same answer from the same list of members, and when
one leaves, only its rooms move (to the others, spread evenly); when one joins, it takes
only the rooms it now wins. No coordinator, no assignment table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def _weight(member: str, room: str) -> int:
    digest = hashlib.sha256(f"{member}\x00{room}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def owner(room: str, members: Iterable[str]) -> str | None:
    """The member that watches `room`; None when there is no member at all."""
    best: tuple[int, str] | None = None
    for member in members:
        candidate = (_weight(member, room), member)
        if best is None or candidate > best:
            best = candidate
    return None if best is None else best[1]


class Share:
    """One replica's view of the members; `owns(room)` is what its monitor watches. Until
    it has heard of any member, it owns every room (one process, or the first moments):
    an unwatched room is the failure to avoid, a room watched twice is harmless."""

    def __init__(self, me: str) -> None:
        self.me = me
        self.members: tuple[str, ...] = ()

    def update(self, members: Iterable[str]) -> None:
        self.members = tuple(sorted(set(members) | {self.me}))

    def owns(self, room: str) -> bool:
        return not self.members or owner(room, self.members) == self.me
