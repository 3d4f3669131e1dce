"""A hearing's coverage as the API, the CLI and the web pages show it.

`coverage_json` is the one shape everything prints; `table` and `timeline_svg` are two
ways of looking at it. The SVG is drawn by hand: five bands of rectangles need no
plotting library, and the web pages embed it as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from streamd.monitor import intervals as iv
from streamd.monitor.ledger import Coverage
from streamd.monitor.recording import RecordingCheck


def iso(t: int) -> str:
    return datetime.fromtimestamp(t / 1000, UTC).isoformat(timespec="milliseconds")


def _pairs(spans: iv.Spans) -> list[list[str]]:
    return [[iso(s), iso(e)] for s, e in spans]


def coverage_json(
    hearing_id: int, room: str | None, cov: Coverage, recording: RecordingCheck
) -> dict[str, Any]:
    return {
        "hearing_id": hearing_id,
        "room": room,
        "verdict": cov.verdict.value,
        "coverage_percent": round(float(cov.fraction) * 100, 2),
        "required": None if cov.required is None else [iso(t) for t in cov.required],
        "open": cov.open,
        "required_seconds": cov.required_ms / 1000,
        "covered_seconds": cov.covered_ms / 1000,
        "gap_seconds": cov.gap_ms / 1000,
        "extra_seconds": cov.extra_ms / 1000,
        "paused_seconds": iv.total(cov.authorised) / 1000,
        "gaps": _pairs(cov.gaps),
        "extra": _pairs(cov.extra),
        "paused": _pairs(cov.authorised),
        "live": _pairs(cov.on_air),
        "slate": _pairs(cov.slate),
        "incidents": [
            {"kind": i.kind, "start": iso(i.start), "end": iso(i.end), "seconds": i.ms / 1000}
            for i in cov.incidents
        ],
        "recording": recording.public(iso),
    }


def table(data: dict[str, Any], zone: ZoneInfo) -> str:
    def local(stamp: str) -> str:
        return datetime.fromisoformat(stamp).astimezone(zone).strftime("%H:%M:%S")

    def spans(pairs: list[list[str]]) -> str:
        return ", ".join(f"{local(s)}–{local(e)}" for s, e in pairs) or "—"

    rec = data["recording"]
    rows = [
        ("hearing", str(data["hearing_id"])),
        ("room", data["room"] or "—"),
        ("verdict", data["verdict"]),
        ("coverage", f"{data['coverage_percent']:.2f} %"),
        ("required", spans([data["required"]]) if data["required"] else "—"),
        ("required s", f"{data['required_seconds']:.1f}"),
        ("paused s", f"{data['paused_seconds']:.1f}"),
        ("gap s", f"{data['gap_seconds']:.1f}"),
        ("extra s", f"{data['extra_seconds']:.1f}"),
        ("gaps", spans(data["gaps"])),
        ("extra", spans(data["extra"])),
        ("recording", rec["verdict"]),
        ("video / audio s", f"{rec['video_seconds']:.1f} / {rec['audio_seconds']:.1f}"),
        ("transcript lines", str(rec["transcript_lines"])),
    ]
    rows += [
        ("incident", f"{i['kind']} {local(i['start'])} {i['seconds']:.1f} s")
        for i in data["incidents"]
    ]
    rows += [("problem", p) for p in rec["problems"]]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


BANDS = [
    ("required", "应直播 required", "#9aa5b1"),
    ("paused", "暂停 paused", "#f0c36d"),
    ("live", "直播 live", "#3c9d5d"),
    ("gaps", "漏播 gaps", "#d64545"),
    ("extra", "多播 extra", "#7b2cbf"),
]


def timeline_svg(data: dict[str, Any], zone: ZoneInfo, width: int = 720) -> str:
    """Required, paused, live, gaps and extra as bands on one time axis."""
    sets: dict[str, list[tuple[float, float]]] = {}
    bands = {**data, "required": [data["required"]] if data["required"] else []}
    for key, _, _ in BANDS:
        sets[key] = [
            (datetime.fromisoformat(s).timestamp(), datetime.fromisoformat(e).timestamp())
            for s, e in bands[key]
        ]
    every = [t for spans in sets.values() for span in spans for t in span]
    left, row, label = 130, 22, 14
    height = row * len(BANDS) + 34
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="hearing {data["hearing_id"]} coverage: {escape(data["verdict"])}">',
        "<style>text{font:12px sans-serif;fill:#222}</style>",
    ]
    t0, t1 = (min(every), max(every)) if every else (0.0, 1.0)
    t1 = max(t1, t0 + 1)
    scale = (width - left - 10) / (t1 - t0)
    for k, (key, name, colour) in enumerate(BANDS):
        y = 6 + k * row
        parts.append(f'<text x="4" y="{y + label}">{escape(name)}</text>')
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{width - left - 10}" height="{row - 8}" '
            'fill="#f2f4f6"/>'
        )
        for s, e in sets[key]:
            x = left + (s - t0) * scale
            w = max((e - s) * scale, 1.0)
            parts.append(
                f'<rect class="{key}" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" '
                f'height="{row - 8}" fill="{colour}"><title>{escape(name)}: '
                f"{_clock(s, zone)}–{_clock(e, zone)}</title></rect>"
            )
    axis = 6 + len(BANDS) * row + 14
    if every:
        parts.append(f'<text x="{left}" y="{axis}">{_clock(t0, zone)}</text>')
        parts.append(
            f'<text x="{width - 10}" y="{axis}" text-anchor="end">{_clock(t1, zone)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _clock(t: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(t, zone).strftime("%H:%M:%S")
