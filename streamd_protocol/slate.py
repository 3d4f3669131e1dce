"""The pause slate: a still that says the hearing is paused, with the court's name.

Rendered once per text and size with Pillow and Noto Sans CJK (shipped on PyPI by
noto-cjk-sans-otc), so a pip-only agent draws Chinese without a system font.
"""

from __future__ import annotations

import hashlib
from io import BytesIO
from pathlib import Path

import noto_cjk_sans_otc
from PIL import Image, ImageDraw, ImageFont

from streamd_protocol.manifest import write_atomic

_SC = 2  # the Simplified Chinese face in the Noto Sans CJK collection
BACKGROUND = (16, 32, 64)
FOREGROUND = (255, 255, 255)
CARD = (96, 96, 96)  # grey, plainly not the dark canvas of an empty tile nor the slate


def font_path() -> Path:
    return Path(str(noto_cjk_sans_otc.FONT_PATH))


def render(folder: Path, court_name: str, size: tuple[int, int]) -> Path:
    """The slate PNG for this court and picture size, made on first use."""
    lines = [(court_name, 0.06), ("庭审暂停", 0.14), ("Hearing paused", 0.06)]
    return _draw(folder, "slate", lines, size)


def card(folder: Path, size: tuple[int, int]) -> Path:
    """The still a lost camera's tile shows (信号中断 / Signal lost), made on first use."""
    return _draw(folder, "card", [("信号中断", 0.2), ("Signal lost", 0.11)], size, CARD)


def _draw(
    folder: Path,
    prefix: str,
    lines: list[tuple[str, float]],
    size: tuple[int, int],
    background: tuple[int, int, int] = BACKGROUND,
) -> Path:
    key = hashlib.sha256(repr((lines, size, background)).encode()).hexdigest()[:16]
    path = folder / f"{prefix}-{key}.png"
    if path.exists():
        return path
    w, h = size
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    fonts = [ImageFont.truetype(str(font_path()), max(8, int(h * s)), index=_SC) for _, s in lines]
    heights = [f.getbbox(t)[3] - f.getbbox(t)[1] for (t, _), f in zip(lines, fonts, strict=True)]
    gap = int(h * 0.05)
    y = (h - sum(heights) - gap * (len(lines) - 1)) // 2
    for (text, _), font, height in zip(lines, fonts, heights, strict=True):
        if not text:
            continue
        left, top, right, _ = font.getbbox(text)
        draw.text(((w - (right - left)) // 2 - left, y - top), text, font=font, fill=FOREGROUND)
        y += height + gap
    folder.mkdir(parents=True, exist_ok=True)
    buf = BytesIO()
    image.save(buf, format="PNG")
    write_atomic(path, buf.getvalue())
    return path
