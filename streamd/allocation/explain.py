"""Why a hearing has no line, in words a clerk can act on (Chinese first, English too)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from streamd.allocation.model import Conflict, Problem, Unassigned

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


def first_free(
    problem: Problem, assignments: Mapping[str, str], hearing_id: str, *, until: int
) -> tuple[str, int] | None:
    """What would work: the earliest start at or after the hearing's own when some line is
    free for its whole length, ending by `until` (line, start); None if nothing is.

    The earliest feasible start is the hearing's start, the end of a hearing already on
    the line, or the start of an availability window, so only those are tried.
    """
    wanted = next(h for h in problem.hearings if h.id == hearing_id)
    length = wanted.end - wanted.start
    best: tuple[int, str] | None = None
    for line in problem.lines:
        busy = sorted(
            (h.start, h.end)
            for h in problem.hearings
            if h.id != hearing_id and assignments.get(h.id) == line.id
        )
        starts = {wanted.start}
        starts.update(end for _, end in busy if end > wanted.start)
        starts.update(a for a, _ in line.available or () if a > wanted.start)
        for t in sorted(starts):
            if t + length > until or (best is not None and t >= best[0]):
                break
            if line.covers(t, t + length) and not any(s < t + length and t < e for s, e in busy):
                best = (t, line.id)
                break
    return (best[1], best[0]) if best is not None else None
