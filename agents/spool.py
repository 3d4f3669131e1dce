"""What the agent still has to ship, and in which order: pure, no I/O.

The spool is not a second copy of the recording: it is the recording's own folders
(every manifest lists its closed segments with their SHA-256) minus the shipping log of
what the archive confirmed. So a file is in the spool from the instant the recorder lists
it until the archive has confirmed its hash, across any crash of either side.

Order: within a session, the manifest's order (segments as they closed; a finished
session's transcript, run lists and set-aside files after them, the manifest last, so an
archived manifest never names a file the archive lacks). Between sessions, oldest first;
but while a hearing records, its live segments take every other turn, so a backlog after
an outage cannot starve the hearing going on now.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agents.manifest import MANIFEST, TRANSCRIPT, Manifest


@dataclass(frozen=True, slots=True)
class Item:
    """One file to ship. `sha256` None: a finished session's file, hashed when sent."""

    hearing_id: int
    session: str
    path: str
    sha256: str | None = None
    offset: float | None = None
    duration: float | None = None

    @property
    def key(self) -> str:
        return f"{self.hearing_id}/{self.session}/{self.path}"


def items(manifest: Manifest, *, final: bool, extra: Iterable[str] = ()) -> list[Item]:
    """A session's files in shipping order; `extra` are the finished session's run lists
    and set-aside files found on disk (relative paths)."""
    h, s = manifest.hearing_id, manifest.session
    out = [
        Item(
            h,
            s,
            seg.file,
            seg.sha256,
            round((seg.start - manifest.started_at).total_seconds(), 3),
            seg.duration,
        )
        for seg in manifest.segments
    ]
    if final:
        out += [Item(h, s, p) for p in sorted(extra)]
        out += [Item(h, s, TRANSCRIPT), Item(h, s, MANIFEST)]
    return out


def pending(all_items: Iterable[Item], shipped: set[str]) -> list[Item]:
    return [i for i in all_items if i.key not in shipped]


def pick(backlog: Sequence[Item], live: Sequence[Item], *, last_was_live: bool) -> Item | None:
    """The next file: alternate between the live session and the oldest backlog."""
    if live and (not backlog or not last_was_live):
        return live[0]
    if backlog:
        return backlog[0]
    return None
