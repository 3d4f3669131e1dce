"""What the agent must remember across a crash, written before anything is acted on.

`state.json` holds the room's phase, the hearing, where it records and what it publishes,
the acks of recent commands (so a duplicate gets the same answer and is done once) and
the rejection counters. `events.jsonl` is the agent's event log, appended and fsynced
before an event is published; `events.sent` counts how many reached the broker, so a
reconnect publishes exactly the rest.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agents.machine import Decision
from streamd_protocol import (
    Ack,
    AgentPhase,
    Command,
    Compose,
    Event,
    GoLive,
    Mask,
    Pause,
    PublishTarget,
    RestartPublisher,
    write_atomic,
)

KEEP_ACKS = 1000


class State(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phase: AgentPhase = AgentPhase.IDLE
    hearing_id: int | None = None
    session: str | None = None
    target: PublishTarget | None = None
    mask: Mask | None = None
    pause_reason: str | None = None
    pin: str | None = None  # the view the clerk pinned in the large tile
    layout: str | None = None  # the layout chosen live; None: the room file's
    publish_runs: int = 0
    last_command_id: str | None = None
    acks: dict[str, str] = Field(default_factory=dict)
    rejected: dict[str, int] = Field(default_factory=dict)

    def follow(self, cmd: Command, decision: Decision, session: str | None) -> None:
        """Take the room's state after `cmd` as `decision` says, before anything is done:
        a crash from here on resumes it. `session`: the new recording's folder, if one
        starts."""
        self.phase, self.hearing_id = decision.after.phase, decision.after.hearing_id
        self.last_command_id = cmd.id
        if session is not None:
            self.session = session
        if isinstance(cmd, GoLive):
            self.target, self.mask = cmd.target, cmd.mask
        if isinstance(cmd, RestartPublisher) and cmd.target is not None and self.target is not None:
            self.target = cmd.target  # another line: the old one went down
        if isinstance(cmd, Pause):
            self.pause_reason = cmd.reason
        if isinstance(cmd, Compose) and decision.effects:
            self.pin = None if cmd.releases else (cmd.pin or self.pin)
            self.layout = cmd.layout or self.layout
        if decision.after.phase is AgentPhase.IDLE:
            self.session = self.target = self.mask = self.pause_reason = None


class Journal:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # state.json holds the line's push URL while live
        self.folder = folder
        self._state_path = folder / "state.json"
        self._events_path = folder / "events.jsonl"
        self._sent_path = folder / "events.sent"
        self.state = (
            State.model_validate_json(self._state_path.read_bytes())
            if self._state_path.exists()
            else State()
        )
        self.sent = int(self._sent_path.read_text()) if self._sent_path.exists() else 0
        lines = self._complete_lines(self._events_path)
        self.count = len(lines)
        self._pending = [Event.model_validate_json(line) for line in lines[self.sent :]]

    @staticmethod
    def _complete_lines(path: Path) -> list[str]:
        if not path.exists():
            return []
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            # A line cut by a crash mid-write was never published; cut it off so the next
            # event starts on a line of its own.
            data = data[: data.rfind(b"\n") + 1]
            with path.open("r+b") as fh:
                fh.truncate(len(data))
        return [line for line in data.decode("utf-8").split("\n")[:-1] if line]

    def save(self) -> None:
        write_atomic(self._state_path, self.state.model_dump_json(indent=1).encode())

    def remember_ack(self, ack: Ack) -> None:
        if ack.command_id is None:
            return
        self.state.acks[ack.command_id] = ack.model_dump_json(exclude_none=True)
        while len(self.state.acks) > KEEP_ACKS:
            self.state.acks.pop(next(iter(self.state.acks)))

    def count_rejection(self, code: str) -> None:
        self.state.rejected[code] = self.state.rejected.get(code, 0) + 1

    def append_event(self, event: Event) -> None:
        with self._events_path.open("a", encoding="utf-8") as fh:
            fh.write(event.model_dump_json(exclude_none=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.count += 1
        self._pending.append(event)

    def unsent(self) -> list[Event]:
        return list(self._pending)

    def mark_sent(self, count: int) -> None:
        self.sent += count
        del self._pending[:count]
        write_atomic(self._sent_path, str(self.sent).encode())

    def ack_of(self, command_id: str) -> Ack | None:
        raw = self.state.acks.get(command_id)
        return Ack.model_validate_json(raw) if raw else None
