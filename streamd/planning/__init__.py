"""Planning: run the allocation engine over the booked hearings and persist its answer.

The I/O edge of `streamd.allocation`. Whenever a booking is made or cancelled, a hearing
goes live, runs over, starts late or ends, the bookings of the days around it are planned
again, with the current lines as the previous plan (fewest changes) and announced hearings
pinned to their line. The plan is made on what the court can see now
(`allocation.holds`): a hearing on air is fixed on its line until its expected end (its
planned length from when it went on air; past that, a step at a time), a hearing going
live now is planned ahead of those still to come, one that has ended holds nothing.
Each booking then carries its line, or `no_line` (or `excluded` by the policy) with the
reason in Chinese and English, written in the same transaction as whatever caused it, so
the clerk sees the answer at once and a restart answers the same. The changes come back
to the caller, who tells the people affected (the orchestrator alerts the technicians and
the consoles).

The plan is repaired, not made afresh: `allocation.repair.Memory` keeps the problem each
window was last solved for and its plan, and solves again only the parts of the day that
differ now (on air, late, cancelled, a line down) — the engine `bench/repair.py` measures.

Plans are made one at a time (`lock`): two made at once could each give the same
free line to a different hearing.
"""

from streamd.planning.plan import live_signature, lock, moved_on_air, replan
from streamd.planning.terms import LineChange, Timing

__all__ = ["LineChange", "Timing", "live_signature", "lock", "moved_on_air", "replan"]
