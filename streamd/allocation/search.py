"""Exact plans for one component by dynamic programming over line occupancy.

When the flow bound cannot certify the sweep (pins that clash after a late start, a
window through a busy morning), line identity matters and the problem is hard in
general: it contains precolouring extension of interval graphs. Two things make it
small in a court's day:

- the flow's reduced costs: the sweep's plan is within G of the bound, and every group
  whose penalty is at least G must stay as the flow left it, so only hearings the flow
  was indifferent about are really decided here;
- the state of a sweep in start order is just when each line is next free. Lines that
  nobody here prefers and that are up throughout are interchangeable, so they are one
  sorted pool; the others are tracked one by one. States equal after forgetting what has
  already ended are merged, keeping the better value.

The search gives up (returns None) past `limit` states alive at once, and the caller
falls back to the integer programme, so the answer is always exact; the search only
makes it fast.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streamd.allocation import coloring

if TYPE_CHECKING:
    from streamd.allocation.candidates import Candidate

# A decision trail: (candidate index, slot, rest).
Trail = tuple[int, int, "Trail"] | None
# A member's move: (slot, gain, loss); slot OUT leaves it out, POOL puts it in the pool.
Move = tuple[int, int, int]
State = tuple[int, int, Trail]  # value, loss so far, decisions
OUT = -2
POOL = -1
NOTHING = -(1 << 62)
NEVER = 1 << 62  # busy past every later start; no floor
# States alive at once before the search hands over to the integer programme: past
# this the integer programme is faster (about 30 ms on a 100-hearing morning).
LIMIT = 4000


@dataclass(frozen=True, slots=True)
class Idle:
    """What leaving a line idle costs against the relaxation (the flow's segment
    prices), as running sums over the component's time points, so a stretch costs one
    subtraction: `tracked[k][index[b]] - tracked[k][index[a]]` for tracked line k."""

    index: Mapping[int, int]  # time -> point
    tracked: Sequence[Sequence[int]]
    pool: Sequence[int]
    start: int  # the component's first and last times
    end: int


def best_plan(
    members: Sequence[Candidate],
    moves: Sequence[Sequence[Move]],
    budget: int,
    tracked: Sequence[str],
    pool: Sequence[str],
    *,
    idle: Idle | None = None,
    limit: int | None = None,
) -> tuple[int, dict[str, str], int] | None:
    """The best plan of `members` (sorted by start) among those losing less than
    `budget`: `(value, plan, floor)`, value `NOTHING` if no plan loses less; every plan
    not looked at loses at least `floor`.

    `moves[i]` lists what member i may do, `(slot, gain, loss)`: leave out (`OUT`), a
    pool line (`POOL`) or tracked line `slot`; `gain` is what it is worth, `loss` a
    lower bound on what it costs against the relaxation's bound, and `idle` prices each
    stretch a line stands unused. All add up, so a partial plan that has already lost
    `budget` is dropped: it cannot beat the plan that set the budget. `tracked`: lines
    some member may prefer or cannot always use; `pool`: lines every member can use and
    none prefers. None when more than `limit` states are alive at once.
    """
    limit = LIMIT if limit is None else limit
    width = len(tracked)
    pool_size = len(pool)
    states: dict[tuple[int, ...], State] = {(0,) * (width + pool_size): (0, 0, None)}
    starts = [c.hearing.start for c in members]
    starts.append(NEVER)
    floor = NEVER
    last = idle.start if idle is not None else 0
    for i, c in enumerate(members):
        s = c.hearing.start
        # Only whether a line is free by each later start matters, so its busy-until is
        # rounded up to the next start: states that no later member can tell apart merge.
        e = starts[bisect.bisect_left(starts, c.hearing.end, i + 1)]
        options = list(moves[i])
        rest: list[int] | None = None
        rest_pool = 0
        if idle is not None:
            # The line is idle from the hearing's end to that next start, for certain;
            # lines free since the last start were idle until this one.
            at, to = idle.index[c.hearing.end], idle.index[e if e != NEVER else idle.end]
            for j, (k, gain, cost) in enumerate(options):
                if k >= 0:
                    run = idle.tracked[k]
                    options[j] = (k, gain, cost + run[to] - run[at])
                elif k == POOL:
                    options[j] = (k, gain, cost + idle.pool[to] - idle.pool[at])
            if s > last:
                a, b = idle.index[last], idle.index[s]
                rest = [run[b] - run[a] for run in idle.tracked]
                rest_pool = idle.pool[b] - idle.pool[a]
                if not any(rest) and not rest_pool:
                    rest = None
            last = s
        # Cheapest first: once one move is over the budget, so are the rest.
        options.sort(key=_loss)
        current, floor = _settle(states, s, width, pool_size, rest, rest_pool, budget, floor)
        merged: dict[tuple[int, ...], State] = {}
        for state, (worth, spent, trail) in current.items():
            for k, gain, cost in options:
                lost = spent + cost
                if lost >= budget:
                    if lost < floor:
                        floor = lost
                    break
                if k == OUT:
                    key = state
                    step: Trail = trail
                elif k == POOL:
                    if 0 not in state[width:]:
                        continue
                    j = state.index(0, width)
                    key = (*state[:j], e, *state[j + 1 :])
                    if pool_size > 1:
                        key = key[:width] + tuple(sorted(key[width:]))
                    step = (i, k, trail)
                else:
                    if state[k]:
                        continue
                    key = (*state[:k], e, *state[k + 1 :])
                    step = (i, k, trail)
                total = worth + gain
                held = merged.get(key)
                if held is None or total > held[0] or (total == held[0] and lost < held[1]):
                    merged[key] = (total, lost, step)
        if len(merged) > limit:
            return None
        if not merged:
            return NOTHING, {}, floor
        states = merged
    best, _, trail = max(states.values(), key=lambda st: st[0])
    out: dict[str, str] = {}
    in_pool: list[Candidate] = []
    while trail is not None:
        i, k, trail = trail
        if k == POOL:
            in_pool.append(members[i])
        else:
            out[members[i].hearing.id] = tracked[k]
    out.update(coloring.lay_onto(in_pool, pool))
    return best, out, floor


def _settle(
    states: Mapping[tuple[int, ...], State],
    s: int,
    width: int,
    pool_size: int,
    rest: Sequence[int] | None,
    rest_pool: int,
    budget: int,
    floor: int,
) -> tuple[dict[tuple[int, ...], State], int]:
    """The states as the next member (starting at `s`) sees them: each charged for the
    lines it left idle since the last start (on its own busy-until values, before they
    are forgotten), then with every line free by `s` marked free, equal ones merged
    before they are expanded rather than after. Also the floor, lowered by the dropped."""
    current: dict[tuple[int, ...], State] = {}
    for state, held in states.items():
        if rest is not None:
            spent = held[1]
            for k in range(width):
                if not state[k]:
                    spent += rest[k]
            if rest_pool:
                spent += rest_pool * state[width:].count(0)
            if spent >= budget:
                if spent < floor:
                    floor = spent
                continue
            held = (held[0], spent, held[2])
        key = state
        for b in state:
            if 0 < b <= s:
                free = [0 if b <= s else b for b in state]
                if pool_size:
                    key = tuple(free[:width]) + tuple(sorted(free[width:]))
                else:
                    key = tuple(free)
                break
        other = current.get(key)
        if other is None or held[0] > other[0] or (held[0] == other[0] and held[1] < other[1]):
            current[key] = held
    return current, floor


def _loss(move: Move) -> int:
    return move[2]
