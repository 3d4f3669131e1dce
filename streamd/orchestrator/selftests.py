"""streamd's side of the pre-hearing self-test (庭前设备自检): what a prepare tells the
room to check against, and the alerts a room's report raises or clears.

A failed check is a warning the technicians see minutes before the hearing, while there is
still time to fix a camera or free a disk; the recording is never held back for it.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from streamd import bookings
from streamd.domain import LineStatus
from streamd.models import Hearing, Line
from streamd.orchestrator.alerts import AlertDesk
from streamd.play import HLS_LINE
from streamd_protocol import CheckName, PublishTarget, SelfTest

LABELS = {
    CheckName.VIDEO: ("画面", "picture"),
    CheckName.AUDIO: ("话筒", "microphone"),
    CheckName.CLOCK: ("时钟", "clock"),
    CheckName.DISK: ("磁盘空间", "disk space"),
    CheckName.PUSH: ("推流地址", "push address"),
}
SEVERITY = {CheckName.DISK: "critical"}  # a full disk loses the record itself


def prepare_facts(session: Session, *, hearing_id: int) -> dict[str, Any]:
    """The optional fields of the prepare command: the planned length and the line's push
    target (a line is known only when the booking holds one)."""
    hearing = session.get(Hearing, hearing_id)
    if hearing is None:
        return {}
    facts: dict[str, Any] = {
        "planned_seconds": max(
            0, int((hearing.planned_end - hearing.planned_start).total_seconds())
        )
    }
    booking = bookings.active(session, hearing_id)
    line = session.get(Line, booking.line_id) if booking and booking.line_id else None
    if line is not None and booking is not None and booking.line_status == LineStatus.ASSIGNED:
        if line.push_url == HLS_LINE:
            facts["target"] = PublishTarget(kind="hls")
        else:
            url = f"{line.push_url.rstrip('/')}/{line.stream_key}"
            facts["target"] = PublishTarget(kind="rtmp", url=url)
    return facts


def note(alerts: AlertDesk, room: str, report: SelfTest) -> None:
    """One alert per failed check, cleared by the next report that passes it."""
    failed = {c.name: c for c in report.failed}
    for name, (zh, en) in LABELS.items():
        kind = f"selftest_{name.value}"
        check = failed.get(name)
        if check is None:
            alerts.clear(kind, room, report.hearing_id)
            continue
        alerts.raise_(
            kind,
            SEVERITY.get(name, "warning"),
            room,
            report.hearing_id,
            f"庭前设备自检未通过（{room}，{zh}）：{check.detail_zh}",
            f"pre-hearing self-test failed ({room}, {en}): {check.detail_en}",
        )
