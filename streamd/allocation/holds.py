"""How long each hearing will hold a line, from what is known now (pure).

The plan is made on planned times, and the day does not keep to them. Live repair plans
the rest of the day on what the court can see instead (the past is not planned: whatever
is under way holds nothing before now):

- a hearing lasts its planned length from when it really went on air, and at least until
  its planned end: one that started late is expected to end as late;
- a hearing on air holds its line from now until that expected end; once past it, until
  the next whole step beyond now. An overrun is assumed to go on a step at a time, so the
  plan changes once a step, not once a second, and a hearing that runs on is re-extended
  before its line is ever given to the next one;
- a hearing going live now holds its line for its planned length from now;
- a hearing past its planned start that has not gone live holds its line from now to its
  planned end and no longer: nothing is moved on a guess before it starts (it is marked
  late, which the planner uses; its real start, when it comes, is what moves others).

Integer seconds, as the allocation engine counts; `start` and `end` are the hearing's
planned times, the pre- and post-roll are added here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    WAITING = "waiting"  # not on air yet
    STARTING = "starting"  # going live now
    ON_AIR = "on_air"  # live or paused: the line carries it


@dataclass(frozen=True, slots=True)
class Hold:
    """[start, end) on a line, and whether it is stretched by an overrun or a late start."""

    start: int
    end: int
    overrun: bool = False
    late: bool = False


def hold(
    *,
    start: int,
    end: int,
    phase: Phase,
    now: int,
    step: int,
    preroll: int,
    postroll: int,
    since: int | None = None,
) -> Hold:
    """`since`: when a hearing on air went on air (its planned start if unknown)."""
    if not start < end:
        raise ValueError("a hearing must end after it starts")
    if step < 1:
        raise ValueError("the step must be at least one second")
    length = end - start
    if phase is Phase.ON_AIR:
        expected = max(end, (start if since is None else since) + length)
        late = since is not None and since > start
        if now < expected:
            return Hold(now, expected + postroll, late=late)
        steps = (now - expected) // step + 1
        return Hold(now, expected + steps * step + postroll, overrun=True, late=late)
    if phase is Phase.STARTING:
        return Hold(now, max(end, now + length) + postroll, late=now > start)
    if start < now < end:
        return Hold(now, end + postroll, late=True)
    return Hold(start - preroll, end + postroll)
