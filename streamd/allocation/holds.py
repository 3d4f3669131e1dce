"""How long each hearing will hold a line, from what is known now (pure).

The plan is made on planned times, and the day does not keep to them. Live repair plans
the rest of the day on what the court can see instead (the past is not planned: whatever
starts now holds nothing before now):

- a hearing on air holds its line from now until its planned end; once past it, until
  the next whole step beyond now. An overrun is assumed to go on a step at a time, so the
  plan changes once a step, not once a second, and a hearing that runs on is re-extended
  before its line is ever given to the next one;
- a hearing past its planned start that has not gone live is late by whole steps: it
  holds its line from now, and its end moves as far (until its planned end has passed:
  then it is not happening as planned, and a late go-live plans it afresh);
- a hearing going live now holds its line for its planned length from now, or until its
  planned end if it starts early.

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
    *, start: int, end: int, phase: Phase, now: int, step: int, preroll: int, postroll: int
) -> Hold:
    if not start < end:
        raise ValueError("a hearing must end after it starts")
    if step < 1:
        raise ValueError("the step must be at least one second")
    if phase is Phase.ON_AIR:
        if now < end:
            return Hold(now, end + postroll)
        steps = (now - end) // step + 1
        return Hold(now, end + steps * step + postroll, overrun=True)
    if phase is Phase.STARTING:
        return Hold(now, max(end, now + (end - start)) + postroll, late=now > start)
    if start < now < end:
        delay = -(-(now - start) // step) * step
        return Hold(now, end + delay + postroll, late=True)
    return Hold(start - preroll, end + postroll)
