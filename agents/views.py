"""A courtroom's cameras and microphones: `[[agent.views]]`, `[[agent.channels]]` and
`[agent.composition]` in the room file.

A room without views is today's single-source room (`[agent.source]`). With views, the
recorder composes them into one picture (the record's video, with the time drawn on it),
mixes the channels (the record's audio) and records every view and every channel as its
own track as well. The checks here run at `streamd-agent --check` and at start, so a bad
room file is refused whole, with the field at fault, before any ffmpeg starts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.layouts import LayoutKind, Tile, slots, tiles

NAME = r"^[a-z][a-z0-9_]{0,31}$"  # a folder name in the record and in the archive


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Region(_Strict):
    """A rectangle in fractions of the view's picture."""

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    w: float = Field(gt=0, le=1)
    h: float = Field(gt=0, le=1)


class ViewSpec(_Strict):
    """One camera. `lavfi` is a generated test picture (demo, tests) of `pattern`."""

    name: str = Field(pattern=NAME)
    label: str = Field(default="", max_length=32, description="Shown on the wall, e.g. 审判席.")
    kind: Literal["lavfi", "url", "file", "device"] = "lavfi"
    url: str | None = None
    input_format: str | None = None
    pattern: Literal[
        "testsrc2", "smptebars", "rgbtestsrc", "pal75bars", "testsrc", "mandelbrot"
    ] = "testsrc2"
    codecs: Literal["h264", "other"] = "other"
    draws_time: bool = False
    video_size: str = Field(default="640x360", pattern=r"^\d{2,4}x\d{2,4}$")
    video_bitrate: str = Field(default="1000k", pattern=r"^\d+[kM]?$")
    loop: bool = Field(default=True, description="file: play it again at its end.")
    blur: list[Region] = Field(
        default_factory=list, description="Blurred on the public stream only."
    )

    @model_validator(mode="after")
    def _url_when_needed(self) -> ViewSpec:
        if self.kind != "lavfi" and not self.url:
            raise ValueError(f"view {self.name}: a {self.kind} view needs url")
        if self.kind == "device" and not self.input_format:
            raise ValueError(f"view {self.name}: a device view needs input_format")
        return self

    @property
    def size(self) -> tuple[int, int]:
        w, h = self.video_size.split("x")
        return int(w), int(h)

    @property
    def copyable(self) -> bool:
        return self.codecs == "h264" and self.draws_time


class ChannelSpec(_Strict):
    """One microphone: its own input, or channel `channel` (0-based) of a shared device."""

    name: str = Field(pattern=NAME)
    label: str = Field(default="", max_length=32)
    kind: Literal["lavfi", "url", "device"] = "lavfi"
    url: str | None = None
    input_format: str | None = None
    channel: int | None = Field(default=None, ge=0, le=63)
    tone: int = Field(default=440, ge=50, le=8000, description="lavfi: the tone's Hz.")
    speaks: str = Field(
        default="always",
        pattern=r"^(always|silent|\d+(\.\d+)?-\d+(\.\d+)?)$",
        description="lavfi: when the tone sounds, seconds since start, e.g. 3-6.",
    )
    view: str | None = Field(default=None, description="The view its speaker sits in.")
    voice_shift: bool = Field(default=False, description="Pitch-shifted on the line only.")

    @model_validator(mode="after")
    def _url_when_needed(self) -> ChannelSpec:
        if self.kind != "lavfi" and not self.url:
            raise ValueError(f"channel {self.name}: a {self.kind} channel needs url")
        return self


class LayoutSpec(_Strict):
    """A layout: a built-in kind, or `tiles` as [x, y, w, h] in canvas pixels."""

    kind: LayoutKind = LayoutKind.QUAD
    tiles: list[tuple[int, int, int, int]] = Field(default_factory=list)
    views: list[str] = Field(
        default_factory=list, description="The views it shows, in tile order; default all."
    )

    def geometry(self, width: int, height: int) -> list[Tile]:
        if self.kind == LayoutKind.CUSTOM:
            return [Tile(*t) for t in self.tiles]
        return tiles(self.kind, width, height)

    def capacity(self) -> int:
        return len(self.tiles) if self.kind == LayoutKind.CUSTOM else slots(self.kind)


class CompositionSpec(_Strict):
    size: str = Field(default="1280x720", pattern=r"^\d{2,4}x\d{2,4}$")
    fps: int = Field(default=25, ge=1, le=60)
    layout: str = Field(default="2x2", description="The name of the layout used at start.")
    layouts: dict[str, LayoutSpec] = Field(
        default_factory=lambda: {k.value: LayoutSpec(kind=k) for k in LayoutKind if k != "custom"}
    )
    order: list[str] = Field(default_factory=list, description="Tile order; default views'.")
    hold_seconds: float = Field(default=2.0, ge=0, le=60, description="Speaker hold time.")
    video_bitrate: str = Field(default="2500k", pattern=r"^\d+[kM]?$")
    audio_bitrate: str = Field(default="128k", pattern=r"^\d+[kM]?$")

    @property
    def canvas(self) -> tuple[int, int]:
        w, h = self.size.split("x")
        return int(w), int(h)


def check_room(
    views: list[ViewSpec], channels: list[ChannelSpec], comp: CompositionSpec
) -> list[str]:
    """Every problem with a room's views, channels and layouts, each naming its field."""
    problems: list[str] = []
    names = [v.name for v in views]
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append(f"views[{i}].name: {name!r} is used twice")
    devices: dict[str, int] = {}
    for i, v in enumerate(views):
        if v.kind in ("device", "url") and v.url is not None:
            if v.url in devices:
                problems.append(
                    f"views[{i}].url: {v.url!r} is already views[{devices[v.url]}] "
                    f"({views[devices[v.url]].name}); one device feeds one view"
                )
            else:
                devices[v.url] = i
    ch_names = [c.name for c in channels]
    used: dict[tuple[str, int | None], int] = {}
    for i, c in enumerate(channels):
        if c.name in ch_names[:i]:
            problems.append(f"channels[{i}].name: {c.name!r} is used twice")
        if c.view is not None and c.view not in names:
            problems.append(f"channels[{i}].view: no view named {c.view!r}")
        if c.url is not None:
            key = (c.url, c.channel)
            if key in used:
                problems.append(f"channels[{i}]: same input and channel as channels[{used[key]}]")
            used[key] = i
    if views and not channels:
        problems.append("channels: a room with views needs at least one channel")
    for i, name in enumerate(comp.order):
        if name not in names:
            problems.append(f"composition.order[{i}]: no view named {name!r}")
    if views and comp.layout not in comp.layouts:
        problems.append(f"composition.layout: no layout named {comp.layout!r}")
    width, height = comp.canvas
    if width % 2 or height % 2:
        problems.append(f"composition.size: {comp.size} must be even in both directions")
    for lname, layout in comp.layouts.items():
        field = f"composition.layouts.{lname}"
        if layout.kind == LayoutKind.CUSTOM and not layout.tiles:
            problems.append(f"{field}.tiles: a custom layout needs tiles")
        if layout.kind != LayoutKind.CUSTOM and layout.tiles:
            problems.append(f"{field}.tiles: only a custom layout takes tiles")
        for j, name in enumerate(layout.views):
            if name not in names:
                problems.append(f"{field}.views[{j}]: no view named {name!r}")
        if len(layout.views) > layout.capacity():
            problems.append(
                f"{field}.views: {len(layout.views)} views, the layout has "
                f"{layout.capacity()} tiles"
            )
        for j, tile in enumerate(layout.geometry(width, height)):
            if tile.w <= 0 or tile.h <= 0 or not tile.inside(width, height):
                problems.append(f"{field}.tiles[{j}]: {tile} does not fit the {comp.size} canvas")
    return problems
