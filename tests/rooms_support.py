"""A courtroom with several views and channels, for the agent's real-ffmpeg tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamd_protocol import Topics
from tests.mqtt_support import room_config

VIEWS = (
    ("bench", "testsrc2", "审判席"),
    ("plaintiff", "smptebars", "原告席"),
    ("defendant", "rgbtestsrc", "被告席"),
    ("witness", "pal75bars", "证人席"),
)
CHANNELS = (("judge", 300, "bench"), ("plaintiff", 900, "plaintiff"), ("witness", 2000, "witness"))


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + "}"
    return str(v)


def rooms_config(
    folder: Path,
    port: int,
    *,
    views: list[dict[str, Any]] | None = None,
    channels: list[dict[str, Any]] | None = None,
    composition: dict[str, Any] | None = None,
    **agent: Any,
) -> tuple[Path, Topics]:
    """`room_config` plus `[[agent.views]]`, `[[agent.channels]]`, `[agent.composition]`:
    by default 4 small views and 3 channels on a 320x180 2x2 canvas."""
    path, topics = room_config(folder, port, **agent)
    if views is None:
        views = [
            {"name": n, "pattern": p, "label": lab, "video_size": "160x90"} for n, p, lab in VIEWS
        ]
    if channels is None:
        channels = [{"name": n, "tone": t, "view": v} for n, t, v in CHANNELS]
    comp = {"size": "320x180", "fps": 15, "layout": "2x2", **(composition or {})}
    lines = ["[agent.composition]"] + [f"{k} = {_value(v)}" for k, v in comp.items()]
    for view in views:
        lines.append("[[agent.views]]")
        lines += [f"{k} = {_value(v)}" for k, v in view.items()]
    for ch in channels:
        lines.append("[[agent.channels]]")
        lines += [f"{k} = {_value(v)}" for k, v in ch.items()]
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return path, topics
