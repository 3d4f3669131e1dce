"""The ffmpeg graphs of a courtroom with several views and channels.

Every view is scaled into a tile and overlaid on a canvas; every channel is mixed. Each
view's chain is `scale@<view>` then `overlay@<view>`, so moving a view to another tile
(a speaker change, a pin, another layout) is four filter commands sent to the running
ffmpeg (agents/switcher.py) and never a restart. A view outside the layout is parked off
the canvas. The recorder also writes every view and channel as its own track; the live
graph blurs the views' regions and shifts the voices the room file asks for, the record
never.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from agents.layouts import Tile, assign, card_at
from agents.views import ChannelSpec, CompositionSpec, ViewSpec
from streamd_protocol import ffmpeg_version, slate

SAMPLE_RATE = 48000


@dataclass(frozen=True, slots=True)
class Track:
    """One separately recorded view or channel: files under `folder` named `prefix...`."""

    kind: str  # "view" | "channel"
    name: str

    @property
    def folder(self) -> str:
        return f"{self.kind}s/{self.name}"

    @property
    def prefix(self) -> str:
        return "v" if self.kind == "view" else "a"

    def segment_list(self, run: int) -> str:
        return f"r{run:03d}_{self.kind}_{self.name}.csv"


def tracks(views: list[ViewSpec], channels: list[ChannelSpec]) -> list[Track]:
    return [Track("view", v.name) for v in views] + [Track("channel", c.name) for c in channels]


def placement(
    views: list[ViewSpec], comp: CompositionSpec, layout: str, big: str | None
) -> dict[str, Tile]:
    """Every view's tile under `layout` with `big` in the large tile; unseen views are
    parked just off the canvas (a 2x2 tile right of it)."""
    spec = comp.layouts[layout]
    width, height = comp.canvas
    geometry = spec.geometry(width, height)
    order = spec.views or comp.order or [v.name for v in views]
    order = order + [v.name for v in views if v.name not in order and not spec.views]
    shown = assign(order, big, len(geometry))
    parked = Tile(width + 2, 0, 2, 2)
    return {v.name: geometry[shown.index(v.name)] if v.name in shown else parked for v in views}


def card_size(comp: CompositionSpec) -> tuple[int, int]:
    """The signal-lost card's size: 16:9 inside the smallest tile of any of the room's
    layouts, so a card never spills out of its view's tile onto a neighbour."""
    width, height = comp.canvas
    found = [t for spec in comp.layouts.values() for t in spec.geometry(width, height)]
    w = min(t.w for t in found)
    h = min(min(t.h for t in found), w * 9 // 16)
    return max(2, min(w, h * 16 // 9) // 2 * 2), max(2, h // 2 * 2)


def _realtime(opts: dict[str, Any]) -> dict[str, Any]:
    """Read a generated source at its own pace; no initial burst where supported."""
    out: dict[str, Any] = {**opts, "re": None}
    if ffmpeg_version() >= (6, 1):
        out["readrate_initial_burst"] = 0
    return out


def view_input(view: ViewSpec, fps: int) -> Any:
    if view.kind == "lavfi":
        w, h = view.size
        return ffmpeg.input(f"{view.pattern}=size={w}x{h}:rate={fps}", f="lavfi", **_realtime({}))
    assert view.url is not None
    opts: dict[str, Any] = {}
    if view.kind == "file":
        opts = _realtime({"stream_loop": -1} if view.loop else {})
    elif view.kind == "device":
        opts = {"f": view.input_format}
    elif view.url.startswith("rtsp"):
        opts = {"rtsp_transport": "tcp"}
    return ffmpeg.input(view.url, **opts)


def channel_input(ch: ChannelSpec, cache: dict[str, Any]) -> Any:
    """A mono stream per channel; channels of one device share its input."""
    if ch.kind == "lavfi":
        src = ffmpeg.input(
            f"sine=frequency={ch.tone}:sample_rate={SAMPLE_RATE}", f="lavfi", **_realtime({})
        ).audio
        if ch.speaks == "silent":
            return src.filter("volume", volume=0)
        if ch.speaks != "always":
            a, b = ch.speaks.split("-")
            return src.filter("volume", volume=0, enable=f"not(between(t,{a},{b}))")
        return src
    assert ch.url is not None
    if ch.url not in cache:
        opts: dict[str, Any] = {"f": ch.input_format} if ch.kind == "device" else {}
        cache[ch.url] = ffmpeg.input(ch.url, **opts)
    audio = cache[ch.url].audio
    index = ch.channel or 0
    return audio.filter("pan", f"mono|c0=c{index}").filter("aresample", SAMPLE_RATE)


def canvas(
    views: list[ViewSpec],
    comp: CompositionSpec,
    pictures: dict[str, Any],
    layout: str,
    big: str | None,
    *,
    stills: Path,
    control: str | None = None,
) -> Any:
    """The composed picture: a dark canvas, every view's signal-lost card (a still of
    `card_size`, drawn once into `stills`) centred in the view's tile, and every view's
    chain overlaid on top; with
    `control`, a zmq endpoint the switcher's filter commands arrive on. A view whose
    input ends (`eof_action=pass`) uncovers its card, the rest of the picture goes on."""
    width, height = comp.canvas
    base = ffmpeg.input(
        f"color=c=0x202020:size={width}x{height}:rate={comp.fps}", f="lavfi", **_realtime({})
    ).video
    where = placement(views, comp, layout, big)
    size = card_size(comp)
    card = slate.card(stills, size)
    cards = ffmpeg.input(str(card), loop=1, framerate=comp.fps, **_realtime({})).video
    copies = cards.split() if len(views) > 1 else None
    for i, view in enumerate(views):
        x, y = card_at(where[view.name], size)
        still = copies[i] if copies is not None else cards
        base = ffmpeg.filter(
            [base, still], f"overlay@card-{view.name}", x=x, y=y, eof_action="pass", eval="frame"
        )
    for view in views:
        tile = where[view.name]
        # `filter@name`: the instance name the switcher's commands address.
        scaled = pictures[view.name].filter(f"scale@{view.name}", w=tile.w, h=tile.h)
        base = ffmpeg.filter(
            [base, scaled],
            f"overlay@{view.name}",
            x=tile.x,
            y=tile.y,
            eof_action="pass",
            eval="frame",
        )
    if control is not None:
        base = base.filter("zmq", bind_address=control)
    return base


def control(folder: Path, process: str) -> str:
    """The zmq endpoint of one process's composition: a socket file, no port to allocate."""
    folder.mkdir(parents=True, exist_ok=True)
    return f"ipc://{(folder / f'{process}.ctl').resolve()}"


def mix(sounds: list[Any]) -> Any:
    if len(sounds) == 1:
        return sounds[0]
    return ffmpeg.filter(sounds, "amix", inputs=len(sounds), normalize=0, duration="longest")


def blur(picture: Any, view: ViewSpec) -> Any:
    """The view's regions blurred (boxblur of a cropped copy laid back), public only."""
    for r in view.blur:
        w, h = view.size
        bw, bh = max(2, int(w * r.w)), max(2, int(h * r.h))
        box = {"x": int(w * r.x), "y": int(h * r.y), "w": bw, "h": bh}
        split = picture.split()
        region = (
            split[1]
            .filter("crop", **box)
            .filter("boxblur", luma_radius=min(20, box["w"] // 4, box["h"] // 4), luma_power=3)
        )
        picture = ffmpeg.overlay(split[0], region, x=box["x"], y=box["y"])
    return picture


def session_folders(folder: Path, all_tracks: list[Track]) -> None:
    for t in all_tracks:
        (folder / t.folder).mkdir(parents=True, exist_ok=True)
