"""The allocation instance file (`streamd allocate --instance FILE.json`) and its answer.

Pure: dicts in, dicts out. Every refusal names the item and the field, e.g.
`hearings[3] (id "H4").priority: must be a positive integer`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, NoReturn, NotRequired

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    with_config,
)
from typing_extensions import TypedDict

from streamd.allocation import parallel
from streamd.allocation.capacity import CapacityPoint
from streamd.allocation.explain import Reasons
from streamd.allocation.model import Hearing, Line, Plan, Problem

# From this many hearings left out, their reasons are written on two cores.
PARALLEL_REASONS = 2_000


class InstanceError(ValueError):
    """The instance cannot be read; the message says where and why."""


Id = StrictStr | StrictInt


_Window = Annotated[list[StrictStr], Field(min_length=2, max_length=2)]


# TypedDicts, not models: pydantic checks a year's sixty thousand hearings four times
# faster when it need not build an object for each.
@with_config(ConfigDict(extra="forbid"))
class _Line(TypedDict):
    id: Id
    available: NotRequired[
        list[Annotated[list[StrictStr], Field(min_length=2, max_length=2)]] | None
    ]


@with_config(ConfigDict(extra="forbid"))
class _Hearing(TypedDict):
    id: Id
    start: StrictStr
    end: StrictStr
    priority: Annotated[StrictInt, Field(gt=0)]
    eligible: StrictBool
    pinned_line: NotRequired[Id | None]


@with_config(ConfigDict(extra="forbid"))
class _Instance(TypedDict):
    lines: NotRequired[list[_Line]]
    hearings: list[_Hearing]


_INSTANCE = TypeAdapter(_Instance)


@dataclass(frozen=True, slots=True)
class Clock:
    """How the file wrote its times, so answers read the same way."""

    zone: tzinfo | None

    def parse(self, where: str, text: str) -> int:
        instant = _instant(text)
        if instant is None:
            raise InstanceError(f"{where}: {text!r} is not an ISO-8601 date-time")
        seconds, zoned = instant
        if zoned != (self.zone is not None):
            raise InstanceError(
                f"{where}: {text!r} mixes times with and without a UTC offset; use one kind"
            )
        return seconds

    def show(self, t: int, *, day: bool = False) -> str:
        moment = datetime.fromtimestamp(t, self.zone or UTC)
        return moment.strftime("%Y-%m-%d %H:%M" if day else "%H:%M")


@functools.lru_cache(maxsize=65_536)
def _instant(text: str) -> tuple[int, bool] | None:
    """Seconds since the epoch (naive times read as UTC) and whether the text had an
    offset. A timetable repeats its quarter hours: a year's 120,000 times are a few
    thousand texts, each parsed once."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    zoned = moment.tzinfo is not None
    return int((moment if zoned else moment.replace(tzinfo=UTC)).timestamp()), zoned


def _first_zone(parsed: _Instance) -> tzinfo | None:
    """The zone of the first readable time: answers are written the way the file was."""
    texts = [t for line in parsed.get("lines", []) for w in line.get("available") or () for t in w]
    texts += [t for h in parsed["hearings"] for t in (h["start"], h["end"])]
    for text in texts:
        try:
            return datetime.fromisoformat(text).tzinfo
        except ValueError:
            continue
    return None


def read_instance(data: object, *, lines: int | None = None) -> tuple[Problem, Clock]:
    """Validate and convert. `lines` replaces the file's lines by L1..LK, always up."""
    if not isinstance(data, dict):
        raise InstanceError('the instance must be a JSON object with "lines" and "hearings"')
    try:
        parsed = _INSTANCE.validate_python(data)
    except ValidationError as exc:
        from streamd_protocol import locate  # only to say where: not on a good file's path

        first = exc.errors()[0]
        raise InstanceError(f"{locate(data, first['loc'])}: {first['msg']}") from None
    clock = Clock(_first_zone(parsed))
    if lines is not None:
        if lines < 1:
            raise InstanceError("--lines must be at least 1")
        problem_lines = [Line(f"L{k}") for k in range(1, lines + 1)]
    else:
        problem_lines = []
        for i, line in enumerate(parsed.get("lines", [])):
            windows = None
            available = line.get("available")
            if available is not None:
                windows = []
                for j, (a, b) in enumerate(available):
                    where = f"lines[{i}] (id {line['id']!r}).available[{j}]"
                    start, end = clock.parse(where, a), clock.parse(where, b)
                    if start >= end:
                        raise InstanceError(f"{where}: the window must end after it starts")
                    windows.append((start, end))
            problem_lines.append(
                Line(str(line["id"]), tuple(windows) if windows is not None else None)
            )
        if len({line.id for line in problem_lines}) != len(problem_lines):
            raise InstanceError("lines: two lines share an id")
    known = {line.id for line in problem_lines}
    hearings: list[Hearing] = []
    seen: set[str] = set()
    zoned = clock.zone is not None
    for i, h in enumerate(parsed["hearings"]):
        hid = str(h["id"])
        begins, ends = _instant(h["start"]), _instant(h["end"])
        pin = h.get("pinned_line")
        pinned = None if pin is None else str(pin)
        if (
            hid in seen
            or begins is None
            or ends is None
            or begins[1] != zoned
            or ends[1] != zoned
            or ends[0] <= begins[0]
            or (pinned is not None and pinned not in known)
        ):
            _refuse(clock, f"hearings[{i}] (id {h['id']!r})", h, hid in seen)
        seen.add(hid)
        hearings.append(
            Hearing(hid, begins[0], ends[0], h["priority"], h["eligible"], pinned_line=pinned)
        )
    return Problem(lines=problem_lines, hearings=hearings), clock


def _refuse(clock: Clock, where: str, h: _Hearing, again: bool) -> NoReturn:
    """Say precisely what is wrong with a hearing the fast check refused (the message is
    built only here: a year's sixty thousand good hearings never format one)."""
    if again:
        raise InstanceError(f"{where}.id: another hearing already has this id")
    start = clock.parse(f"{where}.start", h["start"])
    end = clock.parse(f"{where}.end", h["end"])
    if end <= start:
        raise InstanceError(f"{where}.end: must be after start")
    pinned = str(h.get("pinned_line"))
    raise InstanceError(f"{where}.pinned_line: {pinned!r} is not one of the lines")


def plan_document(plan: Plan, clock: Clock, *, lang: str = "en") -> dict[str, Any]:
    """The CLI's answer: assignments, a reason for every hearing left out, objective.

    A year leaves some thirty thousand hearings out, and their reasons cost as much as the
    solve: they are written on both cores, each half by its own `Reasons` (its caches
    are per process), after the first question has built the plan's per-line tables."""
    ids = list(plan.unassigned)
    eligible = next((hid for hid in ids if not plan.unassigned[hid].ineligible), None)
    if eligible is not None:
        plan.why(eligible)  # an ineligible hearing's answer asks the explainer nothing

    def write(part: Sequence[str]) -> list[str]:
        reason = Reasons(clock.show, lang=lang)
        return [reason(plan.unassigned[hid], plan.why(hid)) for hid in part]

    if len(ids) < PARALLEL_REASONS:
        unassigned = dict(zip(ids, write(ids), strict=True))
    else:  # two runs in order (neighbours share their blockers), as many eligible in each
        first, second = parallel.split(ids, lambda hid: 0 if plan.unassigned[hid].ineligible else 1)
        texts = [t for part in parallel.halves(write, first, second) for t in part]
        unassigned = dict(zip(ids, texts, strict=True))
    return {
        "assignments": dict(plan.assignments),
        "unassigned": unassigned,
        "objective": {"priority": plan.objective.priority, "count": plan.objective.count},
    }


def capacity_document(points: Sequence[CapacityPoint]) -> dict[str, Any]:
    return {
        "capacity": [
            {
                "lines": p.lines,
                "priority": p.priority,
                "count": p.count,
                "eligible": p.eligible,
                "ratio": round(p.ratio, 4),
            }
            for p in points
        ]
    }
