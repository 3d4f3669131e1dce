"""The wall's per-view stills: the first frame of a view's newest archived segment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from streamd.config import Settings
from streamd.models import ArchivedFile
from streamd.store import Database
from streamd_protocol.media import ffmpeg_exe
from tests.conftest import Client, make_hearing, token

pytestmark = [pytest.mark.db, pytest.mark.ffmpeg]
URL = "/api/v1/views/thumbnail.jpg"


def _segment(root: Path, hid: int, view: str, n: int, colour: str) -> str:
    rel = f"views/{view}/v000_{n:05d}.ts"
    out = root / str(hid) / "20261203T010000Z" / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"color={colour}:size=160x90:rate=15",
         "-t", "1", "-c:v", "libx264", "-f", "mpegts", str(out)],
        check=True,
    )  # fmt: skip
    return rel


def _pixel(jpeg: bytes) -> bytes:
    return subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "image2pipe", "-i", "pipe:0", "-vf", "scale=1:1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        input=jpeg, capture_output=True, check=True,
    ).stdout  # fmt: skip


def _row(db: Database, hid: int, rel: str) -> None:
    def work(session: object) -> None:
        session.add(  # type: ignore[attr-defined]
            ArchivedFile(hearing_id=hid, room="room-01", session="20261203T010000Z", path=rel,
                         kind="view", bytes=1, sha256="0" * 64)
        )  # fmt: skip

    db.call(work)


async def test_the_wall_sees_each_views_newest_picture(
    rclient: Client, database: Database, arch: Settings
) -> None:
    hid = (await make_hearing(rclient))["id"]
    assert arch.archive_dir is not None
    _row(database, hid, _segment(arch.archive_dir, hid, "bench", 0, "red"))
    _row(database, hid, _segment(arch.archive_dir, hid, "bench", 1, "blue"))
    tech = await token(rclient, "technician")
    resp = await rclient.get(URL, params={"room": "room-01", "view": "bench"}, headers=tech)
    assert resp.status == 200 and resp.content_type == "image/jpeg"
    jpeg = await resp.read()
    assert jpeg[:2] == b"\xff\xd8"
    # The newest segment's picture: blue, not red (decoded back to one pixel).
    px = _pixel(jpeg)
    assert px[2] > 150 and px[0] < 80, px
    for params, status in (
        ({"room": "room-01", "view": "witness"}, 404),
        ({"room": "room-02", "view": "bench"}, 404),
        ({"room": "../etc", "view": "bench"}, 422),
        ({"room": "room-01"}, 422),
    ):
        resp = await rclient.get(URL, params=params, headers=tech)
        assert resp.status == status, (params, await resp.text())
    clerk = await token(rclient, "clerk")
    resp = await rclient.get(URL, params={"room": "room-01", "view": "bench"}, headers=clerk)
    assert resp.status == 403
