"""A lifecycle step as the fast journal holds it, and a command as the database notes it.

A pause is written to the journal (one fsynced line) before it is sent, then copied into
the database behind it; on start the journal's uncopied steps are copied first. Both ends
of that copy read and write the same dictionary here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, overload

from streamd.lifecycle import StreamAction, StreamState
from streamd.orchestrator.records import CommandNote, StreamView
from streamd_protocol import Command


@overload
def note(cmd: Command) -> CommandNote: ...
@overload
def note(cmd: None) -> None: ...
def note(cmd: Command | None) -> CommandNote | None:
    if cmd is None:
        return None
    return CommandNote(cmd.id, cmd.kind.value, cmd.issued_at, cmd.expires_at)


def entry(
    view: StreamView,
    cmd: Command,
    *,
    action: StreamAction,
    after: StreamState,
    actor: str,
    reason: str | None,
) -> dict[str, Any]:
    """The journal's line for a step taken now, its command sent right after."""
    noted = note(cmd)
    return {
        "stream_id": view.stream_id,
        "action": action.value,
        "before": view.state.value,
        "after": after.value,
        "actor": actor,
        "reason": reason,
        "room": view.room,
        "at": cmd.issued_at.isoformat(),
        "command": {
            "id": noted.id,
            "kind": noted.kind,
            "issued_at": noted.issued_at.isoformat(),
            "expires_at": noted.expires_at.isoformat(),
        },
    }


def from_entry(data: dict[str, Any]) -> dict[str, Any]:
    """The journal's line as the keywords of `records.persist_step`."""
    command = data.get("command")
    return {
        "stream_id": data["stream_id"],
        "action": StreamAction(data["action"]),
        "before": StreamState(data["before"]),
        "after": StreamState(data["after"]),
        "actor": data["actor"],
        "reason": data.get("reason"),
        "room": data["room"],
        "at": datetime.fromisoformat(data["at"]),
        "command": CommandNote(
            command["id"],
            command["kind"],
            datetime.fromisoformat(command["issued_at"]),
            datetime.fromisoformat(command["expires_at"]),
        )
        if command
        else None,
    }
