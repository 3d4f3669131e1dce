"""The commands streamd sends to a room, and what every versioned payload shares; what the
agents report back is in `reports`.

Commands are signed (HMAC-SHA256 with the room's secret) when the room has a secret: the
broker's ACL already stops other clients publishing to a room, and the signature makes a
go_live that did not come from streamd worthless even if the ACL is misconfigured. A
go_live carries the line's push URL, so a forged one would be a leak, not a nuisance.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from streamd_protocol.describe import locate

VERSION: Literal[1] = 1
_ID = r"^[A-Za-z0-9_.:\-]{1,64}$"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = VERSION

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class CommandKind(StrEnum):
    PREPARE = "prepare"
    GO_LIVE = "go_live"
    PAUSE = "pause"
    RESUME = "resume"
    END_STREAM = "end_stream"
    STOP = "stop"
    SHUTDOWN = "shutdown"
    RESTART_PUBLISHER = "restart_publisher"
    COMPOSE = "compose"


class ErrorCode(StrEnum):
    MALFORMED = "malformed"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNAUTHORISED = "unauthorised"
    EXPIRED = "expired"
    WRONG_STATE = "wrong_state"
    FAILED = "failed"


class _CommandBase(_Payload):
    id: str = Field(pattern=_ID, description="Unique per command; a duplicate is done once.")
    room: str = Field(min_length=1, max_length=64)
    hearing_id: int = Field(ge=1)
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    sig: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _expiry_after_issue(self) -> _CommandBase:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        return self

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class Prepare(_CommandBase):
    """Start recording and warm up; nothing public yet. The optional facts feed the room's
    self-test (庭前设备自检): how long the hearing is planned to run (disk for twice that)
    and where it will push (the handshake check). Both are optional: a prepare without them
    reads as before, and what the agent cannot check it reports as unknown. Upgrade agents
    before streamd: an older agent refuses a prepare that carries them (no extra fields)."""

    kind: Literal[CommandKind.PREPARE] = CommandKind.PREPARE
    planned_seconds: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    target: PublishTarget | None = None


class Region(_Payload):
    """A rectangle in fractions of the picture, so it survives a change of resolution."""

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    w: float = Field(gt=0, le=1)
    h: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _inside(self) -> Region:
        if self.x + self.w > 1 + 1e-9 or self.y + self.h > 1 + 1e-9:
            raise ValueError("region must lie inside the picture")
        return self


class Mask(_Payload):
    """What to hide from the public stream only; the recording is never masked."""

    regions: list[Region] = Field(default_factory=list, max_length=16)
    voice: bool = False


class PublishTarget(_Payload):
    kind: Literal["rtmp", "hls"]
    url: str | None = Field(default=None, pattern=r"^rtmps?://", max_length=1024)

    @model_validator(mode="after")
    def _url_for_rtmp(self) -> PublishTarget:
        if self.kind == "rtmp" and not self.url:
            raise ValueError("an rtmp target needs url")
        if self.kind == "hls" and self.url:
            raise ValueError("an hls target is the agent's own folder; it takes no url")
        return self


class GoLive(_CommandBase):
    kind: Literal[CommandKind.GO_LIVE] = CommandKind.GO_LIVE
    target: PublishTarget
    mask: Mask = Field(default_factory=Mask)


class Pause(_CommandBase):
    kind: Literal[CommandKind.PAUSE] = CommandKind.PAUSE
    reason: str = Field(min_length=1, max_length=500)


class Resume(_CommandBase):
    kind: Literal[CommandKind.RESUME] = CommandKind.RESUME


class EndStream(_CommandBase):
    """End the public stream for good (an incident); the recording runs on until stop."""

    kind: Literal[CommandKind.END_STREAM] = CommandKind.END_STREAM


class Stop(_CommandBase):
    """End the stream and close the recording: the hearing is adjourned or aborted."""

    kind: Literal[CommandKind.STOP] = CommandKind.STOP


class Shutdown(_CommandBase):
    """Stop everything gracefully and exit the agent process."""

    kind: Literal[CommandKind.SHUTDOWN] = CommandKind.SHUTDOWN
    hearing_id: int | None = Field(default=None, ge=1)  # type: ignore[assignment]


class RestartPublisher(_CommandBase):
    """A technician restarts the public encoder (a stalled or degraded picture). It comes
    back in the mode it was in, courtroom or slate; the recording is not touched. With
    `target`, it comes back on that line instead: the plan moved the hearing off a line
    that went down."""

    kind: Literal[CommandKind.RESTART_PUBLISHER] = CommandKind.RESTART_PUBLISHER
    target: PublishTarget | None = None


class Compose(_CommandBase):
    """The clerk pins a view in the large tile (`pin`), returns to following the voice
    (`auto`, or nothing else given), or changes the layout (the pin kept), in a room with
    several cameras. Done inside the running encoders: the recording is not cut, the line
    not restarted."""

    kind: Literal[CommandKind.COMPOSE] = CommandKind.COMPOSE
    pin: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,31}$")
    auto: bool = False
    layout: str | None = Field(default=None, min_length=1, max_length=32)

    @model_validator(mode="after")
    def _one_thing(self) -> Compose:
        if self.pin is not None and self.auto:
            raise ValueError("pin and auto: pin a view or return to automatic, not both")
        return self

    @property
    def releases(self) -> bool:
        """Back to following the voice: asked for, or nothing else asked."""
        return self.auto or (self.pin is None and self.layout is None)


Command = Annotated[
    Prepare | GoLive | Pause | Resume | EndStream | Stop | Shutdown | RestartPublisher | Compose,
    Field(discriminator="kind"),
]
_COMMAND: TypeAdapter[Command] = TypeAdapter(Command)


_KINDS = {k.value for k in CommandKind}


class ProtocolError(ValueError):
    """A payload that must be refused; `command_id` is set when it could be read."""

    def __init__(self, code: ErrorCode, message: str, command_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.command_id = command_id


def _canonical(data: dict[str, Any]) -> bytes:
    body = {k: v for k, v in data.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(data: dict[str, Any], secret: str) -> str:
    """The signature of a command as JSON data (its `sig` field, if any, left out)."""
    return hmac.new(secret.encode(), _canonical(data), hashlib.sha256).hexdigest()


def _json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(ErrorCode.MALFORMED, f"{what} is not JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError(ErrorCode.MALFORMED, f"{what} nests too deeply") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.MALFORMED, f"{what} must be a JSON object")
    return data


def _first_error(exc: ValidationError, data: Any) -> str:
    err = exc.errors()[0]
    # The union's tag is the first location element; it says nothing to a reader.
    loc = list(err["loc"])
    if loc and loc[0] in _KINDS:
        loc = loc[1:]
    where = locate(data, loc) or "(payload)"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{where}: {err['msg']}{more}"


def parse_command(raw: bytes | str, *, now: datetime, secret: str | None) -> Command:
    """Validate a command as the agent receives it: JSON, version, signature, schema, expiry.

    The signature is checked before the schema, so an unsigned payload learns nothing
    about what a valid command looks like.
    """
    data = _json_object(raw, "command")
    cid = data.get("id") if isinstance(data.get("id"), str) else None
    if data.get("v") != VERSION:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION, f"v: expected {VERSION}, got {data.get('v')!r}", cid
        )
    if secret is not None:
        given = data.get("sig")
        # As bytes: compare_digest refuses a str with non-ASCII characters (TypeError).
        expected = sign(data, secret).encode()
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected):
            raise ProtocolError(ErrorCode.UNAUTHORISED, "sig: missing or wrong signature", cid)
    try:
        cmd = _COMMAND.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(ErrorCode.MALFORMED, _first_error(exc, data), cid) from None
    if cmd.expired(now):
        raise ProtocolError(ErrorCode.EXPIRED, f"expired at {cmd.expires_at.isoformat()}", cmd.id)
    return cmd


def signed(cmd: Command, secret: str | None) -> bytes:
    """The bytes streamd publishes for `cmd`, signed when the room has a secret."""
    data = json.loads(cmd.model_dump_json(exclude_none=True))
    if secret is not None:
        data["sig"] = sign(data, secret)
    return json.dumps(data, ensure_ascii=False).encode()
