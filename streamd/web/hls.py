"""Each room's public HLS output, served as it is written: `/hls/{room}/index.m3u8`.

Lines whose push_url is "hls" air the agent's own HLS folder; on one machine (the demo, a
small court) streamd serves those folders so a browser or player on the intranet can
watch. The folder is where the monitor reads it (STREAMD_MONITOR_HLS); a URL there means
another server publishes it and streamd serves nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from streamd.config import Settings

_ROOM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_FILE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.(m3u8|ts)$")
_TYPES = {"m3u8": "application/vnd.apple.mpegurl", "ts": "video/mp2t"}


def add_hls_routes(app: web.Application, *, settings: Settings) -> None:
    template = settings.monitor_hls
    if "://" in template:
        return

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
        # The playlist changes every second; a segment never changes once listed.
        cache = "no-cache" if matched.group(1) == "m3u8" else "public, max-age=3600"
        return web.FileResponse(
            path, headers={"Content-Type": _TYPES[matched.group(1)], "Cache-Control": cache}
        )

    app.router.add_get("/hls/{room}/{name}", serve)
