"""The probe on real ffmpeg output: what it sees in HLS segments and on a live socket."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from streamd.monitor.detect import Classifier
from streamd.monitor.ledger import Seen
from streamd.monitor.probe import (
    HlsSource,
    ProbeError,
    UrlSource,
    analyse_segment,
    image_thumbnail,
)
from streamd_protocol.media import ffmpeg_exe
from tests.mediaroom import MediaRoom, clip

pytestmark = [pytest.mark.ffmpeg]


async def _segments(media: MediaRoom, since: int = 0) -> list[tuple[Seen | None, Seen | None]]:
    cls = Classifier(image_thumbnail(media.slate_image))
    source = HlsSource(str(media.playlist))
    out = []
    for ref in await source.new_segments(since):
        samples = analyse_segment(await source.read(ref), ref.start_ms, ref.duration_ms, cls)
        video = [s for s in samples if s.track == "video"]
        audio = [s for s in samples if s.track == "audio"]
        assert (
            video
            and video[0].start == ref.start_ms
            and video[-1].end == ref.start_ms + ref.duration_ms
        )
        out.append((video[0].kind, audio[0].kind if audio else None))
    return out


async def test_hls_segments_show_the_courtroom_then_the_slate(tmp_path: Path) -> None:
    media = MediaRoom(tmp_path)
    await media.live()
    await asyncio.sleep(3.5)
    await media.slate()
    await asyncio.sleep(3.5)
    await media.stop()
    seen = await _segments(media)
    kinds = [v for v, _ in seen]
    assert kinds[0] == Seen.PICTURE and kinds[-1] == Seen.SLATE
    switch = kinds.index(Seen.SLATE)
    assert set(kinds[:switch]) == {Seen.PICTURE} and set(kinds[switch:]) == {Seen.SLATE}
    # the tone is sound, the slate is silent
    assert {a for v, a in seen if v is Seen.PICTURE} == {None}
    assert {a for v, a in seen if v is Seen.SLATE} == {Seen.SILENT}, seen
    # read again: nothing new
    source = HlsSource(str(media.playlist))
    first = await source.new_segments(0)
    assert first and await source.new_segments(0) == []


async def test_a_still_camera_is_frozen_even_with_the_clock_running(tmp_path: Path) -> None:
    still = clip(tmp_path, "smptebars")
    media = MediaRoom(tmp_path / "room", source={"kind": "file", "url": str(still)})
    await media.live()
    await asyncio.sleep(4.5)
    await media.stop()
    kinds = [v for v, _ in await _segments(media)]
    assert kinds[0] == Seen.PICTURE and set(kinds[1:]) == {Seen.FROZEN}, kinds


async def test_a_live_socket_is_sampled_at_arrival(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    encoder = await asyncio.create_subprocess_exec(
        *(ffmpeg_exe(), "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=25"),
        *("-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac"),
        *("-f", "mpegts", f"{url}?listen=1"),
    )
    try:
        await asyncio.sleep(0.5)
        source = UrlSource(url, Classifier(None), timeout=3)
        video, audio = [], []
        async for sample in source.samples():
            (video if sample.track == "video" else audio).append(sample)
            if len(video) >= 3 and audio:
                break
        source.close()
        assert {s.kind for s in video} == {Seen.PICTURE}
        assert all(s.end > s.start for s in video)
        assert audio[0].kind is Seen.SILENT
    finally:
        encoder.kill()
        await encoder.wait()
    with pytest.raises(ProbeError):
        async for _ in UrlSource(url, Classifier(None), timeout=1).samples():
            pass
