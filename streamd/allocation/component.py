"""One component solved exactly: the flow's relaxation bounds it, the sweep colours it, and
when the sweep falls short of the bound the occupancy search (or the integer programme)
finds the optimum (pure, no I/O)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from streamd.allocation import coloring, flow, search

# From this many open hearings on, the components are solved on two cores (a year of a
# large court); below it a fork costs more than it saves.
from streamd.allocation.candidates import Candidate, _grouped, _prevd
from streamd.allocation.model import (
    Line,
)
from streamd.allocation.spans import LineSpans


def _solve_component(
    component: list[Candidate],
    plain: int,
    special: Sequence[Line],
    lines: Mapping[str, Line],
    line_order: Mapping[str, int],
    blockers: LineSpans,
) -> tuple[dict[str, str], str]:
    n = len(component)
    if n == 1:
        c = component[0]
        return {c.hearing.id: c.preferred or c.usable[0]}, "trivial"
    times = sorted({t for c in component for t in (c.hearing.start, c.hearing.end)})
    index = {t: k for k, t in enumerate(times)}
    capacity = _capacity(times, plain, special, blockers)
    weight_c = 2 * n + 1
    weight_b = (n + 1) * weight_c
    weight_a = (n + 1) * weight_b

    def weight(c: Candidate) -> int:
        prevd = 1 if c.prev is not None else (-1 if c.was_unassigned else 0)
        pin = 1 if c.pin is not None else 0
        return c.hearing.priority * weight_a + weight_b + pin * weight_c + prevd

    depth_ok = _fits(component, times, index, capacity)
    packing: _Relaxation | None = None
    if depth_ok:
        selected = component
    else:
        packing = _pack(component, times, index, capacity, weight)
        groups = _grouped(component, index, weight)
        selected = []
        for key, amount in zip(packing.keys, packing.taken, strict=True):
            # Equal in every tier; the sweep and the search decide among them.
            selected.extend(groups[key][:amount])
    if not special and all(c.preferred is None for c in selected):
        # Identical lines and nobody prefers one: colouring in start order places every
        # hearing the flow chose (the overlap never exceeds the lines), so it is optimal.
        ordered = sorted(line_order, key=line_order.__getitem__)
        return coloring.lay_onto(selected, ordered), "trivial" if depth_ok else "flow"
    chosen = coloring.assign(selected, line_order, lines)
    bound = _relaxed(component, selected)
    got = _value(component, chosen)
    if _certified(component, bound, got):
        return chosen, "trivial" if depth_ok else "flow"
    if any(c.pin is not None and c.prev is not None and c.pin != c.prev for c in selected):
        # Pins an earlier repair had to break: the sweep's plan chases them again; the
        # previous plan's lines are usually still the best start for the search.
        again = coloring.assign(
            [replace(c, pin=None) if c.pin != c.prev else c for c in selected],
            line_order,
            lines,
        )
        better = _value(component, again)
        if better > got:
            chosen, got = again, better
            if _certified(component, bound, got):
                return chosen, "trivial" if depth_ok else "flow"
    if packing is None:
        packing = _pack(component, times, index, capacity, weight)
    found = _search(component, chosen, weight, packing, times, index, special, line_order, blockers)
    if found is not None:
        return found, "search"
    # SciPy takes most of a cold start and a year's plan rarely needs it: load it here.
    from streamd.allocation import exact

    if got[:2] == bound[:2]:
        # The flow proved priority and count; only pins and changes remain open, and the
        # sweep's plan is a floor for them.
        floor = got[2] * (2 * n + 1) + got[3] - sum(c.was_unassigned for c in component)
        return (
            exact.solve_component(component, list(line_order), known=bound[:2], floor=floor),
            "milp",
        )
    return exact.solve_component(component, list(line_order)), "milp"


@dataclass(frozen=True, slots=True)
class _Relaxation:
    """The flow's answer per group of indistinguishable candidates, with its duals."""

    keys: list[tuple[int, int, int]]
    taken: list[int]
    penalty: list[int]
    price: list[int]


def _pack(
    component: Sequence[Candidate],
    times: Sequence[int],
    index: Mapping[int, int],
    capacity: Sequence[int],
    weight: Callable[[Candidate], int],
) -> _Relaxation:
    groups = _grouped(component, index, weight)
    keys = list(groups)
    packed = flow.pack(
        len(times), capacity, [(a, b, len(groups[(a, b, w)]), w) for a, b, w in keys]
    )
    return _Relaxation(keys, packed.taken, packed.penalty, packed.price)


def _search(
    component: Sequence[Candidate],
    chosen: Mapping[str, str],
    weight: Callable[[Candidate], int],
    relaxed: _Relaxation,
    times: Sequence[int],
    index: Mapping[int, int],
    special: Sequence[Line],
    line_order: Mapping[str, int],
    blockers: LineSpans,
) -> dict[str, str] | None:
    """The exact plan by `search.best_plan`, or None when the search grows too large.

    Every plan is worth the relaxation's bound minus its losses: the flow's penalty for
    each hearing taken or left against the flow, its price for each line left idle, plus
    the pin and previous-line bonuses the relaxation counted but the plan's lines do not
    give. The sweep's plan loses G, so only plans losing less can improve on it; the
    search explores nothing else.
    """
    weight_c = 2 * len(component) + 1
    settled: dict[tuple[int, int, int], tuple[bool, int]] = {}
    for key, amount, pen in zip(relaxed.keys, relaxed.taken, relaxed.penalty, strict=True):
        settled[key] = (amount > 0, pen)
    group_of = {
        c.hearing.id: (index[c.hearing.start], index[c.hearing.end], weight(c)) for c in component
    }

    def value(c: Candidate, line: str | None) -> int:
        if line is None:
            return 0
        kept = weight_c if line == c.pin else 0
        return (
            group_of[c.hearing.id][2]
            - weight_c * (c.pin is not None)
            - _prevd(c)
            + kept
            + ((line == c.prev) - c.was_unassigned)
        )

    def loss(c: Candidate, line: str | None) -> int:
        key = group_of[c.hearing.id]
        flow_took, pen = settled[key]
        deviation = pen if (line is None) == flow_took else 0
        return deviation + (key[2] - value(c, line) if line is not None else 0)

    bound = sum(w * t for (_, _, w), t in zip(relaxed.keys, relaxed.taken, strict=True))
    got = sum(value(c, chosen.get(c.hearing.id)) for c in component)
    gap = bound - got
    # Whoever would cost the whole gap on their own keeps the flow's decision; the ones
    # the flow left out never enter the search.
    members = [
        c
        for c in component
        if settled[group_of[c.hearing.id]][0] or settled[group_of[c.hearing.id]][1] < gap
    ]
    special_ids = {line.id for line in special}
    preferred = {c.pin for c in members} | {c.prev for c in members}
    ordered = sorted(line_order, key=line_order.__getitem__)
    tracked = [line for line in ordered if line in special_ids or line in preferred]
    pool = [line for line in ordered if line not in special_ids and line not in preferred]
    idle = _idle(relaxed.price, times, index, tracked, special, blockers)
    # What each member may do, worked out once for every budget below.
    slot_of = {line: k for k, line in enumerate(tracked)}
    moves: dict[str, list[search.Move]] = {}
    for c in members:
        options = [(search.OUT, value(c, None), loss(c, None))]
        options.extend(
            (slot_of[line], value(c, line), loss(c, line)) for line in c.usable if line in slot_of
        )
        if pool:
            options.append((search.POOL, value(c, pool[0]), loss(c, pool[0])))
        moves[c.hearing.id] = options
    # Widen the budget step by step: a plan worth at least bound - budget beats every
    # plan the narrower search left out, and the optimum usually loses little. Each
    # search also says how little the plans it did not look at lose at least.
    step = 4
    budget = min(gap, step)
    incumbent, plan = got, dict(chosen)
    while True:
        # Likewise for this budget: whoever it would cost to take stays out.
        active: list[Candidate] = []
        floor = search.NEVER
        for c in members:
            took, pen = settled[group_of[c.hearing.id]]
            if took or pen < budget:
                active.append(c)
            elif pen < floor:
                floor = pen
        found = search.best_plan(
            active, [moves[c.hearing.id] for c in active], budget, tracked, pool, idle=idle
        )
        if found is None:
            return None
        best, candidate, searched = found
        floor = min(floor, searched)
        if best > incumbent:
            incumbent, plan = best, candidate
        if incumbent >= bound - floor or budget >= gap:
            return plan
        # Nothing loses less than the floor; look a widening step beyond it.
        step *= 4
        budget = min(gap, floor + step)


def _idle(
    price: Sequence[int],
    times: Sequence[int],
    index: Mapping[int, int],
    tracked: Sequence[str],
    special: Sequence[Line],
    blockers: LineSpans,
) -> search.Idle | None:
    """Running sums of the segment prices, per line over the segments it can serve."""
    if not any(price):
        return None

    def running(line: Line | None) -> list[int]:
        out = [0]
        total = 0
        for k, p in enumerate(price):
            if p and (
                line is None
                or (
                    line.covers(times[k], times[k + 1])
                    and blockers.first_overlap(line.id, times[k], times[k + 1]) is None
                )
            ):
                total += p
            out.append(total)
        return out

    plain = running(None)
    by_id = {line.id: line for line in special}
    return search.Idle(
        index=index,
        tracked=[running(by_id[line]) if line in by_id else plain for line in tracked],
        pool=plain,
        start=times[0],
        end=times[-1],
    )


def _capacity(
    times: Sequence[int], plain: int, special: Sequence[Line], blockers: LineSpans
) -> list[int]:
    """Lines usable over each whole segment [times[k], times[k+1])."""
    capacity = [plain] * (len(times) - 1)
    for line in special:
        for k in range(len(times) - 1):
            a, b = times[k], times[k + 1]
            if line.covers(a, b) and blockers.first_overlap(line.id, a, b) is None:
                capacity[k] += 1
    return capacity


def _fits(
    component: Sequence[Candidate],
    times: Sequence[int],
    index: Mapping[int, int],
    capacity: Sequence[int],
) -> bool:
    """True when every candidate can be taken: overlap never exceeds usable lines."""
    delta = [0] * (len(times) + 1)
    for c in component:
        delta[index[c.hearing.start]] += 1
        delta[index[c.hearing.end]] -= 1
    depth = 0
    for k in range(len(times) - 1):
        depth += delta[k]
        if depth > capacity[k]:
            return False
    return True


def _relaxed(
    component: Sequence[Candidate], selected: Sequence[Candidate]
) -> tuple[int, int, int, int]:
    chosen = {c.hearing.id for c in selected}
    priority = sum(c.hearing.priority for c in selected)
    pins = sum(1 for c in selected if c.pin is not None)
    unchanged = sum(
        1
        for c in component
        if (c.prev is not None and c.hearing.id in chosen)
        or (c.was_unassigned and c.hearing.id not in chosen)
    )
    return priority, len(selected), pins, unchanged


def _value(component: Sequence[Candidate], chosen: Mapping[str, str]) -> tuple[int, int, int, int]:
    priority = count = pins = unchanged = 0
    for c in component:
        line = chosen.get(c.hearing.id)
        if line is not None:
            priority += c.hearing.priority
            count += 1
            pins += line == c.pin
            unchanged += line == c.prev
        elif c.was_unassigned:
            unchanged += 1
    return priority, count, pins, unchanged


def _max_disjoint(intervals: Iterable[tuple[int, int]]) -> int:
    count = 0
    free_from: int | None = None
    for start, end in sorted(intervals, key=lambda se: se[1]):
        if free_from is None or start >= free_from:
            count += 1
            free_from = end
    return count


def _certified(
    component: Sequence[Candidate],
    bound: tuple[int, int, int, int],
    got: tuple[int, int, int, int],
) -> bool:
    """True when `got` provably cannot be beaten (see module docstring).

    `bound` is the relaxation's value; two more bounds hold for every plan: on each line,
    the pinned (or previously placed) hearings that keep it cannot overlap.
    """
    if got[:2] != bound[:2]:
        return False
    pin_lists: dict[str, list[tuple[int, int]]] = defaultdict(list)
    prev_lists: dict[str, list[tuple[int, int]]] = defaultdict(list)
    stay_unassigned = 0
    for c in component:
        span = (c.hearing.start, c.hearing.end)
        if c.pin is not None:
            pin_lists[c.pin].append(span)
        if c.prev is not None:
            prev_lists[c.prev].append(span)
        stay_unassigned += c.was_unassigned
    pin_bound = sum(_max_disjoint(v) for v in pin_lists.values())
    prev_bound = sum(_max_disjoint(v) for v in prev_lists.values()) + stay_unassigned
    if got[2] == bound[2]:
        return got[3] >= min(bound[3], prev_bound)
    if got[2] == pin_bound:
        return got[3] >= prev_bound
    return False
