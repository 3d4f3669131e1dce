"""Why a hearing has no line, in words a clerk can act on (Chinese first, English too)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from streamd.allocation.model import Conflict, Problem, Unassigned

Show = Callable[[int], str]
_INELIGIBLE_EN = "not eligible for streaming (policy)"


def describe(u: Unassigned, conflicts: Sequence[Conflict], show: Show, *, lang: str = "zh") -> str:
    return Reasons(show, lang=lang)(u, conflicts)


class Reasons:
    """Writes the reasons for many hearings of one plan.

    Neighbouring hearings are held off by the same few blockers, so a year's plan
    (30,000 reasons of up to 16 parts each) repeats each part many times over: each part
    and each time span is formatted once.
    """

    def __init__(self, show: Show, *, lang: str = "zh") -> None:
        self._show = show
        self._zh = lang == "zh"
        self._spans: dict[tuple[int, int], str] = {}
        self._parts: dict[tuple[str, int, int, str | None, int | None], str] = {}
        self._joined: dict[int, tuple[Sequence[Conflict], str]] = {}

    def _span(self, start: int, end: int) -> str:
        key = (start, end)
        text = self._spans.get(key)
        if text is None:
            text = self._spans[key] = f"{self._show(start)}–{self._show(end)}"
        return text

    def _part(self, c: Conflict) -> str:
        key = (c.line, c.start, c.end, c.hearing, c.priority)
        text = self._parts.get(key)
        if text is None:
            when = self._span(c.start, c.end)
            if c.hearing is None:
                text = f"{c.line} 停用 {when}" if self._zh else f"{c.line} down {when}"
            elif self._zh:
                text = f"{c.line} 已分配给 {c.hearing}（优先级 {c.priority}）{when}"
            else:
                text = f"{c.line} carries {c.hearing} (priority {c.priority}) {when}"
            self._parts[key] = text
        return text

    def __call__(self, u: Unassigned, conflicts: Sequence[Conflict]) -> str:
        if u.ineligible:
            return "不符合直播条件（政策排除）" if self._zh else _INELIGIBLE_EN
        span = self._span(u.start, u.end)
        if not conflicts:
            return f"{span} 法院未配置线路" if self._zh else f"no lines configured ({span})"
        # Hearings of one span share one tuple of conflicts (the explainer's answer for
        # that span): its parts are joined once. Held with the tuple, so no id is reused.
        hit = self._joined.get(id(conflicts))
        if hit is None or hit[0] is not conflicts:
            sep = "；" if self._zh else "; "
            hit = self._joined[id(conflicts)] = (
                conflicts,
                sep.join([self._part(c) for c in conflicts]),
            )
        if self._zh:
            return f"{span} 无空闲线路：{hit[1]}"
        return f"no line free {span}: {hit[1]}"


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
