"""A courtroom's views, channels and layouts: the geometry, the speaker picker, the checks."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.cli import main
from agents.layouts import LayoutKind, Tile, assign, slots, tiles
from agents.switcher import Picker, commands

BUILT_IN = [k for k in LayoutKind if k != LayoutKind.CUSTOM]


@given(
    st.sampled_from(BUILT_IN),
    st.integers(min_value=32, max_value=4096),
    st.integers(min_value=32, max_value=2160),
)
def test_every_built_in_layout_fits_its_canvas_in_even_tiles(
    kind: LayoutKind, width: int, height: int
) -> None:
    geometry = tiles(kind, width, height)
    assert len(geometry) == slots(kind)
    for t in geometry:
        assert t.inside(width, height) and t.w % 2 == 0 and t.h % 2 == 0 and t.x % 2 == 0
    big = geometry[0]
    assert all(big.w * big.h >= t.w * t.h for t in geometry)
    # Tiles never cover each other, except the inset of picture-in-picture.
    rest = geometry if kind != LayoutKind.PIP else geometry[1:]
    for i, a in enumerate(rest):
        assert not any(a.overlaps(b) for b in rest[i + 1 :])


@given(st.lists(st.sampled_from("abcdefg"), unique=True, min_size=1), st.data())
def test_the_big_view_leads_and_no_view_is_shown_twice(
    order: list[str], data: st.DataObject
) -> None:
    big = data.draw(st.sampled_from([*order, None, "zz"]))
    count = data.draw(st.integers(min_value=1, max_value=6))
    shown = assign(order, big, count)
    assert len(shown) == len(set(shown)) == min(count, len(order))
    if big in order:
        assert shown[0] == big


@given(
    st.lists(
        st.tuples(st.floats(min_value=0.01, max_value=0.5), st.sampled_from(["j", "w", "d"])),
        min_size=1,
        max_size=80,
    )
)
def test_the_large_tile_holds_and_never_flickers(steps: list[tuple[float, str]]) -> None:
    picker = Picker({"j": "bench", "w": "witness", "d": "defendant"}, hold=2.0)
    now, changes, last = 0.0, [], None
    for dt, loud in steps:
        now += dt
        levels = {ch: (-20.0 if ch == loud else -90.0) for ch in ("j", "w", "d")}
        big = picker.update(now, levels)
        if big != last:
            changes.append(now)
            last = big
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(changes[1:]))


def test_a_pin_wins_over_the_voice_until_released() -> None:
    picker = Picker({"j": "bench", "w": "witness"}, hold=0.0, attack=0.0)
    assert picker.update(0.0, {"j": -20.0}) == "bench"
    picker.pin("witness")
    assert picker.update(1.0, {"j": -10.0}) == "witness"
    picker.pin(None)
    assert picker.update(2.0, {"j": -10.0}) == "bench"
    assert picker.update(3.0, {"j": -90.0, "w": -90.0}) == "bench", "silence keeps the tile"


def test_a_switch_sends_commands_only_for_the_views_that_move() -> None:
    a, b, c = Tile(0, 0, 200, 100), Tile(200, 0, 100, 50), Tile(200, 50, 100, 50)
    assert commands({"x": a, "y": b, "z": c}, {"x": b, "y": a, "z": c}) == [
        "scale@x w 100",
        "scale@x h 50",
        "overlay@x x 200",
        "overlay@x y 0",
        "scale@y w 200",
        "scale@y h 100",
        "overlay@y x 0",
        "overlay@y y 0",
    ]
    assert len(commands(None, {"x": a, "y": b})) == 8


ROOM = """[room]
code = "room-01"
name = "第一法庭"
[agent]
court = "t1"
[agent.composition]
size = "{size}"
layout = "{layout}"
[agent.composition.layouts.pip]
kind = "pip"
views = {pip}
[agent.composition.layouts.wide]
kind = "custom"
tiles = [[0, 0, 640, 360], [640, 0, 700, 360]]
[[agent.views]]
name = "bench"
kind = "url"
url = "rtsp://10.0.0.1/a"
[[agent.views]]
name = "witness"
kind = "url"
url = "{witness_url}"
[[agent.channels]]
name = "judge"
view = "{channel_view}"
"""
GOOD = {
    "size": "1280x720",
    "layout": "pip",
    "pip": '["bench", "witness"]',
    "witness_url": "rtsp://10.0.0.2/a",
    "channel_view": "bench",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"pip": '["bench", "nobody"]'},
            "composition.layouts.pip.views[1]: no view named 'nobody'",
        ),
        ({"pip": '["bench", "witness", "bench"]'}, "composition.layouts.pip.views: 3 views"),
        (
            {"witness_url": "rtsp://10.0.0.1/a"},
            "views[1].url: 'rtsp://10.0.0.1/a' is already views[0]",
        ),
        ({}, "composition.layouts.wide.tiles[1]"),
        ({"layout": "nine"}, "composition.layout: no layout named 'nine'"),
        ({"channel_view": "gallery"}, "channels[0].view: no view named 'gallery'"),
        ({"size": "1281x720"}, "composition.size"),
    ],
)
def test_a_bad_room_is_refused_at_check_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, str], field: str
) -> None:
    path = tmp_path / "room-01.toml"
    path.write_text(ROOM.format(**{**GOOD, **change}), encoding="utf-8")
    assert main(["--config", str(path), "--check"]) == 2
    assert field in capsys.readouterr().err


def test_a_good_room_passes_check_once_its_custom_layout_fits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "room-01.toml"
    text = ROOM.format(**GOOD).replace("[640, 0, 700, 360]", "[640, 0, 640, 360]")
    path.write_text(text, encoding="utf-8")
    assert main(["--config", str(path), "--check"]) == 0, capsys.readouterr().err
