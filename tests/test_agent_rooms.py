"""A courtroom host with real ffmpeg: 4 views and 3 channels recorded as a composite and
as tracks of their own, on one wall clock."""

from __future__ import annotations

import array
import asyncio
import itertools
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from agents import compose
from agents.config import load
from agents.layouts import card_at
from agents.pipelines import HLS_PLAYLIST
from streamd_protocol import CommandKind, Leaf, slate
from streamd_protocol import manifest as mf
from streamd_protocol.archive import FileKind, kind_of
from streamd_protocol.media import ffmpeg_exe, gray_frames, hls_segments, probe
from tests.mqtt_support import broker_for, court_on, running_agent
from tests.rooms_support import CHANNELS, VIEWS, rooms_config
from tests.test_agent_media import _is_slate

pytestmark = [pytest.mark.broker, pytest.mark.ffmpeg, pytest.mark.slow]
K = CommandKind


async def test_every_view_and_channel_is_recorded_as_its_own_track_beside_the_composite(
    tmp_path: Path,
) -> None:
    async with broker_for(tmp_path) as (host, port):
        path, topics = rooms_config(tmp_path, port)
        cfg = load(path)
        async with running_agent(cfg) as agent, court_on(host, port, topics) as court:
            assert (await court.send(K.PREPARE, 7)).ok
            await asyncio.sleep(5.0)
            assert (await court.send(K.STOP, 7)).ok
            assert agent.recorder is None or agent.recorder.manifest.closed_at is not None

    (folder,) = list((cfg.data_dir / "recordings" / "7").iterdir())
    manifest = mf.load(folder)
    assert mf.verify(folder) == []
    assert manifest.gaps == [] and manifest.set_aside == []
    assert [(t.kind, t.name) for t in manifest.tracks] == [("view", n) for n, _, _ in VIEWS] + [
        ("channel", n) for n, _, _ in CHANNELS
    ]
    composite = manifest.total("video")
    assert composite > 3.0
    assert abs(manifest.total("audio") - composite) < 0.2
    for name, _, _ in VIEWS:
        assert abs(manifest.total("view", name) - composite) < 0.2, name
    for name, _, _ in CHANNELS:
        assert abs(manifest.total("channel", name) - composite) < 0.2, name
    for seg in manifest.segments:
        assert probe(folder / seg.file).ok, seg.file
        assert seg.file.startswith("views/" if seg.kind == "view" else "")
        # The archive takes every track's files (agents/shipper.py ships what is listed).
        assert kind_of(seg.file) in (
            FileKind.VIDEO,
            FileKind.AUDIO,
            FileKind.VIEW,
            FileKind.CHANNEL,
        )
    starts = {
        s.track: min(x.start for x in manifest.segments if x.track == s.track)
        for s in manifest.segments
    }
    assert max(starts.values()) == min(starts.values()), "every track starts on one wall clock"


def _pcm(path: Path) -> bytes:
    out = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            "8000",
            "-",
        ],
        capture_output=True,
        check=True,
    )
    return out.stdout


def _onset(manifest: mf.Manifest, folder: Path, track: str) -> float:
    """Wall-clock time of the first loud sample of a channel's own track."""
    mine = (s for s in manifest.segments if s.kind == "channel" and s.track == track)
    for seg in sorted(mine, key=lambda s: s.start):
        samples = array.array("h", _pcm(folder / seg.file))
        for i, v in enumerate(samples):
            if abs(v) > 3000:
                return seg.start.timestamp() + i / 8000
    raise AssertionError(f"{track}: no tone")


def _region(frame: bytes, width: int, at: tuple[int, int], size: tuple[int, int]) -> bytes:
    """The pixels of a `size` rectangle at `at` in a grey frame `width` pixels wide."""
    x, y = at
    rows = ((y + r) * width + x for r in range(size[1]))
    return b"".join(frame[start : start + size[0]] for start in rows)


def _big(frame: bytes) -> bytes:
    """The large tile of a 1+5 picture in a 64x36 grey frame: the top-left 42x24."""
    return _region(frame, 64, (0, 0), (42, 24))


def _before_stop(frames: list[bytes], fps: int = 15) -> bytes:
    """The picture half a second before the recording stopped. The very last frames are
    not the room's: at a stop every input closes before the canvas does, and each tile
    shows its signal-lost card for the frame or two that are still encoded."""
    return frames[-(fps // 2) - 1]


def _diff(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


async def test_a_voice_moves_its_seat_into_the_large_tile_and_a_pin_holds_it(
    tmp_path: Path,
) -> None:
    channels = [
        {"name": "judge", "tone": 300, "view": "bench", "speaks": "0-3"},
        {"name": "witness", "tone": 2000, "view": "witness", "speaks": "5-60"},
    ]
    comp = {"layout": "1+5", "hold_seconds": 1.0}
    async with broker_for(tmp_path) as (host, port):
        path, topics = rooms_config(tmp_path, port, channels=channels, composition=comp)
        cfg = load(path)
        async with running_agent(cfg), court_on(host, port, topics) as court:
            assert (await court.send(K.PREPARE, 7)).ok
            assert (await court.send(K.GO_LIVE, 7, target={"kind": "hls"})).ok
            await court.wait_for(
                Leaf.EVENTS,
                lambda e: e["kind"] == "view_switched" and e["data"]["view"] == "witness",
            )
            await asyncio.sleep(2.0)
            bad = await court.send(K.COMPOSE, 7, pin="nobody")
            assert not bad.ok and "pin" in (bad.message or "")
            assert (await court.send(K.COMPOSE, 7, pin="defendant")).ok
            await asyncio.sleep(2.0)
            assert (await court.send(K.STOP, 7)).ok

    (folder,) = list((cfg.data_dir / "recordings" / "7").iterdir())
    manifest = mf.load(folder)
    onset = _onset(manifest, folder, "witness")
    video = sorted((s for s in manifest.segments if s.kind == "video"), key=lambda s: s.start)
    frames = [
        (seg.start.timestamp() + i / 15, f)
        for seg in video
        for i, f in enumerate(gray_frames(folder / seg.file))
    ]
    witness_view = [
        f
        for f in gray_frames(
            folder
            / next(s.file for s in manifest.segments if s.track == "witness" and s.kind == "view"),
            width=42,
            height=24,
        )
    ]
    reference = witness_view[-1]
    # The witness's picture (still bars) is in the large tile from its first word on.
    moved = next(t for t, f in frames if t > onset and _diff(_big(f), reference) < 20)
    print(f"switch latency {moved - onset:.3f} s")
    assert moved - onset < 0.5, f"switched {moved - onset:.2f} s after the voice"
    assert all(_diff(_big(f), reference) >= 20 for t, f in frames if t < onset - 0.1)
    # The line follows too, inside the same publisher run: the pinned defendant is large.
    hls = [s.file for s in hls_segments(cfg.hls_dir / HLS_PLAYLIST)]
    assert len({p.name.split("_")[0] for p in hls}) == 1, "one publisher run, no restart"
    pinned = _view_picture(manifest, folder, "defendant")
    public = [f for p in hls for f in gray_frames(p)]
    assert _diff(_big(_before_stop(public)), pinned) < 20
    assert any(_diff(_big(f), reference) < 20 for f in public), "the witness was large on the line"


def _view_picture(manifest: mf.Manifest, folder: Path, view: str) -> bytes:
    """A view's own picture at the size of the large tile, from its own track."""
    seg = max(
        (s for s in manifest.segments if s.kind == "view" and s.track == view),
        key=lambda s: s.duration,
    )
    return gray_frames(folder / seg.file, width=42, height=24)[-1]


def _edges(frame: bytes, width: int, x0: int, y0: int, w: int, h: int) -> float:
    """Mean squared horizontal change inside a region: sharp edges have much, a blur
    spreads the same change thin (squared, since the plain sum of a ramp equals a step's)."""
    total = 0
    for y in range(y0, y0 + h):
        row = frame[y * width + x0 : y * width + x0 + w]
        total += sum((a - b) ** 2 for a, b in itertools.pairwise(row))
    return total / (w * h)


def _crossings(pcm: bytes) -> float:
    """Zero crossings per second of 8 kHz mono: twice a pure tone's frequency. Silent 10 ms
    blocks (an encoder's priming, a loaded machine's gap on the line) are left out: they
    carry no pitch."""
    samples = array.array("h", pcm)
    blocks = [samples[i : i + 80] for i in range(0, len(samples) - 79, 80)]
    voiced = [b for b in blocks if max(abs(x) for x in b) > 300]
    flips = sum(1 for b in voiced for x, y in itertools.pairwise(b) if (x < 0) != (y < 0))
    return flips / (len(voiced) * 79 / 8000)


async def test_a_witness_is_blurred_and_pitch_shifted_on_the_line_only(tmp_path: Path) -> None:
    views = [{"name": n, "pattern": p, "video_size": "160x90"} for n, p, _ in VIEWS[:3]] + [
        {
            "name": "witness",
            "pattern": "pal75bars",
            "video_size": "160x90",
            "blur": [{"x": 0.0, "y": 0.0, "w": 1.0, "h": 1.0}],
        }
    ]
    channels = [
        {"name": "judge", "tone": 300, "view": "bench", "speaks": "silent"},
        {"name": "witness", "tone": 1000, "view": "witness", "voice_shift": True},
    ]
    async with broker_for(tmp_path) as (host, port):
        path, topics = rooms_config(tmp_path, port, views=views, channels=channels)
        cfg = load(path)
        async with running_agent(cfg), court_on(host, port, topics) as court:
            assert (await court.send(K.PREPARE, 7)).ok
            assert (await court.send(K.GO_LIVE, 7, target={"kind": "hls"})).ok
            await asyncio.sleep(4.0)
            assert (await court.send(K.STOP, 7)).ok

    (folder,) = list((cfg.data_dir / "recordings" / "7").iterdir())
    manifest = mf.load(folder)
    hls = [s.file for s in hls_segments(cfg.hls_dir / HLS_PLAYLIST)]
    # The witness speaks, so takes the first tile of the 2x2: (0, 0)-(32, 18) at 64x36,
    # whose top rows carry the time.
    public = _before_stop([f for p in hls[-2:] for f in gray_frames(p, width=64, height=36)])
    video = max((s for s in manifest.segments if s.kind == "video"), key=lambda s: s.duration)
    record = _before_stop(gray_frames(folder / video.file, width=64, height=36))
    own = max(
        (s for s in manifest.segments if s.kind == "view" and s.track == "witness"),
        key=lambda s: s.duration,
    )
    track = gray_frames(folder / own.file, width=32, height=18)[-1]
    sharp = _edges(record, 64, 2, 7, 28, 9)
    assert _edges(public, 64, 2, 7, 28, 9) < sharp / 2, "blurred on the line"
    assert _edges(track, 32, 2, 7, 28, 9) > sharp / 2, "sharp in the view's own track"
    # The voice: 1000 Hz in the microphone's own track and in the mix, 1300 Hz on the line.
    mic = [s for s in manifest.segments if s.kind == "channel" and s.track == "witness"]
    recorded = _crossings(_pcm(folder / max(mic, key=lambda s: s.duration).file)) / 2
    mixed = (
        _crossings(_pcm(folder / video.file.replace("video/v", "audio/a").replace(".ts", ".aac")))
        / 2
    )
    line = _crossings(_pcm(hls[-1])) / 2
    assert abs(recorded - 1000) < 30 and abs(mixed - 1000) < 30, (recorded, mixed)
    assert abs(line - 1300) < 40, line


def _short_camera(out: Path) -> Path:
    """A camera that gives 2.5 s of picture, then nothing: a file played once."""
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "smptebars=size=160x90:rate=15",
         "-t", "2.5", "-c:v", "libx264", "-g", "15", str(out)],
        check=True,
    )  # fmt: skip
    return out


async def test_a_lost_camera_shows_its_card_and_leaves_a_gap_in_its_track_only(
    tmp_path: Path,
) -> None:
    camera = _short_camera(tmp_path / "short.ts")
    views = [{"name": n, "pattern": p, "video_size": "160x90"} for n, p, _ in VIEWS[:3]] + [
        {"name": "witness", "label": "证人席", "kind": "file", "url": str(camera), "loop": False}
    ]
    channels = [{"name": "judge", "tone": 300, "view": "bench"}]
    async with broker_for(tmp_path) as (host, port):
        path, topics = rooms_config(tmp_path, port, views=views, channels=channels)
        cfg = load(path)
        async with running_agent(cfg), court_on(host, port, topics) as court:
            assert (await court.send(K.PREPARE, 7)).ok
            lost = await court.wait_for(
                Leaf.EVENTS, lambda e: e["kind"] == "signal_lost", within=20
            )
            assert lost["data"]["track"] == "witness" and "witness" in lost["message"]
            await asyncio.sleep(1.0)
            assert (await court.send(K.STOP, 7)).ok

    (folder,) = list((cfg.data_dir / "recordings" / "7").iterdir())
    manifest = mf.load(folder)
    assert mf.verify(folder) == []
    (gap,) = manifest.gaps
    assert gap.track == "witness" and gap.seconds > 2.0
    composite = manifest.total("video")
    assert manifest.total("view", "witness") < 3.0 < composite
    for name, _, _ in VIEWS[:3]:
        assert abs(manifest.total("view", name) - composite) < 0.2, name
    # The witness's tile shows the card, wherever the voice put it; the seats show theirs.
    width, height = cfg.agent.composition.canvas
    video = sorted((s for s in manifest.segments if s.kind == "video"), key=lambda s: s.start)
    frame = _before_stop(
        [f for s in video[-2:] for f in gray_frames(folder / s.file, width=width, height=height)]
    )
    size = compose.card_size(cfg.agent.composition)
    card = Image.open(slate.card(cfg.data_dir / "slate", size)).convert("L").tobytes()
    placed = [compose.placement(cfg.agent.views, cfg.agent.composition, "2x2", big)
              for big in (None, "bench")]  # fmt: skip
    looks = [_diff(_region(frame, width, card_at(p["witness"], size), size), card) for p in placed]
    assert min(looks) < 12, f"no signal-lost card in the witness's tile: {looks}"
    bench = card_at(placed[1]["bench"], size)
    assert _diff(_region(frame, width, bench, size), card) > 30, "a live seat shows a card"


async def test_a_pause_hides_every_view_behind_the_slate_within_a_second(tmp_path: Path) -> None:
    """The pause fast path holds for the composite: the whole public picture becomes the
    slate (no tile of any seat left), within 1 s, while every track records on."""
    async with broker_for(tmp_path) as (host, port):
        path, topics = rooms_config(tmp_path, port)
        cfg = load(path)
        async with running_agent(cfg) as agent, court_on(host, port, topics) as court:
            assert (await court.send(K.PREPARE, 7)).ok
            await asyncio.sleep(2.0)
            assert (await court.send(K.GO_LIVE, 7, target={"kind": "hls"})).ok
            await asyncio.sleep(3.0)
            paused_at = time.time()
            assert (await court.send(K.PAUSE, 7, reason="证人情绪激动")).ok
            await asyncio.sleep(3.0)
            assert (await court.send(K.RESUME, 7)).ok
            await asyncio.sleep(2.5)
            assert (await court.send(K.STOP, 7)).ok

    slate = Image.open(agent.slate_image).convert("L").resize((64, 36)).tobytes()
    shown = []
    for seg in hls_segments(cfg.hls_dir / HLS_PLAYLIST):
        frames = gray_frames(seg.file)
        slates = [_is_slate(f, slate) for f in frames]
        assert frames and (all(slates) or not any(slates)), f"{seg.file.name} mixes slate, seats"
        shown.append((seg.start.timestamp(), seg.duration, slates[0]))
    first = next(i for i, (_, _, s) in enumerate(shown) if s)
    assert first > 0 and shown[first - 1][0] + shown[first - 1][1] - paused_at < 1.0
    assert shown[first][0] - paused_at < 1.0, "the slate came later than 1 s"
    assert not shown[-1][2], "resume brought the seats back"
    (folder,) = list((cfg.data_dir / "recordings" / "7").iterdir())
    manifest = mf.load(folder)
    assert mf.verify(folder) == [] and manifest.gaps == []
    composite = manifest.total("video")
    for name, _, _ in VIEWS:  # the pause is the line's: every seat's track records on
        assert abs(manifest.total("view", name) - composite) < 0.2, name
