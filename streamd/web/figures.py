"""The administrator's figures: line utilisation by day, coverage verdicts, what one more
line would carry, and the small SVG charts the pages draw them with (no script needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from streamd import reports
from streamd.domain import LineStatus
from streamd.models import Booking, Hearing, Line
from streamd.policy import Ruleset
from streamd.scope import hearings_of


def what_if(
    session: Session, month: date, zone: Any, rules: Ruleset, *, court_id: int | None
) -> list[tuple[int, int, int]]:
    """(lines, hearings streamed, demand) for 1..N lines over the month's bookings."""
    from streamd.allocation import Hearing as Slot
    from streamd.allocation import capacity_curve

    start, end = reports.month_bounds(month, zone)
    rows = session.exec(
        select(Booking, Hearing)
        .join(Hearing, col(Hearing.id) == col(Booking.hearing_id))
        .where(
            hearings_of(court_id),
            col(Hearing.planned_start) >= start,
            col(Hearing.planned_start) < end,
            Booking.status != "cancelled",
        )
    ).all()
    slots = [
        Slot(
            id=str(h.id),
            start=int(h.planned_start.timestamp()),
            end=int(h.planned_end.timestamp()),
            priority=1,
            eligible=b.line_status != LineStatus.EXCLUDED,
        )
        for b, h in rows
    ]
    lines = len(list(session.exec(select(Line).where(Line.court_id == court_id))))
    if not slots:
        return []
    demand = sum(1 for s in slots if s.eligible)
    return [(p.lines, p.count, demand) for p in capacity_curve(slots, max(lines + 4, 4))]


def sparkline(values: Sequence[float], width: int = 160, height: int = 32) -> dict[str, Any]:
    if not values:
        return {"points": "", "last": None, "width": width, "height": height}
    top = max(values) or 1.0
    step = width / max(1, len(values) - 1)
    pts = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    return {"points": pts, "last": values[-1], "width": width, "height": height}


def bar_chart(rows: Sequence[tuple[str, float, float]], width: int = 640) -> dict[str, Any]:
    """Bars of a share (0..1) with an optional target tick per row."""
    bar_h, gap, label_w = 18, 8, 150
    items = []
    for i, (label, value, target) in enumerate(rows):
        y = i * (bar_h + gap)
        items.append(
            {
                "label": label,
                "y": y,
                "w": round(max(0.0, min(1.0, value)) * (width - label_w - 60), 1),
                "target_x": round(label_w + min(1.0, target) * (width - label_w - 60), 1)
                if target
                else None,
                "value": value,
                "met": target == 0 or value >= target,
            }
        )
    return {
        "bars": items,
        "width": width,
        "height": max(1, len(rows)) * (bar_h + gap),
        "bar_h": bar_h,
        "label_w": label_w,
    }


def pair_chart(rows: Sequence[tuple[str, int, int]], height: int = 160) -> dict[str, Any]:
    """Last year against this year, month by month."""
    top = max([1] + [max(a, b) for _, a, b in rows])
    col_w = 44
    items = []
    for i, (label, last, this) in enumerate(rows):
        x = i * col_w
        items.append(
            {
                "label": label,
                "x": x,
                "last_h": round(last / top * (height - 20), 1),
                "this_h": round(this / top * (height - 20), 1),
                "last": last,
                "this": this,
            }
        )
    return {"bars": items, "width": max(1, len(rows)) * col_w, "height": height}


def line_chart(
    points: Sequence[tuple[int, int, int]], width: int = 480, height: int = 180
) -> dict[str, Any]:
    if not points:
        return {"path": "", "dots": [], "width": width, "height": height, "demand_y": None}
    top = max(1, max(p[2] for p in points))
    n = len(points)

    def xy(k: int, v: int) -> tuple[float, float]:
        return (30 + (k - 1) * (width - 40) / max(1, n - 1), height - 20 - v / top * (height - 40))

    dots = [
        {"x": round(xy(k, v)[0], 1), "y": round(xy(k, v)[1], 1), "k": k, "v": v}
        for k, v, _ in points
    ]
    path = "M" + " L".join(f"{d['x']},{d['y']}" for d in dots)
    return {
        "path": path,
        "dots": dots,
        "width": width,
        "height": height,
        "demand_y": round(height - 20 - (height - 40), 1),
        "demand": top,
        "ceil": math.ceil,
    }
