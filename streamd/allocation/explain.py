"""Why a hearing has no line, in words a clerk can act on (Chinese first, English too)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from streamd.allocation.model import Conflict, Unassigned

Show = Callable[[int], str]


def describe(u: Unassigned, conflicts: Sequence[Conflict], show: Show, *, lang: str = "zh") -> str:
    if u.ineligible:
        return (
            "不符合直播条件（政策排除）" if lang == "zh" else "not eligible for streaming (policy)"
        )
    span = f"{show(u.start)}–{show(u.end)}"
    parts = []
    for c in conflicts:
        when = f"{show(c.start)}–{show(c.end)}"
        if c.hearing is None:
            parts.append(f"{c.line} 停用 {when}" if lang == "zh" else f"{c.line} down {when}")
        elif lang == "zh":
            parts.append(f"{c.line} 已分配给 {c.hearing}（优先级 {c.priority}）{when}")
        else:
            parts.append(f"{c.line} carries {c.hearing} (priority {c.priority}) {when}")
    if not parts:
        return f"{span} 法院未配置线路" if lang == "zh" else f"no lines configured ({span})"
    if lang == "zh":
        return f"{span} 无空闲线路：" + "；".join(parts)
    return f"no line free {span}: " + "; ".join(parts)


def describe_both(u: Unassigned, conflicts: Sequence[Conflict], show: Show) -> dict[str, str]:
    return {
        "zh": describe(u, conflicts, show, lang="zh"),
        "en": describe(u, conflicts, show, lang="en"),
    }
