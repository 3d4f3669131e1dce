"""Each room's public HLS output, served as it is written: `/hls/{room}/index.m3u8`.

Lines whose push_url is "hls" air the agent's own HLS folder; on one machine (the demo, a
small court) streamd serves those folders so a browser or player on the intranet can
watch. The folder is where the monitor reads it (STREAMD_MONITOR_HLS); a URL there means
another server publishes it and streamd serves nothing.

A paused room's courtroom segments disappear at once (streamd.web.hls_pause): the pause is
read from the database, where it is persisted before the agent switches to the slate. No
file is cacheable past a revalidation, so no cache serves a courtroom segment after pause.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from aiohttp import web
from sqlmodel import Session, col, select

from streamd.config import Settings
from streamd.models import Stream
from streamd.store import Database
from streamd.web import hls_pause

_ROOM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_FILE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.(m3u8|ts)$")
_TYPES = {"m3u8": "application/vnd.apple.mpegurl", "ts": "video/mp2t"}


PAUSE_CACHE_SECONDS = 0.5  # one lookup per room per half second, however many viewers


def paused_since(session: Session, *, room: str) -> float | None:
    """Epoch seconds the room's latest stream was paused at, or None if not paused."""
    row = session.exec(
        select(Stream.state, Stream.state_at)
        .where(Stream.room == room)
        .order_by(col(Stream.state_at).desc(), col(Stream.id).desc())
    ).first()
    return row[1].timestamp() if row is not None and row[0] == "paused" else None


def _mtimes(folder: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in folder.glob("p*_*.ts"):
        try:
            out[p.name] = p.stat().st_mtime
        except FileNotFoundError:  # ffmpeg's delete_segments
            continue
    return out


def add_hls_routes(app: web.Application, *, settings: Settings, db: Database) -> None:
    template = settings.monitor_hls
    if "://" in template:
        return
    seen: dict[str, tuple[float, float | None]] = {}

    async def paused(room: str) -> float | None:
        now = asyncio.get_running_loop().time()
        hit = seen.get(room)
        if hit is None or now - hit[0] > PAUSE_CACHE_SECONDS:
            hit = seen[room] = (now, await db.run(paused_since, room=room))
        return hit[1]

    async def serve(request: web.Request) -> web.StreamResponse:
        room, name = request.match_info["room"], request.match_info["name"]
        matched = _FILE.match(name)
        if not _ROOM.match(room) or matched is None:
            raise web.HTTPNotFound()
        folder = Path(template.format(room=room)).parent
        path = folder / name
        # A symlink (or anything resolving outside the room's folder) is never served:
        # whoever can write the folder must not be able to publish the rest of the disk.
        if path.is_symlink() or not path.is_file():
            raise web.HTTPNotFound()
        if not path.resolve().is_relative_to(folder.resolve()):
            raise web.HTTPNotFound()
        kind = matched.group(1)
        # Revalidated every time (cheap: ETag / Last-Modified), so that what a pause
        # withdraws is withdrawn from every cache too.
        headers = {"Content-Type": _TYPES[kind], "Cache-Control": "no-cache"}
        paused_at = await paused(room)
        if paused_at is None:
            return await _file(request, path, headers)
        live_run = hls_pause.last_run_before(await asyncio.to_thread(_mtimes, folder), paused_at)
        if kind == "ts":
            if not hls_pause.allowed(name, live_run):
                raise web.HTTPNotFound()
            return await _file(request, path, headers)
        text = await asyncio.to_thread(path.read_text, errors="replace")
        headers["Cache-Control"] = "no-store"
        return web.Response(body=hls_pause.filtered(text, live_run).encode(), headers=headers)

    app.router.add_get("/hls/{room}/{name}", serve)


async def _file(request: web.Request, path: Path, headers: dict[str, str]) -> web.Response:
    """One segment or playlist, read whole in a worker thread that also closes it.

    aiohttp's FileResponse opens the file in a worker thread and hands the handle back; a
    viewer who leaves mid-request cancels the handler between the two, and the handle is
    left to the garbage collector. Segments are a few hundred kilobytes, so reading them
    whole costs nothing and no handle ever crosses an await. The ETag is the same
    mtime-and-size tag FileResponse sends, so revalidation stays a 304.
    """
    sent = {tag.value for tag in request.if_none_match or ()}
    found = await asyncio.to_thread(_read, path, sent)
    if found is None:
        raise web.HTTPNotFound()
    etag, body = found
    headers = {**headers, "ETag": f'"{etag}"'}
    if body is None:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers=headers)


def _read(path: Path, sent: set[str]) -> tuple[str, bytes | None] | None:
    """The file's tag and bytes; no bytes when the viewer already holds this version."""
    try:
        with path.open("rb") as fh:
            st = os.fstat(fh.fileno())
            etag = f"{st.st_mtime_ns:x}-{st.st_size:x}"
            return etag, (None if etag in sent else fh.read())
    except FileNotFoundError:
        return None
