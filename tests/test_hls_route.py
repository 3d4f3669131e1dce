"""Each room's HLS output served by streamd at /hls/{room}/...: the playlist fresh, the
segments cacheable, nothing outside the room's folder reachable."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamd.config import Settings
from streamd.store import Database
from streamd.web import create_app
from tests.conftest import MakeClient

pytestmark = pytest.mark.db


async def test_the_room_folder_is_served_and_nothing_else(
    aiohttp_client: MakeClient, settings: Settings, database: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "agents" / "room-01" / "hls"
    folder.mkdir(parents=True)
    (folder / "index.m3u8").write_text("#EXTM3U\n#EXTINF:1.0,\np00001_00000.ts\n")
    (folder / "p00001_00000.ts").write_bytes(b"\x47" * 188)
    (tmp_path / "agents" / "room-01" / "secret.ts").write_bytes(b"no")
    template = str(tmp_path / "agents" / "{room}" / "hls" / "index.m3u8")
    app = create_app(settings=settings.model_copy(update={"monitor_hls": template}), db=database)
    client = await aiohttp_client(app)

    resp = await client.get("/hls/room-01/index.m3u8")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert (await resp.text()).startswith("#EXTM3U")
    resp = await client.get("/hls/room-01/p00001_00000.ts")
    assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp2t"
    assert len(await resp.read()) == 188
    for path in (
        "/hls/room-01/..%2Fsecret.ts",
        "/hls/room-01/missing.ts",
        "/hls/room-02/index.m3u8",
        "/hls/room-01/index.m3u8.bak",
        "/hls/..%2Froom-01/index.m3u8",
    ):
        assert (await client.get(path)).status == 404, path


async def test_nothing_is_served_when_another_server_publishes_hls(
    aiohttp_client: MakeClient, settings: Settings, database: Database
) -> None:
    remote = settings.model_copy(update={"monitor_hls": "http://cdn.court/{room}/index.m3u8"})
    client = await aiohttp_client(create_app(settings=remote, db=database))
    assert (await client.get("/hls/room-01/index.m3u8")).status == 404
