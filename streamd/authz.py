"""Who may touch what: the one authorisation decision every write goes through.

`decide` is pure: who asks (roles, department), what they want to do (an `Act`), and the
object's department and state. A clerk acts for their own department (庭), a judge for
their own department's cases, a department head decides for their department; the court
leader, the administrator and the technician act court-wide as their roles imply. The web
layer loads the target (`load_target`) and calls `check`; nothing else decides.

Court-wide roles are listed per act, department-scoped ones too; a role in neither may not
act at all. Department scoping fails closed: an account with no department is refused
every department-scoped act.

Before all of that, the court: one deployment holds several courts (the two-level
platform), and an account sees only its own court's objects. Another court's object is
answered 404 exactly as a missing one, for reads (`sees`) and writes alike, so nothing
about another court leaks, not even that the id exists. One role reads across courts: the
intermediate court's judicial-openness office (`Role.CITY_OFFICE`), which compares them
and may write nothing anywhere (it is in no act's table). `scope` is what a list shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from streamd.domain import Role
from streamd.lifecycle import RECORDING, TERMINAL, StreamState
from streamd.models import (
    Alert,
    Approval,
    Booking,
    Courtroom,
    Department,
    Hearing,
    Line,
    LineOutage,
    Stream,
    User,
)
from streamd.scope import EVERY_COURT, Scope

__all__ = [
    "Act",
    "Actor",
    "Decision",
    "Denied",
    "Target",
    "check",
    "decide",
    "hidden",
    "load_target",
    "roles_for",
    "scope",
    "sees",
]

READS_EVERY_COURT = frozenset({Role.CITY_OFFICE})


class Act(StrEnum):
    """Every kind of write the server takes, and the reads that are scoped (RECORD_VIEW)."""

    LOGIN = "login"  # anyone, unauthenticated
    LOGOUT = "logout"  # any authenticated user, their own token
    HEARING_WRITE = "hearing.write"  # create, update, cancel, change public
    BOOKING_WRITE = "booking.write"  # book a slot, cancel a booking
    APPROVAL_APPLY = "approval.apply"  # apply not to stream
    APPROVAL_DECIDE = "approval.decide"  # review, approve, reject (levels: streamd.approvals)
    STREAM_RUN = "stream.run"  # the console: prepare, go live, resume, adjourn, transcript
    STREAM_PAUSE = "stream.pause"  # hide the broadcast at once (recording goes on)
    STREAM_END = "stream.end"  # end the broadcast for good (recording goes on)
    STREAM_ABORT = "stream.abort"  # stop a started stream and its recording
    STREAM_REOPEN = "stream.reopen"  # undo an abort (administrators, with a reason)
    OPERATE = "operate"  # encoders, alerts, line outages: the technicians' wall
    ADMINISTER = "administer"  # accounts: lift a login lockout
    RECORD_VIEW = "record.view"  # a read: a hearing's recorded content (streamd.record)
    RECORD_CORRECT = "record.correct"  # a new version of a transcript line (SPC 2017 Art. 7)
    RECORD_GRANT = "record.grant"  # give a party access to a record, or revoke it (Art. 10)


_S = Role
# Roles that act court-wide, whatever the object's department.
COURT_WIDE: dict[Act, frozenset[Role]] = {
    Act.HEARING_WRITE: frozenset({_S.ADMIN}),
    Act.BOOKING_WRITE: frozenset({_S.ADMIN}),
    Act.APPROVAL_APPLY: frozenset(),
    Act.APPROVAL_DECIDE: frozenset({_S.COURT_LEADER}),
    Act.STREAM_RUN: frozenset({_S.ADMIN}),
    Act.STREAM_PAUSE: frozenset({_S.TECHNICIAN, _S.ADMIN}),
    Act.STREAM_END: frozenset({_S.TECHNICIAN, _S.ADMIN}),
    Act.STREAM_ABORT: frozenset({_S.TECHNICIAN, _S.ADMIN}),
    Act.STREAM_REOPEN: frozenset({_S.ADMIN}),
    Act.OPERATE: frozenset({_S.TECHNICIAN, _S.ADMIN}),
    Act.ADMINISTER: frozenset({_S.ADMIN}),
    # Technicians see a record's status (the wall, the archive), never its content.
    Act.RECORD_VIEW: frozenset({_S.COURT_LEADER, _S.ADMIN}),
    Act.RECORD_CORRECT: frozenset(),  # the hearing's own clerks, no one court-wide
    Act.RECORD_GRANT: frozenset(),  # the hearing's own judges and clerks
}
# Roles that act only on their own department's objects.
IN_DEPARTMENT: dict[Act, frozenset[Role]] = {
    Act.HEARING_WRITE: frozenset({_S.CLERK}),
    Act.BOOKING_WRITE: frozenset({_S.CLERK}),
    Act.APPROVAL_APPLY: frozenset({_S.JUDGE, _S.CLERK}),
    Act.APPROVAL_DECIDE: frozenset({_S.DEPARTMENT_HEAD}),
    Act.STREAM_RUN: frozenset({_S.CLERK}),
    Act.STREAM_PAUSE: frozenset({_S.CLERK, _S.JUDGE}),
    Act.STREAM_END: frozenset({_S.CLERK, _S.JUDGE}),
    Act.STREAM_ABORT: frozenset({_S.CLERK}),
    Act.RECORD_VIEW: frozenset({_S.JUDGE, _S.CLERK, _S.DEPARTMENT_HEAD}),
    Act.RECORD_CORRECT: frozenset({_S.CLERK}),
    Act.RECORD_GRANT: frozenset({_S.JUDGE, _S.CLERK}),
}
OPEN_ACTS = frozenset({Act.LOGIN, Act.LOGOUT})
STATEFUL_ACTS = frozenset({Act.STREAM_ABORT, Act.STREAM_REOPEN})  # decided on the stream's state


@dataclass(frozen=True, slots=True)
class Actor:
    username: str
    roles: frozenset[Role]
    department_id: int | None
    court_id: int | None = None

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(
            username=user.username,
            roles=frozenset(Role(r) for r in user.roles),
            department_id=user.department_id,
            court_id=user.court_id,
        )


@dataclass(frozen=True, slots=True)
class Target:
    """What is touched. `departments` holds every department the write reaches: a hearing
    moved to another department reaches both. Empty: a court-wide object."""

    departments: frozenset[int] = frozenset()
    stream_state: StreamState | None = None
    exists: bool = True
    courts: frozenset[int] = frozenset()  # the courts it belongs to; empty: none named


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    status: int = 200  # 403 who you are, 409 the object's state
    reason: str = ""


ALLOW = Decision(True)
HIDDEN = Decision(False, 404, "not found")


def roles_for(act: Act) -> frozenset[Role]:
    """Every role that may take `act` somewhere (the route's coarse check and OpenAPI)."""
    if act in OPEN_ACTS:
        return frozenset()
    return COURT_WIDE[act] | IN_DEPARTMENT.get(act, frozenset())


def decide(act: Act, actor: Actor, target: Target) -> Decision:
    """Whether `actor` may take `act` on `target`: role, then department, then state."""
    if act in OPEN_ACTS:
        return ALLOW
    if not (seen := sees(actor, target)).allowed:
        return seen
    wide = COURT_WIDE[act] & actor.roles
    scoped = IN_DEPARTMENT.get(act, frozenset()) & actor.roles
    if not wide and not scoped:
        names = ", ".join(sorted(r.value for r in roles_for(act)))
        return Decision(False, 403, f"this action needs one of: {names}")
    if not wide and target.departments:
        if actor.department_id is None:
            return Decision(False, 403, "your account belongs to no department")
        if target.departments != {actor.department_id}:
            return Decision(False, 403, "the hearing belongs to another department")
    return _state(act, target)


def sees(actor: Actor, target: Target, *, reading: bool = False) -> Decision:
    """Whether the object exists for `actor` at all: only their own court's do (a reading
    city office: every court's). An account with no court sees none (fail closed). A
    missing object gets the same answer, so the two cannot be told apart."""
    if not target.exists:
        return HIDDEN
    if reading and actor.roles & READS_EVERY_COURT:
        return ALLOW
    if target.courts and target.courts != {actor.court_id}:
        return HIDDEN
    return ALLOW


def scope(user: User) -> Scope:
    """Which courts a list shows `user`: their own, or every court for the city office."""
    if {Role(r) for r in user.roles} & READS_EVERY_COURT:
        return EVERY_COURT
    return user.court_id


def hidden(session: Session, *, court_id: int | None, hearing_id: int) -> bool:
    """Whether the hearing is missing or another court's, for an account of `court_id`:
    the pages answer both alike (404), as the API does."""
    target = load_target(session, hearing_id=hearing_id)
    viewer = Actor(username="", roles=frozenset(), department_id=None, court_id=court_id)
    return not sees(viewer, target).allowed


def _state(act: Act, target: Target) -> Decision:
    state = target.stream_state
    started = state is not None and (state in RECORDING or state in TERMINAL)
    if act is Act.STREAM_ABORT and target.exists and not started:
        return Decision(
            False, 409, "only a started stream can be aborted; before it starts, cancel the booking"
        )
    if act is Act.STREAM_REOPEN and target.exists and state is not StreamState.ABORTED:
        shown = state.value if state is not None else "not started"
        return Decision(False, 409, f"only an aborted stream can be reopened; it is {shown}")
    return ALLOW


class Denied(Exception):
    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.status = decision.status


def check(act: Act | None, user: User, target: Target) -> None:
    """Raise `Denied` unless `user` may take `act` on `target`; `act` None: a read, which
    needs only that the object is the user's court's."""
    actor = Actor.of(user)
    decision = sees(actor, target, reading=True) if act is None else decide(act, actor, target)
    if not decision.allowed:
        raise Denied(decision)


# ---- the target, read from the database -------------------------------------------------


def _department_ids(session: Session, codes: Iterable[str], court_id: int | None) -> set[int]:
    """Department ids by code or name, in the asker's court (codes repeat between courts);
    an unknown one is left to the handler's 422."""
    wanted = set(codes)
    if not wanted:
        return set()
    return {
        d.id
        for d in session.exec(select(Department).where(Department.court_id == court_id)).all()
        if d.id is not None and (d.code in wanted or d.name in wanted)
    }


def _courts_of(session: Session, department_ids: Iterable[int]) -> set[int]:
    ids = list(department_ids)
    if not ids:
        return set()
    rows = session.exec(select(Department.court_id).where(col(Department.id).in_(ids))).all()
    return set(rows)


def load_target(
    session: Session,
    *,
    hearing_id: int | None = None,
    booking_id: int | None = None,
    approval_id: int | None = None,
    line_id: int | None = None,
    user_id: int | None = None,
    outage_id: int | None = None,
    alert_id: int | None = None,
    departments: Iterable[str] = (),
    case_key: tuple[str, datetime] | None = None,
    with_state: bool = False,
    court_id: int | None = None,
) -> Target:
    """The courts, departments and stream state a call reaches. A missing object yields
    `exists=False`: 404, as for another court's. `court_id`: the asker's court, where
    department codes are looked up."""
    courts: set[int] = set()
    if outage_id is not None:
        outage = session.get(LineOutage, outage_id)
        if outage is None:
            return Target(exists=False)
        line_id = outage.line_id
    if alert_id is not None:
        alert = session.get(Alert, alert_id)
        if alert is None:
            return Target(exists=False)
        if alert.hearing_id is not None:
            hearing_id = alert.hearing_id
        elif alert.room is not None:  # a room's alert: the court holding that room
            courts |= set(
                session.exec(select(Courtroom.court_id).where(Courtroom.code == alert.room)).all()
            )
        # Neither: the platform's own (the archive's disk), every court's technicians' to see.
    if line_id is not None:
        line = session.get(Line, line_id)
        if line is None:
            return Target(exists=False)
        courts.add(line.court_id)
    if user_id is not None:
        account = session.get(User, user_id)
        if account is None or account.court_id is None:  # no court's: no one's to touch
            return Target(exists=False)
        courts.add(account.court_id)
    if booking_id is not None:
        booking = session.get(Booking, booking_id)
        if booking is None:
            return Target(exists=False)
        hearing_id = booking.hearing_id
    if approval_id is not None:
        approval = session.get(Approval, approval_id)
        if approval is None:
            return Target(exists=False)
        hearing_id = approval.hearing_id
    depts = _department_ids(session, departments, court_id)
    if case_key is not None:  # an upsert reaches the hearing it would update
        existing = session.exec(
            select(Hearing).where(
                Hearing.case_number == case_key[0], Hearing.planned_start == case_key[1]
            )
        ).first()
        if existing is not None:
            depts.add(existing.department_id)
    state: StreamState | None = None
    if hearing_id is not None:
        hearing = session.get(Hearing, hearing_id)
        if hearing is None:
            return Target(exists=False)
        depts.add(hearing.department_id)
        if with_state:  # only the acts that depend on it read the stream (a pause must not)
            stream = session.exec(select(Stream).where(Stream.hearing_id == hearing_id)).first()
            state = StreamState(stream.state) if stream is not None else None
    courts |= _courts_of(session, depts)
    return Target(departments=frozenset(depts), stream_state=state, courts=frozenset(courts))
