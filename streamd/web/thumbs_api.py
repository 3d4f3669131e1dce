"""A thumbnail of one camera view, for the technicians' wall.

`GET /api/v1/views/thumbnail.jpg?room=room-01&view=bench`: the first frame of that view's
newest archived segment, as a small JPEG. The wall needs to see that each seat's camera
shows a picture, not to watch it: one frame from a closed segment (at most a segment and
a shipment old) costs one short ffmpeg decode per new segment, and nothing in the room.
Frames are cached by the segment's row id, so a wall refreshing every few seconds decodes
each segment once. Technicians and administrators only (the status, not the content of a
hearing: a still of the room, as the public output preview beside it shows).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from streamd.config import Settings
from streamd.domain import Role
from streamd.models import ArchivedFile, Courtroom
from streamd.record import service
from streamd.store import Database
from streamd.web.problems import ApiProblem
from streamd.web.routing import Api, Call
from streamd_protocol import ffmpeg_exe

CACHE = 256  # frames kept: a few per view of every room


class ThumbQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    room: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    view: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")


def newest(session: Session, *, room: str, view: str, court_id: int | None) -> ArchivedFile | None:
    """The newest archived segment of `view` in `room` (views/<view>/... in its session);
    None for a room of another court (the wall is the asker's court's)."""
    if not session.exec(
        select(Courtroom.id).where(Courtroom.code == room, Courtroom.court_id == court_id)
    ).first():
        return None
    return session.exec(
        select(ArchivedFile)
        .where(
            ArchivedFile.room == room,
            ArchivedFile.kind == "view",
            col(ArchivedFile.path).startswith(f"views/{view}/"),
        )
        .order_by(col(ArchivedFile.id).desc())
        .limit(1)
    ).first()


async def first_frame(path: Path, width: int = 160) -> bytes | None:
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_exe(), "-v", "error", "-i", str(path), "-frames:v", "1",
        "-vf", f"scale={width}:-2", "-f", "image2", "-c:v", "mjpeg", "pipe:1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return None
    return out if proc.returncode == 0 and out else None


def register_thumbs(api: Api, *, db: Database, settings: Settings) -> None:
    cache: OrderedDict[int, bytes] = OrderedDict()
    roots = service.roots_of(settings)

    @api.route(
        "GET",
        "/views/thumbnail.jpg",
        summary="A still of one camera view (its newest archived segment), for the wall",
        tag="operations",
        roles=frozenset({Role.TECHNICIAN, Role.ADMIN}),
        query=ThumbQuery,
        responses={200: None},
    )
    async def get_view_thumbnail(call: Call) -> web.StreamResponse:
        q = call.query
        assert call.user is not None
        row = await db.run(newest, room=q.room, view=q.view, court_id=call.user.court_id)
        if row is None or row.id is None:
            raise ApiProblem(404, "Not found", f"no archived picture of {q.view} in {q.room}")
        jpeg = cache.get(row.id)
        if jpeg is None:
            for root in roots:  # a copy that gives no picture: try the other
                path = service.stored(root, row)
                if path.is_file() and (jpeg := await first_frame(path)) is not None:
                    break
            if jpeg is None:
                raise ApiProblem(404, "Not found", "the newest segment gave no picture")
            cache[row.id] = jpeg
            while len(cache) > CACHE:
                cache.popitem(last=False)
        return web.Response(
            body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=5"}
        )
