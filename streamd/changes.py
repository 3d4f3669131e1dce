"""What follows when hearings change, wherever the change came from (the API, the importer).

A changed hearing may change its streaming decision: an excluded cause opens the record
the department head must see, and a booked hearing's line answer is computed again for its
new time, in the same transaction, so the answer is current when the change is committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from streamd import approvals, planning
from streamd.casenumber import Procedure
from streamd.domain import BookingStatus, SessionKind
from streamd.models import Booking, Hearing
from streamd.policy import Facts, Ruleset, decide
from streamd.store import in_batches


@dataclass(frozen=True, slots=True)
class Aftermath:
    zone: ZoneInfo
    timing: planning.Timing
    rules: Ruleset

    def plan_at(self, session: Session, around: datetime, actor: str) -> None:
        """Re-plan the days around a moment in the caller's transaction."""
        planning.replan(
            session=session,
            around=around,
            zone=self.zone,
            timing=self.timing,
            rules=self.rules,
            actor=actor,
        )

    def plan_hearing(self, session: Session, hearing: Hearing, actor: str) -> None:
        self.plan_at(session, hearing.planned_start, actor)

    def hearing_changed(self, session: Session, hearing: Hearing, actor: str) -> None:
        """One hearing changed: open the record an excluded cause needs; re-plan if booked."""
        approvals.sync_rule_records(session=session, hearing=hearing, rules=self.rules, actor=actor)
        if booked(session, [hearing.id or 0]):
            self.plan_hearing(session, hearing, actor)

    def hearings_changed(
        self,
        session: Session,
        actor: str,
        *,
        created: Sequence[tuple[int, Mapping[str, Any]]] = (),
        changed: Sequence[Hearing] = (),
    ) -> int:
        """Many changed at once (an import): the records as for one, and each local day
        holding a booked hearing among `changed` re-planned once. New hearings (`created`,
        their ids and columns) have no records and no bookings yet, so their decision is
        the policy's alone and nothing is loaded back. Returns the days re-planned."""
        opens: dict[Facts, bool] = {}  # rows of an import share their facts; decide once
        for hearing_id, values in created:
            facts = _facts(values)
            if facts not in opens:
                opens[facts] = decide(facts, self.rules).rule.startswith(approvals.CAUSE)
            if opens[facts]:
                hearing = session.get(Hearing, hearing_id)
                assert hearing is not None
                approvals.sync_rule_records(
                    session=session, hearing=hearing, rules=self.rules, actor=actor
                )
        for hearing in changed:
            approvals.sync_rule_records(
                session=session, hearing=hearing, rules=self.rules, actor=actor
            )
        by_id = {h.id: h for h in changed}
        days: set[date] = {
            by_id[i].planned_start.astimezone(self.zone).date()
            for i in booked(session, [h.id for h in changed if h.id is not None])
        }
        for day in sorted(days):
            self.plan_at(session, datetime.combine(day, time(12), tzinfo=self.zone), actor)
        return len(days)


def _facts(values: Mapping[str, Any]) -> Facts:
    """What the policy sees of a hearing that has no records yet (its table columns)."""
    return Facts(
        case_type=values["case_type_code"],
        cause=values["cause"],
        procedure=Procedure(values["procedure"]),
        session_kind=SessionKind(values["session_kind"]),
        public=values["is_public"],
        non_public_reason=values["non_public_reason"],
        flags=frozenset(),
        approval=None,
    )


def booked(session: Session, hearing_ids: list[int]) -> set[int]:
    """Which of these hearings hold an active booking."""
    found: set[int] = set()
    for batch in in_batches(hearing_ids):
        found.update(
            session.exec(
                select(Booking.hearing_id).where(
                    col(Booking.hearing_id).in_(batch),
                    Booking.status != BookingStatus.CANCELLED.value,
                )
            ).all()
        )
    return found
