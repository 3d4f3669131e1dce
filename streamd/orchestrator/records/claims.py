"""Which line a hearing may go live on, and the claim on it, taken under the plan lock
so two hearings never hold one line."""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlmodel import Session, col, select

from streamd import approvals, audit, bookings, planning
from streamd.domain import HearingStatus, LineStatus
from streamd.lifecycle import PUBLIC
from streamd.models import (
    Hearing,
    Line,
    Stream,
    utcnow,
)
from streamd.orchestrator.records.base import (
    CommandNote,
    Refused,
    _add_command,
)
from streamd.play import HLS_LINE  # a line whose push_url is "hls" airs its room's HLS
from streamd.policy import Eligibility, Ruleset
from streamd_protocol import PublishTarget


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
