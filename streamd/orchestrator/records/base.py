"""What every unit of work here shares: the refusals, the stream's cached view, the
note of a command written with the step that sends it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from streamd.domain import CommandStatus
from streamd.lifecycle import StreamState
from streamd.models import (
    Stream,
    StreamCommand,
)


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
