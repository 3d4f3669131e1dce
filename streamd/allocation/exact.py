"""The exact fallback: one component as a 0-1 integer programme (HiGHS through SciPy).

Used only when the flow bound cannot certify the sweep's answer, which takes line
identity to matter: windows cutting through a busy period, pins that clash.

Lines that are usable by every hearing of the component and that nobody prefers are
interchangeable, so they are one pool with a capacity instead of one variable each: an
interval set whose overlap never exceeds the pool size can always be laid onto the pool
lines (interval graphs are perfect), and dropping that symmetry is what makes HiGHS fast
here. Two stages keep the coefficients small enough for floating point to be exact:
first total priority and count, then, holding that optimum, pins kept and hearings
unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from streamd.allocation import coloring

if TYPE_CHECKING:
    from streamd.allocation.candidates import Candidate

_POOL = ""


class SolverFailure(RuntimeError):
    """HiGHS did not prove optimality (it should always, on these small models)."""


def solve_component(
    component: Sequence[Candidate],
    line_order: Sequence[str],
    *,
    known: tuple[int, int] | None = None,
    floor: int | None = None,
) -> dict[str, str]:
    """`known`: the optimal (priority, count), when the flow already proved it; `floor`:
    a stage-two value already reached (the sweep's), which prunes HiGHS's search."""
    n = len(component)
    everywhere = set(line_order)
    for c in component:
        everywhere &= set(c.usable)
    preferred = {c.pin for c in component} | {c.prev for c in component}
    pool = [line for line in line_order if line in everywhere and line not in preferred]
    pooled = set(pool)
    variables: list[tuple[int, str]] = []
    for i, c in enumerate(component):
        if pool:
            variables.append((i, _POOL))
        variables.extend((i, line) for line in c.usable if line not in pooled)
    rows: list[int] = []
    cols: list[int] = []
    upper: list[float] = []
    per_hearing: dict[int, list[int]] = {}
    per_line: dict[str, list[int]] = {}
    for v, (i, line) in enumerate(variables):
        per_hearing.setdefault(i, []).append(v)
        per_line.setdefault(line, []).append(v)
    for vs in per_hearing.values():
        rows.extend([len(upper)] * len(vs))
        cols.extend(vs)
        upper.append(1)
    starts = [c.hearing.start for c in component]
    ends = [c.hearing.end for c in component]
    for line, vs in per_line.items():
        limit = len(pool) if line == _POOL else 1
        # A clique of intervals shares a point; the starts are enough points to check.
        for t in sorted({starts[variables[v][0]] for v in vs}):
            members = [v for v in vs if starts[variables[v][0]] <= t < ends[variables[v][0]]]
            if len(members) > limit:
                rows.extend([len(upper)] * len(members))
                cols.extend(members)
                upper.append(limit)
    matrix = coo_array(
        (np.ones(len(rows)), (np.array(rows), np.array(cols))),
        shape=(len(upper), len(variables)),
    ).tocsr()
    stage_one = np.array(
        [component[i].hearing.priority * (n + 1) + 1 for i, _ in variables], dtype=float
    )
    stage_two = np.array(
        [
            (2 * n + 1) * (line == component[i].pin)
            + (line == component[i].prev)
            - component[i].was_unassigned
            for i, line in variables
        ],
        dtype=float,
    )
    packing = LinearConstraint(matrix, -np.inf, np.array(upper))
    bounds = Bounds(0, 1)
    integrality = np.ones(len(variables))
    options = {"mip_rel_gap": 0.0, "presolve": True}
    if known is not None:
        best = float(known[0] * (n + 1) + known[1])
    else:
        first = milp(
            -stage_one,
            constraints=[packing],
            bounds=bounds,
            integrality=integrality,
            options=options,
        )
        if first.status != 0 or first.x is None:
            raise SolverFailure(f"stage one: {first.message}")
        best = float(np.round(stage_one @ np.round(first.x)))
    constraints = [packing, LinearConstraint(stage_one.reshape(1, -1), best - 0.5, np.inf)]
    if floor is not None:
        constraints.append(LinearConstraint(stage_two.reshape(1, -1), floor - 0.5, np.inf))
    second = milp(
        -stage_two,
        constraints=constraints,
        bounds=bounds,
        integrality=integrality,
        options=options,
    )
    if second.status != 0 or second.x is None:
        raise SolverFailure(f"stage two: {second.message}")
    x = np.round(second.x)
    out: dict[str, str] = {}
    in_pool: list[Candidate] = []
    for v, (i, line) in enumerate(variables):
        if x[v] > 0.5:
            if line == _POOL:
                in_pool.append(component[i])
            else:
                out[component[i].hearing.id] = line
    out.update(coloring.lay_onto(in_pool, pool))
    return out
