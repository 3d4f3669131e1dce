"""What the console's routes take and answer: bodies, queries and responses, each a
Pydantic model the OpenAPI document is written from."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from streamd.models import Alert
from streamd.orchestrator import (
    CommandOutcome,
)

REASON = Field(min_length=1, max_length=500)


class ComposeIn(BaseModel):
    """Pin a view in the large tile, return to following the voice (语音激励), or change
    the layout (a pin is kept)."""

    model_config = ConfigDict(extra="forbid")
    pin: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,31}$")
    auto: bool = False
    layout: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[\w+-]+$")


class ReasonOptional(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str | None = Field(default=None, max_length=500)


class ReasonRequired(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = REASON


class InterruptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    kind: Literal["recess", "non_public_evidence", "mediation"] = Field(
        description="The only interruptions of the recording the rules allow."
    )
    reason: str | None = Field(default=None, max_length=500)


class TranscriptIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    speaker: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=4000)
    client_key: str | None = Field(
        default=None, min_length=8, max_length=128, description="Sent twice, stored once."
    )


class TranscriptOut(BaseModel):
    hearing_id: int
    seq: int
    created: bool


class OutcomeOut(BaseModel):
    hearing_id: int
    state: str
    noop: bool
    held: bool
    command_id: str | None
    command: str | None
    delivery: str | None = Field(
        description="acked | refused | unacknowledged | pending (held for the next leader)"
    )
    message: str


class PendingOut(BaseModel):
    """A console action held during a failover, not yet carried out."""

    id: int
    action: str
    actor: str
    reason: str | None
    received_by: str
    created_at: datetime


class TransitionOut(BaseModel):
    at: datetime
    actor: str
    action: str
    reason: str | None
    from_state: str
    to_state: str
    command_id: str | None


class CommandOut(BaseModel):
    id: str
    kind: str
    issued_at: datetime
    status: str
    attempts: int
    answered_at: datetime | None
    error: str | None
    message: str | None


class EventOut(BaseModel):
    id: str
    seq: int
    kind: str
    at: datetime
    message: str
    data: dict[str, Any]


class StreamOut(BaseModel):
    hearing_id: int
    room: str
    state: str
    state_at: datetime
    at_risk: bool
    risk_reason: str | None
    discipline_at: datetime | None
    adjourned_at: datetime | None
    agent: dict[str, Any] | None
    transitions: list[TransitionOut]
    commands: list[CommandOut]
    events: list[EventOut] = Field(description="What the room's agent reported, in order.")
    pending: list[PendingOut] = Field(
        default_factory=list, description="Console actions waiting for a leader (failover)."
    )


class AgentOut(BaseModel):
    room: str
    online: bool
    silent: bool
    phase: str | None
    hearing_id: int | None
    state: dict[str, Any] | None
    telemetry: dict[str, Any] | None


class AgentList(BaseModel):
    items: list[AgentOut]


class AlertOut(BaseModel):
    id: int
    kind: str
    severity: str
    room: str | None
    hearing_id: int | None
    message_zh: str
    message_en: str
    raised_at: datetime
    cleared_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None


class AlertList(BaseModel):
    items: list[AlertOut]


class AlertQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    open: bool = True
    limit: int = Field(default=100, ge=1, le=1000)


class FeedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    types: str | None = Field(
        default=None,
        pattern=r"^[a-z_]+(,[a-z_]+)*$",
        description="Comma-separated: stream, agent, alert, alert_cleared, event, telemetry, "
        "plan (a live repair moved or took a line).",
    )


def _outcome(out: CommandOutcome) -> OutcomeOut:
    return OutcomeOut(
        hearing_id=out.hearing_id,
        state=out.state.value,
        noop=out.noop,
        held=out.held,
        command_id=out.command_id,
        command=out.command.value if out.command else None,
        delivery=out.delivery,
        message=out.message,
    )


def _alert_out(row: Alert) -> AlertOut:
    assert row.id is not None
    return AlertOut.model_validate(row, from_attributes=True)
