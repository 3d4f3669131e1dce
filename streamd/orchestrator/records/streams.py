"""A stream's row, its steps and its commands: each step is written with its
transition, its command and an audit entry in one transaction, and only then sent
(streamd.orchestrator.service). A step whose stream moved on meanwhile fails with
`StaleState` instead of overwriting what happened."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from streamd import audit, planning
from streamd.domain import CommandStatus, HearingStatus
from streamd.lifecycle import TERMINAL, StreamAction, StreamState
from streamd.models import (
    Courtroom,
    Hearing,
    Interruption,
    Stream,
    StreamCommand,
    StreamTransition,
    utcnow,
)
from streamd.orchestrator.records.base import (
    CommandNote,
    Refused,
    StaleState,
    StreamView,
    _add_command,
    view_of,
)
from streamd.orchestrator.records.claims import _claim


def active_streams(session: Session) -> list[StreamView]:
    rows = session.exec(
        select(Stream).where(col(Stream.state).not_in([s.value for s in TERMINAL]))
    ).all()
    return [view_of(r) for r in rows]


def stream_for(session: Session, *, hearing_id: int, rooms: Iterable[str]) -> StreamView:
    """The hearing's stream, opened (booked) on first use."""
    row = session.exec(select(Stream).where(Stream.hearing_id == hearing_id)).first()
    if row is not None:
        return view_of(row)
    hearing = session.get(Hearing, hearing_id)
    if hearing is None:
        raise LookupError(f"no hearing {hearing_id}")
    room = session.get(Courtroom, hearing.courtroom_id)
    assert room is not None
    if room.code not in set(rooms):
        raise Refused(f"courtroom {room.code} has no agent configured")
    row = Stream(
        hearing_id=hearing_id,
        courtroom_id=hearing.courtroom_id,
        room=room.code,
        state=StreamState.BOOKED.value,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # opened concurrently: use that one
        session.rollback()
        row = session.exec(select(Stream).where(Stream.hearing_id == hearing_id)).one()
    else:
        audit.record(
            session=session,
            actor="orchestrator",
            action="stream.open",
            obj=row,
            after=audit.snapshot(row),
        )
    return view_of(row)


def due_hearings(
    session: Session, *, now: datetime, lead: timedelta, rooms: Iterable[str]
) -> list[tuple[int, str, datetime]]:
    """Scheduled hearings in agent rooms whose recording should have started by now and
    which have not started: every hearing is recorded (三同步), streamed or not."""
    rows = session.exec(
        select(Hearing, Courtroom, Stream)
        .join(Courtroom, col(Courtroom.id) == col(Hearing.courtroom_id))
        .outerjoin(Stream, col(Stream.hearing_id) == col(Hearing.id))
        .where(
            Hearing.status == HearingStatus.SCHEDULED.value,
            col(Hearing.planned_start) <= now + lead,
            col(Hearing.planned_end) > now,
            col(Courtroom.code).in_(list(rooms)),
        )
        .order_by(col(Hearing.planned_start))
    ).all()
    return [
        (h.id, room.code, h.planned_start)
        for h, room, stream in rows
        if h.id is not None and (stream is None or stream.state == StreamState.BOOKED.value)
    ]


def persist_step(
    session: Session,
    *,
    stream_id: int,
    action: StreamAction | str,
    before: StreamState,
    after: StreamState,
    actor: str,
    reason: str | None,
    command: CommandNote | None,
    room: str,
    line_id: int | None = None,
    at: datetime | None = None,
) -> None:
    """Write one step; refuse it if the stream is no longer in `before`. Idempotent by
    command id, so a journal replay after a crash writes each step once."""
    at = at or utcnow()
    if action == StreamAction.DISCIPLINE_ANNOUNCED and line_id is not None:
        planning.lock(session)  # first: what follows is read under it
    if command is not None and session.get(StreamCommand, command.id) is not None:
        return
    row = session.get(Stream, stream_id)
    assert row is not None
    if row.state != before.value:
        raise StaleState(f"stream {stream_id} is {row.state}, not {before.value}")
    if action == StreamAction.DISCIPLINE_ANNOUNCED and line_id is not None:
        _claim(session, row.hearing_id, line_id)
    old = audit.snapshot(row)
    row.state = after.value
    row.state_at = at
    if action == StreamAction.DISCIPLINE_ANNOUNCED and row.discipline_at is None:
        row.discipline_at = at
        row.line_id = line_id
    if after in TERMINAL and row.adjourned_at is None:
        row.adjourned_at = at
    if action == StreamAction.REOPEN:
        row.adjourned_at = None  # the abort is undone; the hearing's stream is open again
    session.add(row)
    session.add(
        StreamTransition(
            stream_id=stream_id,
            at=at,
            actor=actor,
            action=str(action),
            reason=reason,
            from_state=before.value,
            to_state=after.value,
            command_id=command.id if command else None,
        )
    )
    if command is not None:
        _add_command(session, stream_id, room, command)
    audit.record(
        session=session,
        actor=actor,
        action=f"stream.{action}",
        obj=row,
        before=old,
        after={**audit.snapshot(row), "reason": reason, "command_id": command and command.id},
    )


def note_command(
    session: Session, *, stream_id: int, command: CommandNote, room: str, actor: str
) -> None:
    """A command that changes no state (a restart): recorded and audited all the same."""
    row = session.get(Stream, stream_id)
    assert row is not None
    _add_command(session, stream_id, room, command)
    audit.record(
        session=session,
        actor=actor,
        action=f"stream.{command.kind}",
        obj=row,
        after={"command_id": command.id, "room": room},
    )


def command_answered(
    session: Session,
    *,
    command_id: str,
    status: str,
    attempts: int | None = None,
    error: str | None = None,
    message: str | None = None,
) -> None:
    row = session.get(StreamCommand, command_id)
    if row is None or row.status in (CommandStatus.ACKED, CommandStatus.REFUSED):
        return  # an answer we already have, or a command another streamd sent
    row.status = status
    row.answered_at = utcnow()
    row.error = error
    row.message = (message or "")[:512] or None
    if attempts is not None:
        row.attempts = attempts
    session.add(row)


def unanswered(session: Session) -> list[StreamCommand]:
    return list(
        session.exec(select(StreamCommand).where(StreamCommand.status == CommandStatus.SENT)).all()
    )


def flag(session: Session, *, stream_id: int, reason: str | None) -> None:
    row = session.get(Stream, stream_id)
    if row is not None and (row.at_risk, row.risk_reason) != (reason is not None, reason):
        row.at_risk = reason is not None
        row.risk_reason = reason
        session.add(row)


def stream_row(session: Session, *, hearing_id: int) -> Stream | None:
    return session.exec(select(Stream).where(Stream.hearing_id == hearing_id)).first()


def history(session: Session, *, stream_id: int) -> dict[str, Any]:
    """Everything that happened to a stream, oldest first."""
    return {
        "transitions": session.exec(
            select(StreamTransition)
            .where(StreamTransition.stream_id == stream_id)
            .order_by(col(StreamTransition.id))
        ).all(),
        "commands": session.exec(
            select(StreamCommand)
            .where(StreamCommand.stream_id == stream_id)
            .order_by(col(StreamCommand.issued_at))
        ).all(),
        "interruptions": session.exec(
            select(Interruption)
            .where(Interruption.stream_id == stream_id)
            .order_by(col(Interruption.id))
        ).all(),
    }
