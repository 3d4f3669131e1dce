"""Each room's HLS output served by streamd at /hls/{room}/...: every file revalidated, a
paused room's courtroom segments withdrawn, nothing outside the room's folder reachable."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

from streamd.config import Settings
from streamd.models import Courtroom, Stream
from streamd.store import Database
from streamd.web import create_app
from streamd.web.hls_pause import filtered
from tests.archive_support import add_hearing
from tests.conftest import MakeClient


@pytest.mark.db
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
    # Revalidation is a 304 until the segment changes, then the new bytes.
    again = {"If-None-Match": resp.headers["ETag"]}
    assert (await client.get("/hls/room-01/p00001_00000.ts", headers=again)).status == 304
    (folder / "p00001_00000.ts").write_bytes(b"\x47" * 376)
    resp = await client.get("/hls/room-01/p00001_00000.ts", headers=again)
    assert resp.status == 200 and len(await resp.read()) == 376
    for path in (
        "/hls/room-01/..%2Fsecret.ts",
        "/hls/room-01/missing.ts",
        "/hls/room-02/index.m3u8",
        "/hls/room-01/index.m3u8.bak",
        "/hls/..%2Froom-01/index.m3u8",
    ):
        assert (await client.get(path)).status == 404, path


@pytest.mark.db
async def test_nothing_is_served_when_another_server_publishes_hls(
    aiohttp_client: MakeClient, settings: Settings, database: Database
) -> None:
    remote = settings.model_copy(update={"monitor_hls": "http://cdn.court/{room}/index.m3u8"})
    client = await aiohttp_client(create_app(settings=remote, db=database))
    assert (await client.get("/hls/room-01/index.m3u8")).status == 404


def _pause(db: Database, room: str, at: datetime) -> None:
    hid = add_hearing(db, room=room)

    def write(session: Session) -> None:
        courtroom = session.exec(select(Courtroom).where(Courtroom.code == room)).one()
        assert courtroom.id is not None
        session.add(
            Stream(hearing_id=hid, courtroom_id=courtroom.id, room=room, state="paused",
                   state_at=at)
        )  # fmt: skip

    db.call(write)


@pytest.mark.db
async def test_at_pause_the_courtroom_segments_leave_the_public_playlist_at_once(
    aiohttp_client: MakeClient, settings: Settings, database: Database, tmp_path: Path
) -> None:
    """The live run's segments are still in the file (the slate's ffmpeg appends to it):
    from the pause on, they are neither listed nor served, nor cacheable before it."""
    folder = tmp_path / "agents" / "room-01" / "hls"
    folder.mkdir(parents=True)
    paused = datetime.now(UTC)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:7"]
    for run, n, age in ((3, 0, -6), (3, 1, -4), (3, 2, -2), (4, 0, 1)):
        name = f"p{run:05d}_{n:05d}.ts"
        (folder / name).write_bytes(b"\x47" * 188)
        t = paused.timestamp() + age
        os.utime(folder / name, (t, t))
        if run == 4:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += ["#EXTINF:2.0,", name]
    (folder / "index.m3u8").write_text("\n".join(lines) + "\n")
    template = str(tmp_path / "agents" / "{room}" / "hls" / "index.m3u8")
    app = create_app(settings=settings.model_copy(update={"monitor_hls": template}), db=database)
    client = await aiohttp_client(app)
    resp = await client.get("/hls/room-01/p00003_00000.ts")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-cache", "revalidated"

    _pause(database, "room-01", paused)
    await asyncio.sleep(0.6)  # past the half-second pause cache
    text = await (await client.get("/hls/room-01/index.m3u8")).text()
    assert "p00003_" not in text, text
    assert "p00004_00000.ts" in text and "#EXT-X-MEDIA-SEQUENCE:10" in text
    assert (await client.get("/hls/room-01/p00003_00002.ts")).status == 404
    assert (await client.get("/hls/room-01/p00004_00000.ts")).status == 200


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), max_size=12), st.integers(-1, 5))
def test_a_filtered_playlist_names_no_segment_of_the_live_run_or_before(
    segs: list[tuple[int, int]], live: int
) -> None:
    names = [f"p{r:05d}_{n:05d}.ts" for r, n in segs]
    text = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n" + "".join(f"#EXTINF:2.0,\n{n}\n" for n in names)
    out = filtered(text, live)
    listed = [line for line in out.splitlines() if line.endswith(".ts")]
    assert listed == [n for n in names if int(n[1:6]) > live]
    assert f"#EXT-X-MEDIA-SEQUENCE:{len(names) - len(listed)}" in out
    assert out.count("#EXTINF") == len(listed)
