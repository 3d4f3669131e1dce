"""What the clerk is told about one command, and the refusal of a view the room lacks."""

from __future__ import annotations

from dataclasses import dataclass

from streamd.lifecycle import StreamState
from streamd.orchestrator.records import Refused
from streamd_protocol import CommandKind


class UnknownView(Refused):
    """A compose command naming a view or layout the room does not have."""


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """What the clerk is told: the state now, and what became of the command."""

    hearing_id: int
    state: StreamState
    noop: bool = False
    held: bool = False  # a pause that waits for a go_live in flight
    command_id: str | None = None
    command: CommandKind | None = None
    delivery: str | None = None  # acked | refused | unacknowledged
    message: str = ""
