"""The platform refused a room's push, or could not be reached: the agent says so in the
publisher's exit event (`data.push`); this raises the technicians' alert naming the line
and marks the stream at risk on the console. The recording is another process: nothing
here touches it. The alert clears once the room's telemetry shows its publisher running
and sending frames again (a retry that is refused again starts, but never sends a frame).
"""

from __future__ import annotations

from sqlmodel import Session, select

from streamd.models import Line, Stream
from streamd.orchestrator import records
from streamd.orchestrator.alerts import AlertDesk
from streamd.orchestrator.worker import Worker
from streamd_protocol import Event, EventKind, ProcessState, Telemetry

KINDS = {"refused": "push_refused", "unreachable": "push_unreachable"}


def message(failure: str, line: str) -> tuple[str, str]:
    if failure == "refused":
        return (
            f"线路 {line} 推流被拒绝（平台拒绝了推流密钥，请核对或更新密钥）",
            f"line {line}: the platform refused the key (wrong or rotated stream key)",
        )
    return (
        f"线路 {line} 推流地址无法连接",
        f"line {line}: the push address cannot be reached",
    )


def flag_line(session: Session, *, hearing_id: int, failure: str | None) -> str | None:
    """Mark the hearing's stream at risk for `failure` on its line (None: clear it);
    returns the line's code."""
    stream = session.exec(select(Stream).where(Stream.hearing_id == hearing_id)).first()
    if stream is None or stream.id is None:
        return None
    line = session.get(Line, stream.line_id) if stream.line_id is not None else None
    code = line.code if line is not None else "?"
    reason = " / ".join(message(failure, code)) if failure is not None else None
    records.flag(session=session, stream_id=stream.id, reason=reason)
    return code


def note(alerts: AlertDesk, work: Worker, room: str, event: Event) -> None:
    """Look at one event from a room's agent; raise or clear the push alerts."""
    if event.hearing_id is None or event.data.get("process") != "publisher":
        return
    hid = event.hearing_id
    failure = event.data.get("push")
    if event.kind is EventKind.PROCESS_EXITED and failure in KINDS:
        kind = KINDS[str(failure)]
        if alerts.is_open(kind, room, hid):
            return

        async def raise_it() -> None:
            code = await work.call(flag_line, hearing_id=hid, failure=str(failure))
            zh, en = message(str(failure), code or "?")
            alerts.raise_(kind, "critical", room, hid, zh, en)

        work.spawn(raise_it())


def pushed_again(alerts: AlertDesk, work: Worker, room: str, telemetry: Telemetry) -> None:
    """The publisher runs and sends frames: the push got through; clear what it raised."""
    hid = telemetry.hearing_id
    p = telemetry.publisher
    if hid is None or p.state is not ProcessState.RUNNING or not p.fps:
        return
    open_ = [k for k in KINDS.values() if alerts.is_open(k, room, hid)]
    for kind in open_:
        alerts.clear(kind, room, hid)
    if open_:
        work.write(flag_line, hearing_id=hid, failure=None)
