"""What a paused room's public playlist may still offer: pure, no I/O.

At a pause the agent kills the live ffmpeg and starts the slate's; both write the same
playlist (`append_list`), so for a while (up to the list's length, a minute) the file
still names courtroom segments. streamd persists the pause before the agent acts, so the
server knows when it began: every segment of a run that was already writing before the
pause is courtroom picture, and is neither listed nor served from then on. Segment names
are the agent's `p{run:05d}_{n:05d}.ts` (agents/pipelines.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SEGMENT = re.compile(r"^p(\d{5})_\d{5}\.ts$")
_SEGMENT_TAGS = ("#EXTINF", "#EXT-X-DISCONTINUITY", "#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-BYTERANGE")


def run_of(name: str) -> int | None:
    m = SEGMENT.match(name)
    return int(m.group(1)) if m else None


def last_run_before(mtimes: Mapping[str, float], paused_at: float) -> int:
    """The newest run with a file written before the pause: the live one (-1: none)."""
    runs = [r for name, t in mtimes.items() if t < paused_at and (r := run_of(name)) is not None]
    return max(runs, default=-1)


def allowed(name: str, live_run: int) -> bool:
    """While paused: only files of runs started after the live one (the slate)."""
    run = run_of(name)
    return run is not None and run > live_run


def filtered(playlist: str, live_run: int) -> str:
    """The playlist without the segments of runs up to `live_run`; the media sequence
    moves on by as many, so a player never re-reads a number as another segment."""
    head: list[str] = []
    blocks: list[tuple[list[str], str]] = []
    tags: list[str] = []
    started = False
    for line in playlist.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            if line.startswith(_SEGMENT_TAGS):
                started = True
            (tags if started else head).append(line)
            continue
        started = True
        blocks.append((tags, line.strip()))
        tags = []
    kept = [(t, uri) for t, uri in blocks if allowed(uri, live_run)]
    dropped = len(blocks) - len(kept)
    out: list[str] = []
    for line in head:
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            line = f"#EXT-X-MEDIA-SEQUENCE:{int(line.split(':', 1)[1]) + dropped}"
        out.append(line)
    if dropped and not any(h.startswith("#EXT-X-MEDIA-SEQUENCE:") for h in head):
        out.append(f"#EXT-X-MEDIA-SEQUENCE:{dropped}")
    for t, uri in kept:
        out += [*t, uri]
    out += [line for line in tags if not line.startswith(_SEGMENT_TAGS)]  # e.g. ENDLIST
    return "\n".join(out) + "\n"
