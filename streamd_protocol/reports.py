"""What the agents report, validated the same way on both sides: the acks of commands,
the room's retained state, its event log, the pre-hearing self-test, telemetry, and the
transcript lines the clerk's console sends to the room.

Apart from the commands (`messages`) because these flow the other way: an agent writes
them and streamd, the monitor and the technicians' wall read them.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field, TypeAdapter, ValidationError

from streamd_protocol.messages import (
    _ID,
    CommandKind,
    ErrorCode,
    ProtocolError,
    _first_error,
    _json_object,
    _Payload,
)


class AgentPhase(StrEnum):
    OFFLINE = "offline"  # written by the broker from the agent's last will
    IDLE = "idle"
    READY = "ready"  # recording, nothing public
    LIVE = "live"
    PAUSED = "paused"  # recording, slate public


class ProcessState(StrEnum):
    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPING = "stopping"


class ProcessStats(_Payload):
    state: ProcessState = ProcessState.IDLE
    fps: float | None = None
    bitrate_kbps: float | None = None
    speed: float | None = None
    frames: int | None = None
    restarts: int = 0


class Ack(_Payload):
    command_id: str | None = None
    kind: CommandKind | None = None
    hearing_id: int | None = None
    ok: bool
    duplicate: bool = False
    error: ErrorCode | None = None
    message: str = ""
    phase: AgentPhase
    at: AwareDatetime


class AgentState(_Payload):
    """Retained on the room's state topic: what a restarted streamd reads first."""

    room: str
    phase: AgentPhase
    at: AwareDatetime
    hearing_id: int | None = None
    session: str | None = None
    recorder: ProcessState = ProcessState.IDLE
    publisher: ProcessState = ProcessState.IDLE
    last_command_id: str | None = None
    rejected: dict[str, int] = Field(default_factory=dict)
    agent_version: str | None = None


class EventKind(StrEnum):
    AGENT_STARTED = "agent_started"
    RECORDING_STARTED = "recording_started"
    RECORDING_STOPPED = "recording_stopped"
    SEGMENT_CLOSED = "segment_closed"
    GAP = "gap"
    PROCESS_EXITED = "process_exited"
    PROCESS_STALLED = "process_stalled"
    LIVE = "live"
    SLATE_SHOWN = "slate_shown"
    PUBLISH_STOPPED = "publish_stopped"
    COMMAND_REJECTED = "command_rejected"
    TRANSCRIPT_REJECTED = "transcript_rejected"
    RECOVERED = "recovered"
    VIEW_SWITCHED = "view_switched"  # the large tile changed: speaker, pin or layout
    SIGNAL_LOST = "signal_lost"  # one camera's or microphone's track stopped; others go on


Scalar = str | int | float | bool | None


class Event(_Payload):
    id: str = Field(pattern=_ID)
    seq: int = Field(ge=0, description="Per-agent order; survives restarts.")
    room: str
    kind: EventKind
    at: AwareDatetime
    hearing_id: int | None = None
    message: str = ""
    data: dict[str, Scalar] = Field(default_factory=dict)


class CheckName(StrEnum):
    VIDEO = "video"  # frames neither black nor frozen
    AUDIO = "audio"  # the microphone has signal
    CLOCK = "clock"  # offset from the court's time source (the time overlay must be true)
    DISK = "disk"  # free space for twice the planned length at the room's bitrate
    PUSH = "push"  # the line's push address accepts a handshake


class SelfCheck(_Payload):
    name: CheckName
    source: str = Field(default="", max_length=64, description="Which camera/microphone.")
    ok: bool | None = Field(default=None, description="None: could not be checked here (say why).")
    value: float | None = None
    detail_zh: str = Field(default="", max_length=300)
    detail_en: str = Field(default="", max_length=300)


class SelfTest(_Payload):
    """The room's pre-hearing self-test (庭前设备自检), retained on its `selftest` leaf.
    A failed check alerts; it never stops the recording."""

    room: str
    hearing_id: int | None = None
    at: AwareDatetime
    checks: list[SelfCheck] = Field(max_length=64)

    @property
    def failed(self) -> list[SelfCheck]:
        return [c for c in self.checks if c.ok is False]


class Composition(_Payload):
    """A multi-view room's picture as its agent composes it, for the console and the wall:
    the layout, which view is large and why (pinned, or following the voice), and the
    views whose signal is lost."""

    layout: str
    layouts: list[str] = Field(default_factory=list)
    views: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)  # view -> its seat, e.g. 审判席
    pinned: str | None = None
    big: str | None = None
    lost: list[str] = Field(default_factory=list)


class Telemetry(_Payload):
    room: str
    at: AwareDatetime
    phase: AgentPhase
    hearing_id: int | None = None
    recorder: ProcessStats = Field(default_factory=ProcessStats)
    publisher: ProcessStats = Field(default_factory=ProcessStats)
    disk_free_bytes: int | None = None
    segments: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)
    composition: Composition | None = None  # multi-view rooms only


class TranscriptLine(_Payload):
    hearing_id: int = Field(ge=1)
    seq: int = Field(ge=0, description="Per hearing; a repeated seq is stored once.")
    speaker: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=4000)


_TRANSCRIPT: TypeAdapter[TranscriptLine] = TypeAdapter(TranscriptLine)


def parse_transcript(raw: bytes | str) -> TranscriptLine:
    data = _json_object(raw, "transcript line")
    try:
        return _TRANSCRIPT.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(ErrorCode.MALFORMED, _first_error(exc, data)) from None
