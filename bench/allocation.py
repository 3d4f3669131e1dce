"""Allocation benchmark: streamd's engine against OR-Tools CP-SAT (and networkx) on the
same generated court timetables, in the same run.

    .venv/bin/python -m bench.allocation                 # day, month, design, year
    .venv/bin/python -m bench.allocation --sizes day month --cpsat-limit 120

Prints, per instance: hearings x lines, our time and objective, the peer's time and
objective, and the ratio. Objectives must agree (the run fails loudly if not).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from bench.instances import SIZES, generate
from bench.peers import cpsat_optimum, networkx_optimum
from streamd.allocation import Line, Problem, solve

T = TypeVar("T")


def timed(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    times = []
    result: T | None = None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    assert result is not None
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["day", "month", "design", "year"])
    parser.add_argument("--cpsat-limit", type=float, default=600.0)
    parser.add_argument("--workers", type=int, default=2, help="CP-SAT workers (2 cores here)")
    parser.add_argument("--no-networkx", action="store_true")
    parser.add_argument(
        "--no-cpsat", action="store_true", help="time ours only (CP-SAT builds slowly)"
    )
    args = parser.parse_args()
    print(
        f"{'instance':>8} {'hearings':>8} {'lines':>5} | {'ours s':>8} {'objective':>16} "
        f"{'paths':>14} | {'peer':>8} {'peer s':>8} {'ratio':>7}"
    )
    for name in args.sizes:
        size = SIZES[name]
        problem = generate(size)
        repeat = 5 if size.hearings <= 20_000 else 3
        ours_s, plan = timed(lambda p=problem: solve(p), repeat)
        obj = plan.objective
        st = plan.stats
        paths = f"{st.flow_solved}f/{st.search_solved}s/{st.milp_solved}x/{st.trivial}t"
        mine = f"{obj.priority}/{obj.count}/{obj.pinned_kept}"
        if args.no_cpsat:
            print(
                f"{name:>8} {len(problem.hearings):>8} {size.lines:>5} | {ours_s:>8.3f} "
                f"{mine:>16} {paths:>14} | {'-':>8}"
            )
            continue
        began = time.perf_counter()
        peer = cpsat_optimum(
            problem, time_limit=args.cpsat_limit, workers=args.workers, cliques=True
        )
        peer_s = time.perf_counter() - began
        if peer is not None and peer != obj.key():
            raise SystemExit(f"{name}: objectives differ: ours {obj.key()} CP-SAT {peer}")
        # Without a proof within the time limit the ratio is only a lower bound.
        ratio = f"{'>=' if peer is None else ''}{peer_s / ours_s:.1f}x"
        print(
            f"{name:>8} {len(problem.hearings):>8} {size.lines:>5} | {ours_s:>8.3f} "
            f"{mine:>16} {paths:>14} | {'CP-SAT':>8} {peer_s:>8.2f} {ratio:>7}"
        )
        if not args.no_networkx and size.hearings <= 20_000:
            plain = Problem(
                lines=[Line(line.id) for line in problem.lines],
                hearings=[replace(h, pinned_line=None) for h in problem.hearings],
            )
            ours_plain, plain_plan = timed(lambda p=plain: solve(p), repeat)
            began = time.perf_counter()
            nx_value = networkx_optimum(plain)
            nx_s = time.perf_counter() - began
            got = (plain_plan.objective.priority, plain_plan.objective.count)
            if nx_value != got:
                raise SystemExit(f"{name}: objectives differ: ours {got} networkx {nx_value}")
            print(
                f"{name + '*':>8} {len(plain.hearings):>8} {size.lines:>5} | {ours_plain:>8.3f} "
                f"{f'{got[0]}/{got[1]}':>16} {'':>14} | {'networkx':>8} {nx_s:>8.2f} "
                f"{nx_s / ours_plain:>6.1f}x"
            )
    print("objective = priority/count/pinned kept; paths = flow/search/MILP/trivial components;")
    print("* = same hearings on identical always-up lines (the only model networkx can take)")


if __name__ == "__main__":
    main()
