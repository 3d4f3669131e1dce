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

A file held back (its upload failed and waits out a backoff) holds back the files behind it
in its track — a session's video/ or audio/ folder, and the manifest behind the whole
session — so the archive never receives a segment before an earlier one of its track; other
tracks and sessions keep shipping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from streamd_protocol import MANIFEST, TRANSCRIPT, Manifest


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


ORDERED = ("video", "audio")  # folders whose files form one track each, in manifest order


def track(item: Item) -> tuple[int, str, str]:
    """The ordered track a file belongs to; a file outside one is its own track."""
    top = item.path.split("/", 1)[0]
    return (item.hearing_id, item.session, top if top in ORDERED else item.path)


def in_order(todo: Sequence[Item], held: set[str]) -> list[Item]:
    """The files of `todo` (shipping order) that may go now: not held themselves, no
    held file earlier in their track, and a manifest only once nothing of its session is."""
    blocked: set[tuple[int, str, str]] = set()
    sessions: set[tuple[int, str]] = set()
    out: list[Item] = []
    for item in todo:
        where = (item.hearing_id, item.session)
        if item.key in held or track(item) in blocked:
            blocked.add(track(item))
            sessions.add(where)
            continue
        if item.path == MANIFEST and where in sessions:
            continue
        out.append(item)
    return out


def pick(backlog: Sequence[Item], live: Sequence[Item], *, last_was_live: bool) -> Item | None:
    """The next file: alternate between the live session and the oldest backlog."""
    if live and (not backlog or not last_was_live):
        return live[0]
    if backlog:
        return backlog[0]
    return None
