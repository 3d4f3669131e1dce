"""The orchestrator's database work: one function per unit of work, run in a worker thread.

Every step is written with its transition, its command and an audit entry in one
transaction, and only then sent (streamd.orchestrator.service). A step whose stream moved
on meanwhile (another streamd, a stale cache) fails with `StaleState` instead of
overwriting what happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from streamd import approvals, audit, bookings, planning
from streamd.domain import CommandStatus, HearingStatus, LineStatus
from streamd.lifecycle import PUBLIC, RECORDING, TERMINAL, StreamAction, StreamState
from streamd.models import (
    AgentEvent,
    Alert,
    Courtroom,
    Hearing,
    Interruption,
    Line,
    Stream,
    StreamCommand,
    StreamTransition,
    TranscriptEntry,
    utcnow,
)
from streamd.play import HLS_LINE  # a line whose push_url is "hls" airs its room's HLS
from streamd.policy import Eligibility, Ruleset
from streamd.protocol import Event, PublishTarget


class StaleState(RuntimeError):
    """The stream is no longer in the state the step was decided from."""


class Refused(ValueError):
    """The step must not happen (fail closed); the message says why, for the clerk."""


@dataclass(slots=True)
class StreamView:
    """What the orchestrator keeps in memory of one stream, so a pause needs no query."""

    stream_id: int
    hearing_id: int
    room: str
    state: StreamState
    going_live: bool = False
    hold: str | None = None  # a pause asked for while going live


@dataclass(frozen=True, slots=True)
class CommandNote:
    id: str
    kind: str
    issued_at: datetime
    expires_at: datetime


def view_of(row: Stream) -> StreamView:
    assert row.id is not None
    return StreamView(row.id, row.hearing_id, row.room, StreamState(row.state))


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


def publish_target(
    session: Session, *, hearing_id: int, rules: Ruleset
) -> tuple[PublishTarget, int]:
    """Where a hearing may go live now and on which line, or `Refused`: it must hold a line
    in the current plan and be streamable at this moment (policy and approvals read afresh)."""
    hearing = session.get(Hearing, hearing_id)
    if hearing is None or hearing.status != HearingStatus.SCHEDULED.value:
        raise Refused("the hearing is cancelled / 庭审已取消")
    decision = approvals.decision(session, hearing, rules)
    if decision.outcome is not Eligibility.STREAM:
        raise Refused(f"不得直播：{decision.reason_zh} / not streamable: {decision.reason_en}")
    booking = bookings.active(session, hearing_id)
    if booking is None:
        raise Refused("no stream slot is booked / 未预约直播")
    line = session.get(Line, booking.line_id) if booking.line_id is not None else None
    if booking.line_status != LineStatus.ASSIGNED or line is None or not line.active:
        why = (booking.line_reason or {}).get("zh", "") if booking.line_reason else ""
        raise Refused(f"no line in the current plan / 当前计划未分配直播线路 {why}".strip())
    assert line.id is not None
    _free_for(session, hearing_id, line)
    if line.push_url == HLS_LINE:
        return PublishTarget(kind="hls"), line.id
    url = f"{line.push_url.rstrip('/')}/{line.stream_key}"
    return PublishTarget(kind="rtmp", url=url), line.id


def _free_for(session: Session, hearing_id: int, line: Line) -> None:
    """Refuse unless no other hearing is on air on `line`. The plan never gives an
    occupied line; if it ever did, nothing goes out on it."""
    holder = session.exec(
        select(Stream, Hearing)
        .join(Hearing, col(Hearing.id) == col(Stream.hearing_id))
        .where(
            Stream.line_id == line.id,
            col(Stream.state).in_([state.value for state in PUBLIC]),
            Stream.hearing_id != hearing_id,
        )
    ).first()
    if holder is not None:
        case = holder[1].case_number
        raise Refused(f"线路 {line.code} 正在直播 {case} / line {line.code} is carrying {case}")


def _claim(session: Session, hearing_id: int, line_id: int) -> None:
    """Under the plan lock, as a hearing takes a line on air: the plan must still give it
    that line, and nobody else may be on air on it. Between reading the target and this
    write, another go-live may have been planned ahead of it (two clerks at once)."""
    planning.lock(session)
    booking = bookings.active(session, hearing_id)
    line = session.get(Line, line_id)
    if booking is None or booking.line_id != line_id or booking.line_status != LineStatus.ASSIGNED:
        raise Refused("the line was given to another hearing meanwhile / 线路已改派，请重试")
    assert line is not None
    _free_for(session, hearing_id, line)


def plan_go_live(
    session: Session, *, hearing_id: int, zone: tzinfo, timing: planning.Timing, rules: Ruleset
) -> list[planning.LineChange]:
    """Repair the plan for a hearing going live now, before its line is read: a late
    start or the hearing before it running over may have moved it. Committed on its own,
    so the clerk is told even when the go-live is then refused."""
    planning.lock(session)
    hearing = session.get(Hearing, hearing_id)
    if hearing is None or bookings.active(session, hearing_id) is None:
        return []
    return planning.replan(
        session=session,
        around=hearing.planned_start,
        zone=zone,
        timing=timing,
        rules=rules,
        actor="orchestrator",
        starting=hearing_id,
    )


Signature = tuple[tuple[int, str, int], ...]


def live_repair(
    session: Session,
    *,
    zone: tzinfo,
    timing: planning.Timing,
    rules: Ruleset,
    known: Signature | None,
    now: datetime | None = None,
) -> tuple[Signature, list[planning.LineChange], list[int]]:
    """Repair the plan when what it depends on moved (a hearing came on or off air, an
    overrun reached its next step, a line went down or came back);
    otherwise one small query. Also the hearings on air the plan has moved off their
    line (`planning.moved_on_air`)."""
    now = now or utcnow()
    signature = planning.live_signature(session=session, now=now, timing=timing)
    if signature == known:
        return signature, [], []
    session.rollback()  # end the read, so the plan is read afresh under the lock
    changes = planning.replan(
        session=session,
        around=now,
        zone=zone,
        timing=timing,
        rules=rules,
        actor="orchestrator",
        now=now,
    )
    return signature, changes, planning.moved_on_air(session=session)


def move_line(
    session: Session, *, stream_id: int, line_id: int, command: CommandNote, room: str, actor: str
) -> None:
    """A hearing on air changes line (its old one went down): recorded with the command
    that moves its publisher, before the command is sent."""
    planning.lock(session)
    row = session.get(Stream, stream_id)
    assert row is not None
    _claim(session, row.hearing_id, line_id)
    old = audit.snapshot(row)
    row.line_id = line_id
    session.add(row)
    _add_command(session, stream_id, room, command)
    audit.record(
        session=session,
        actor=actor,
        action="stream.move_line",
        obj=row,
        before=old,
        after={**audit.snapshot(row), "command_id": command.id},
    )


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


def _add_command(session: Session, stream_id: int, room: str, command: CommandNote) -> None:
    session.add(
        StreamCommand(
            id=command.id,
            stream_id=stream_id,
            room=room,
            kind=command.kind,
            issued_at=command.issued_at,
            expires_at=command.expires_at,
            status=CommandStatus.SENT,
        )
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


# ---- alerts ------------------------------------------------------------------------------


def alert_key(kind: str, room: str | None, hearing_id: int | None) -> str:
    return f"{kind}:{room or '-'}:{hearing_id or '-'}"


def raise_alert(
    session: Session,
    *,
    kind: str,
    severity: str,
    room: str | None,
    hearing_id: int | None,
    zh: str,
    en: str,
    at: datetime,
    replace: bool = False,
) -> Alert | None:
    """Open an alert unless the same one is open already; returns the new one. With
    `replace`, an open one is cleared first, in the same transaction: news about the same
    thing (a hearing moved again) is never lost."""
    key = alert_key(kind, room, hearing_id)
    if replace:
        clear_alert(session=session, key=key, at=at)
        session.flush()
    elif session.exec(
        select(Alert).where(Alert.key == key, col(Alert.cleared_at).is_(None))
    ).first():
        return None
    row = Alert(
        key=key,
        kind=kind,
        severity=severity,
        room=room,
        hearing_id=hearing_id,
        message_zh=zh[:512],
        message_en=en[:512],
        raised_at=at,
    )
    session.add(row)
    session.flush()
    return row


def clear_alert(session: Session, *, key: str, at: datetime) -> list[int]:
    rows = session.exec(
        select(Alert).where(Alert.key == key, col(Alert.cleared_at).is_(None))
    ).all()
    for row in rows:
        row.cleared_at = at
        session.add(row)
    return [r.id for r in rows if r.id is not None]


def acknowledge_alert(session: Session, *, alert_id: int, user: str) -> Alert:
    row = session.get(Alert, alert_id)
    if row is None:
        raise LookupError(f"no alert {alert_id}")
    if row.acknowledged_at is None:
        row.acknowledged_at = utcnow()
        row.acknowledged_by = user
        session.add(row)
        audit.record(session=session, actor=user, action="alert.acknowledge", obj=row)
    return row


def list_alerts(session: Session, *, open_only: bool, limit: int) -> list[Alert]:
    stmt = select(Alert)
    if open_only:
        stmt = stmt.where(col(Alert.cleared_at).is_(None))
    return list(session.exec(stmt.order_by(col(Alert.id).desc()).limit(limit)).all())


# ---- agent events ------------------------------------------------------------------------


def store_events(session: Session, *, events: list[Event]) -> None:
    """Keep each event once, whatever the redelivery."""
    ids = [e.id for e in events]
    have = set(session.exec(select(AgentEvent.id).where(col(AgentEvent.id).in_(ids))).all())
    for e in events:
        if e.id in have:
            continue
        have.add(e.id)
        session.add(
            AgentEvent(
                id=e.id,
                room=e.room,
                seq=e.seq,
                kind=e.kind.value,
                at=e.at,
                hearing_id=e.hearing_id,
                message=e.message,
                data=dict(e.data),
            )
        )


def events_of(session: Session, *, hearing_id: int) -> list[AgentEvent]:
    return list(
        session.exec(
            select(AgentEvent)
            .where(AgentEvent.hearing_id == hearing_id)
            .order_by(col(AgentEvent.room), col(AgentEvent.seq))
        ).all()
    )


# ---- transcript and interruptions --------------------------------------------------------


def add_transcript(
    session: Session, *, stream_id: int, speaker: str, text: str, key: str | None, user: str
) -> tuple[TranscriptEntry, bool]:
    """Store a line with the stream's next seq; the same client key stores it once."""
    if key is not None:
        have = session.exec(
            select(TranscriptEntry).where(
                TranscriptEntry.stream_id == stream_id, TranscriptEntry.client_key == key
            )
        ).first()
        if have is not None:
            return have, False
    stream = session.get(Stream, stream_id)
    assert stream is not None
    if StreamState(stream.state) not in RECORDING:
        raise Refused(f"the hearing is not being recorded ({stream.state})")
    row = TranscriptEntry(
        stream_id=stream_id,
        seq=stream.transcript_seq,
        client_key=key,
        speaker=speaker,
        text=text,
        entered_by=user,
    )
    stream.transcript_seq += 1
    session.add(stream)
    session.add(row)
    session.flush()
    return row, True


def mark_forwarded(session: Session, *, entry_ids: list[int]) -> None:
    for row in session.exec(select(TranscriptEntry).where(col(TranscriptEntry.id).in_(entry_ids))):
        row.forwarded = True
        session.add(row)


def unforwarded(session: Session) -> list[tuple[TranscriptEntry, Stream]]:
    rows = session.exec(
        select(TranscriptEntry, Stream)
        .join(Stream, col(Stream.id) == col(TranscriptEntry.stream_id))
        .where(
            TranscriptEntry.forwarded == False,  # noqa: E712
            col(Stream.state).not_in([s.value for s in TERMINAL]),
        )
        .order_by(col(TranscriptEntry.stream_id), col(TranscriptEntry.seq))
    ).all()
    return [(t, s) for t, s in rows]


INTERRUPTIONS = {
    "recess": ("休庭", "recess"),
    "non_public_evidence": ("不公开质证", "non-public evidence"),
    "mediation": ("调解", "mediation"),
}


def _open_interruption(session: Session, stream_id: int) -> Interruption | None:
    return session.exec(
        select(Interruption).where(
            Interruption.stream_id == stream_id, col(Interruption.ended_at).is_(None)
        )
    ).first()


def start_interruption(
    session: Session, *, stream_id: int, kind: str, reason: str | None, user: str
) -> tuple[Interruption, bool]:
    open_ = _open_interruption(session, stream_id)
    if open_ is not None:
        if open_.kind == kind:
            return open_, False  # a double click
        raise Refused(f"an interruption ({open_.kind}) is already open; end it first")
    stream = session.get(Stream, stream_id)
    assert stream is not None
    if StreamState(stream.state) not in RECORDING:
        raise Refused(f"the hearing is not in session ({stream.state})")
    row = Interruption(stream_id=stream_id, kind=kind, reason=reason, started_by=user)
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=user,
        action="interruption.start",
        obj=row,
        after=audit.snapshot(row),
    )
    return row, True


def end_interruption(session: Session, *, stream_id: int, user: str) -> Interruption | None:
    row = _open_interruption(session, stream_id)
    if row is None:
        return None
    before = audit.snapshot(row)
    row.ended_at = utcnow()
    row.ended_by = user
    session.add(row)
    audit.record(
        session=session,
        actor=user,
        action="interruption.end",
        obj=row,
        before=before,
        after=audit.snapshot(row),
    )
    return row


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
