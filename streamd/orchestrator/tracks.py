"""A camera or microphone lost mid-hearing: the room's recorder says which track stopped
(`signal_lost`); the other views and the record go on, and the technicians are told which
view to look at. A lost track comes back only with a new recorder run, so the alert clears
when the room's recording starts afresh or stops.
"""

from __future__ import annotations

from streamd.orchestrator.alerts import AlertDesk
from streamd_protocol import Event, EventKind

KIND = "signal_lost"
_NAMES = {"view": ("画面", "camera"), "channel": ("话筒", "microphone")}


def message(room: str, track_kind: str, track: str) -> tuple[str, str]:
    zh, en = _NAMES.get(track_kind, ("信号", "track"))
    return (
        f"法庭 {room} 的{zh} {track} 信号中断，其余画面与录像继续",
        f"{room}: {en} {track} lost its signal; the other views and the recording go on",
    )


def note(alerts: AlertDesk, room: str, event: Event) -> None:
    """Look at one event from a room's agent; raise or clear the lost-signal alert."""
    hid = event.hearing_id
    if hid is None:
        return
    if event.kind is EventKind.SIGNAL_LOST:
        track_kind = str(event.data.get("track_kind", ""))
        zh, en = message(room, track_kind, str(event.data.get("track", "?")))
        alerts.renew(KIND, "warning", room, hid, zh, en)  # a second lost view: named afresh
    elif event.kind in (EventKind.RECORDING_STARTED, EventKind.RECORDING_STOPPED):
        alerts.clear(KIND, room, hid)  # nothing open: nothing to clear
