"""A courtroom agent's configuration: the room's TOML file, `[room]` plus `[agent]`.

The court's code and name come from `court.toml` beside the room file, so a room file
holds only what differs between rooms: the camera, the broker login, the folders.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agents.views import ChannelSpec, CompositionSpec, ViewSpec, check_room
from streamd_protocol import COURT_FILE, CourtSpec, RoomSpec, describe_validation_error


class AgentConfigError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerSpec(_Strict):
    url: str = Field(
        default="mqtt://127.0.0.1:1883",
        pattern=r"^mqtts?://[^/\s]+$",
        description="Or STREAMD_AGENT_MQTT_URL.",
    )
    username: str | None = None
    password: str | None = Field(default=None, description="Or STREAMD_AGENT_MQTT_PASSWORD.")
    ca_file: str | None = None
    keepalive: int = Field(default=5, ge=2, le=300)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return self.url.startswith("mqtts://")


class SourceSpec(_Strict):
    """Where the courtroom's picture and sound come from.

    `lavfi` is ffmpeg's test picture and tone (demo, tests); `url` an RTSP/RTMP camera or
    encoder; `file` a recorded file played in a loop at real speed; `device` a capture
    device (`input_format` v4l2, alsa, ...). `codecs = "h264_aac"` says the source can be
    copied; it is copied only if the camera also draws the time (`draws_time`), since the
    court's rules require the time on the recorded picture.
    """

    kind: Literal["lavfi", "url", "file", "device"] = "lavfi"
    url: str | None = None
    input_format: str | None = None
    codecs: Literal["h264_aac", "other"] = "other"
    draws_time: bool = False
    video_size: str = Field(default="1280x720", pattern=r"^\d{2,4}x\d{2,4}$")
    fps: int = Field(default=25, ge=1, le=60)
    video_bitrate: str = Field(default="2500k", pattern=r"^\d+[kM]?$")
    audio_bitrate: str = Field(default="128k", pattern=r"^\d+[kM]?$")

    @model_validator(mode="after")
    def _url_when_needed(self) -> SourceSpec:
        if self.kind != "lavfi" and not self.url:
            raise ValueError(f"a {self.kind} source needs url")
        if self.kind == "device" and not self.input_format:
            raise ValueError("a device source needs input_format (v4l2, alsa, ...)")
        return self

    @property
    def copyable(self) -> bool:
        return self.codecs == "h264_aac" and self.draws_time

    @property
    def size(self) -> tuple[int, int]:
        w, h = self.video_size.split("x")
        return int(w), int(h)


class ArchiveSpec(_Strict):
    """Shipping closed recording files to streamd's archive (agents/shipper.py)."""

    url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        description="streamd's base URL; or STREAMD_AGENT_ARCHIVE_URL. Unset: keep, not ship.",
    )
    keep_days: int | None = Field(
        default=None,
        ge=1,
        le=36500,
        description="Remove a session from this PC this long after the archive confirmed "
        "every file of it; unset (the default) keeps everything here too.",
    )
    poll_seconds: float = Field(default=0.5, gt=0, le=60)
    retry_cap_seconds: float = Field(default=2.0, gt=0, le=300)
    timeout_seconds: float = Field(default=30.0, gt=0, le=3600)


class AgentSpec(_Strict):
    court: str | None = Field(default=None, description="Topic level; default court.toml.")
    court_name: str | None = Field(default=None, description="On the slate.")
    data_dir: str | None = Field(default=None, description="Default var/agents/<room>.")
    hls_dir: str | None = Field(default=None, description="Embedded HLS output folder.")
    segment_seconds: int = Field(default=10, ge=1, le=600)
    hls_segment_seconds: int = Field(default=1, ge=1, le=10)
    hls_list_size: int = Field(default=60, ge=3, le=100000)
    telemetry_seconds: float = Field(default=1.0, gt=0, le=60)
    stall_seconds: float = Field(default=3.0, gt=0, le=60)
    stop_timeout: float = Field(default=5.0, gt=0, le=60)
    command_secret: str | None = Field(default=None, description="Or STREAMD_AGENT_SECRET.")
    time_server: str | None = Field(
        default=None,
        max_length=255,
        pattern=r"^[A-Za-z0-9.\-]+(:\d{1,5})?$",
        description="The court's NTP server (host[:port]) for the self-test's clock check, "
        "when chrony does not run here.",
    )
    clock_tolerance_seconds: float = Field(default=1.0, gt=0, le=60)
    broker: BrokerSpec = Field(default_factory=BrokerSpec)
    source: SourceSpec = Field(default_factory=SourceSpec)
    archive: ArchiveSpec = Field(default_factory=ArchiveSpec)
    # A courtroom host (agents/views.py); no views: the single `source` above.
    views: list[ViewSpec] = Field(default_factory=list, max_length=9)
    channels: list[ChannelSpec] = Field(default_factory=list, max_length=16)
    composition: CompositionSpec = Field(default_factory=CompositionSpec)

    @property
    def multiview(self) -> bool:
        return bool(self.views)

    @property
    def picture(self) -> SourceSpec:
        """The picture the agent sends and records: the source's, or the composition's."""
        if not self.views:
            return self.source
        comp = self.composition
        return SourceSpec(
            video_size=comp.size,
            fps=comp.fps,
            video_bitrate=comp.video_bitrate,
            audio_bitrate=comp.audio_bitrate,
        )


class AgentConfig(_Strict):
    room: RoomSpec
    court: str
    court_name: str
    data_dir: Path
    hls_dir: Path
    secret: str | None
    password: str | None
    agent: AgentSpec


def load(path: Path, *, environ: dict[str, str] | None = None) -> AgentConfig:
    """Read and validate one room file; every error names the file and the field."""
    env = os.environ if environ is None else environ
    data = _toml(path)
    court_path = path.parent / COURT_FILE
    court = CourtSpec.model_validate(_toml(court_path)["court"]) if court_path.exists() else None
    try:
        room = RoomSpec.model_validate(data.get("room"))
    except ValidationError as exc:
        raise AgentConfigError(f"{path}: [room] {describe_validation_error(exc)}") from None
    try:
        spec = AgentSpec.model_validate(data.get("agent", {}))
    except ValidationError as exc:
        raise AgentConfigError(f"{path}: [agent] {describe_validation_error(exc)}") from None
    problems = check_room(spec.views, spec.channels, spec.composition)
    if problems:
        raise AgentConfigError(f"{path}: [agent] " + "; ".join(problems))
    broker_url = env.get("STREAMD_AGENT_MQTT_URL")
    if broker_url:  # a container gets the broker's address from its environment
        try:
            broker = BrokerSpec.model_validate({**spec.broker.model_dump(), "url": broker_url})
        except ValidationError as exc:
            raise AgentConfigError(
                f"STREAMD_AGENT_MQTT_URL: {describe_validation_error(exc)}"
            ) from None
        spec = spec.model_copy(update={"broker": broker})
    archive_url = env.get("STREAMD_AGENT_ARCHIVE_URL")
    if archive_url:
        try:
            archive = ArchiveSpec.model_validate({**spec.archive.model_dump(), "url": archive_url})
        except ValidationError as exc:
            raise AgentConfigError(
                f"STREAMD_AGENT_ARCHIVE_URL: {describe_validation_error(exc)}"
            ) from None
        spec = spec.model_copy(update={"archive": archive})
    court_code = spec.court or (court.code if court else None)
    if court_code is None:
        raise AgentConfigError(f"{path}: [agent] court: not set and no {COURT_FILE} beside it")
    data_dir = Path(spec.data_dir) if spec.data_dir else Path("var/agents") / room.code
    return AgentConfig(
        room=room,
        court=court_code,
        court_name=spec.court_name or (court.name if court else court_code),
        data_dir=data_dir,
        hls_dir=Path(spec.hls_dir) if spec.hls_dir else data_dir / "hls",
        secret=env.get("STREAMD_AGENT_SECRET") or spec.command_secret,
        password=env.get("STREAMD_AGENT_MQTT_PASSWORD") or spec.broker.password,
        agent=spec,
    )


def _toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise AgentConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise AgentConfigError(f"{path}: not valid TOML: {exc}") from None
