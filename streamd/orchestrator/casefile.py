"""What goes into the case file after a hearing: the interruption log, the pauses, and,
where anything failed, a failure explanation pre-filled for the presiding judge to sign.

The rules allow the recording to be interrupted only for a recess, non-public evidence or
mediation; everything else that broke the stream or the recording must be explained.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from streamd.domain import CommandStatus
from streamd.models import AgentEvent, Alert, Courtroom, Hearing
from streamd.orchestrator import records

FAILED_EVENTS = {
    "gap": ("录音录像中断", "recording gap"),
    "signal_lost": ("信号中断", "signal lost"),
    "process_exited": ("编码进程意外退出", "encoder process exited"),
    "process_stalled": ("编码进程停滞", "encoder process stalled"),
}


class InterruptionOut(BaseModel):
    kind: str
    label_zh: str
    label_en: str
    reason: str | None
    started_at: datetime
    started_by: str
    ended_at: datetime | None
    ended_by: str | None


class PauseOut(BaseModel):
    at: datetime
    by: str
    reason: str | None
    resumed_at: datetime | None


class FailureOut(BaseModel):
    at: datetime
    source: str  # command | alert | recording
    zh: str
    en: str


class Explanation(BaseModel):
    title_zh: str
    text_zh: str
    text_en: str
    to_sign: str


class CaseFileRecord(BaseModel):
    hearing_id: int
    case_number: str
    courtroom: str
    state: str
    discipline_at: datetime | None
    adjourned_at: datetime | None
    interruptions: list[InterruptionOut]
    pauses: list[PauseOut]
    failures: list[FailureOut]
    explanation: Explanation | None


def case_file(session: Session, *, hearing_id: int, zone: tzinfo) -> CaseFileRecord:
    hearing = session.get(Hearing, hearing_id)
    if hearing is None:
        raise LookupError(f"no hearing {hearing_id}")
    stream = records.stream_row(session=session, hearing_id=hearing_id)
    if stream is None or stream.id is None:
        raise LookupError(f"hearing {hearing_id} has no stream yet")
    room = session.get(Courtroom, stream.courtroom_id)
    done = records.history(session=session, stream_id=stream.id)
    interruptions = [
        InterruptionOut(
            kind=i.kind,
            label_zh=records.INTERRUPTIONS.get(i.kind, (i.kind, i.kind))[0],
            label_en=records.INTERRUPTIONS.get(i.kind, (i.kind, i.kind))[1],
            reason=i.reason,
            started_at=i.started_at,
            started_by=i.started_by,
            ended_at=i.ended_at,
            ended_by=i.ended_by,
        )
        for i in done["interruptions"]
    ]
    pauses = _pauses(done["transitions"])
    failures: list[FailureOut] = []
    for cmd in done["commands"]:
        if cmd.status in (CommandStatus.UNACKNOWLEDGED, CommandStatus.REFUSED):
            failures.append(
                FailureOut(
                    at=cmd.issued_at,
                    source="command",
                    zh=f"指令 {cmd.kind} 未被执行（{cmd.status}）{cmd.message or ''}".strip(),
                    en=f"command {cmd.kind} {cmd.status}: {cmd.message or ''}".strip(": "),
                )
            )
    start = stream.created_at
    end = stream.adjourned_at
    alerts = session.exec(
        select(Alert).where(
            (col(Alert.hearing_id) == hearing_id)
            | ((col(Alert.room) == stream.room) & (col(Alert.raised_at) >= start))
        )
    ).all()
    for alert in alerts:
        if end is not None and alert.raised_at > end:
            continue
        failures.append(
            FailureOut(at=alert.raised_at, source="alert", zh=alert.message_zh, en=alert.message_en)
        )
    events = session.exec(
        select(AgentEvent)
        .where(
            AgentEvent.hearing_id == hearing_id,
            col(AgentEvent.kind).in_(list(FAILED_EVENTS)),
        )
        .order_by(col(AgentEvent.at))
    ).all()
    for event in events:
        zh, en = FAILED_EVENTS[event.kind]
        failures.append(
            FailureOut(
                at=event.at,
                source="recording",
                zh=f"{zh}：{event.message}",
                en=f"{en}: {event.message}",
            )
        )
    failures.sort(key=lambda f: f.at)
    return CaseFileRecord(
        hearing_id=hearing_id,
        case_number=hearing.case_number,
        courtroom=room.name if room else stream.room,
        state=stream.state,
        discipline_at=stream.discipline_at,
        adjourned_at=stream.adjourned_at,
        interruptions=interruptions,
        pauses=pauses,
        failures=failures,
        explanation=_explain(hearing, room.name if room else stream.room, failures, zone)
        if failures
        else None,
    )


def _pauses(transitions: Any) -> list[PauseOut]:
    out: list[PauseOut] = []
    for t in transitions:
        if t.to_state == "paused" and t.from_state != "paused":
            out.append(PauseOut(at=t.at, by=t.actor, reason=t.reason, resumed_at=None))
        elif t.from_state == "paused" and t.to_state != "paused" and out:
            out[-1].resumed_at = t.at
    return out


def _explain(hearing: Hearing, room: str, failures: list[FailureOut], zone: tzinfo) -> Explanation:
    def local(at: datetime) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")

    zh_items = "\n".join(f"{n}. {local(f.at)} {f.zh}" for n, f in enumerate(failures, 1))
    en_items = "\n".join(f"{n}. {local(f.at)} {f.en}" for n, f in enumerate(failures, 1))
    return Explanation(
        title_zh="庭审直播及录音录像故障情况说明",
        text_zh=(
            f"{hearing.case_number}（{hearing.cause}）于 {local(hearing.planned_start)} 在{room}"
            f"开庭。庭审过程中出现下列技术故障：\n{zh_items}\n"
            "上述情况系设备或网络故障所致，非人为中断。特此说明。"
        ),
        text_en=(
            f"{hearing.case_number} ({hearing.cause}), heard from "
            f"{local(hearing.planned_start)} in {room}. The following technical failures "
            f"occurred:\n{en_items}\nThey were caused by equipment or network faults, not by "
            "a deliberate interruption."
        ),
        to_sign=f"审判长（签名）：__________    日期：__________    书记员：{hearing.clerk}",
    )
