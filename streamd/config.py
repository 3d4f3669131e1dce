"""Settings: environment variables `STREAMD_*`, optionally layered over a TOML file.

Loaded once by the entry point and passed down; nothing reads the environment at import.
A bad value fails at start with the setting's name and the reason, never later.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from streamd import sample
from streamd_protocol import describe_validation_error

ENV_PREFIX = "STREAMD_"


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it."""


class Settings(BaseSettings):
    """Everything streamd can be told from outside, with bounds."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    data_dir: Path = Field(
        default=Path("data"),
        description="Directory for the SQLite database, recordings and generated secrets.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; SQLite in data_dir when unset. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(default=8080, ge=1, le=65535, description="HTTP port.")
    timezone: str = Field(
        default="Asia/Shanghai",
        description="The court's time zone; times without an offset are read in it.",
    )
    court_config_dir: Path = Field(
        default_factory=sample.court_dir,
        description="Directory with court.toml and one TOML per courtroom "
        "(default: the sample court shipped with streamd).",
    )
    token_ttl_seconds: int = Field(
        default=12 * 3600, ge=60, le=30 * 24 * 3600, description="Lifetime of API tokens."
    )
    password_hash_time_cost: int = Field(
        default=3, ge=1, le=20, description="argon2id passes per password hash (1 in tests)."
    )
    password_hash_memory_kib: int = Field(
        default=65536,
        ge=8,
        le=4 * 1024 * 1024,
        description="argon2id memory per password hash in KiB (64 MiB; 8 in tests).",
    )
    login_free_failures: int = Field(
        default=3, ge=1, le=100, description="Wrong passwords in a row before logins slow down."
    )
    login_delay_seconds: float = Field(
        default=1.0, ge=0, le=3600, description="The first delay; it doubles with each failure."
    )
    login_max_delay_seconds: float = Field(
        default=900.0, ge=0, le=86400, description="The longest delay between attempts."
    )
    login_lockout_failures: int = Field(
        default=20,
        ge=2,
        le=10000,
        description="Wrong passwords in a row that lock an account until an admin unlocks it.",
    )
    login_address_free_failures: int = Field(
        default=10, ge=1, le=10000, description="Wrong passwords from one address before delays."
    )
    login_account_free_failures: int = Field(
        default=100,
        ge=1,
        le=100000,
        description="Wrong passwords for one account over every address before its delays.",
    )
    feed_heartbeat_seconds: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="A keep-alive line on the live feed after this long without news.",
    )
    secure_cookies: bool = Field(
        default=False, description="Mark session cookies Secure (set when served over HTTPS)."
    )
    shutdown_grace_seconds: float = Field(
        default=10.0, ge=0, le=300, description="How long SIGTERM waits for requests to finish."
    )
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    line_preroll_minutes: int = Field(
        default=5, ge=0, le=120, description="Line held before a hearing (encoder warm-up)."
    )
    line_postroll_minutes: int = Field(
        default=5, ge=0, le=120, description="Line held after a hearing's planned end."
    )
    repair_step_seconds: float = Field(
        default=600.0,
        ge=1,
        le=7200,
        description="A hearing on air past its expected end is assumed to go on this much "
        "longer, re-extended as time passes; the live plan is repaired at each step.",
    )
    policy_file: Path | None = Field(
        default=None,
        description="The court's streaming rules (TOML); the rules shipped with streamd if unset.",
    )
    announce_days: int = Field(
        default=3, ge=0, le=30, description="Hearings this close are announced: line pinned."
    )

    announce_party_mask: Literal["none", "surname", "hidden"] = Field(
        default="surname",
        description="Party names in public announcements: as filed, 张某, or roles only.",
    )
    announce_horizon_days: int = Field(
        default=90, ge=1, le=366, description="How far ahead the public announcements reach."
    )
    mqtt_url: str | None = Field(
        default=None,
        pattern=r"^mqtts?://[^/\s]+$",
        description="The court's broker (Mosquitto, EMQX); unset starts an embedded one.",
    )
    mqtt_share_telemetry: bool = Field(
        default=True,
        description="Replicas split the telemetry over a $share subscription (Mosquitto 2, "
        "EMQX); off for a broker without them. The embedded broker has none.",
    )
    command_secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="Signs agent commands (each room gets its own key derived from it); "
        "generated in data_dir when unset.",
    )
    prepare_minutes: int = Field(
        default=10, ge=0, le=120, description="Recording starts this long before a hearing."
    )
    ack_timeout_seconds: float = Field(
        default=3.0, gt=0, le=60, description="How long an agent has to acknowledge a command."
    )
    command_retries: int = Field(
        default=2, ge=0, le=10, description="Resends of an unacknowledged command before alerting."
    )
    agent_silence_seconds: float = Field(
        default=8.0, gt=0, le=300, description="An agent silent this long raises an alert."
    )
    scheduler_seconds: float = Field(
        default=5.0, gt=0, le=300, description="How often due hearings are prepared."
    )
    monitor_hls: str = Field(
        default="var/agents/{room}/hls/index.m3u8",
        max_length=512,
        description="A room's public HLS playlist (path or http URL) for the monitor; {room}.",
    )
    monitor_allowance_seconds: float = Field(
        default=2.0, ge=0, le=30, description="Forgiven at each transition by the ledger."
    )
    monitor_stall_seconds: float = Field(
        default=5.0, gt=0, le=120, description="No frames this long on air raises an alert."
    )
    monitor_picture_seconds: float = Field(
        default=10.0, gt=0, le=600, description="Black or frozen this long raises an alert."
    )
    monitor_linger_seconds: float = Field(
        default=30.0, ge=0, le=600, description="A stream is watched this long after it ends."
    )
    watch_url_template: str = Field(
        default="/public/watch/{hearing_id}",
        max_length=256,
        description="Where the public watches a hearing; {hearing_id} is replaced.",
    )

    # The recording archive (streamd.archive): unset, streamd refuses uploads with 503.
    archive_dir: Path | None = Field(default=None, description="Archive root (the court's NAS).")
    archive_backup_dir: Path | None = Field(default=None, description="Backup root, other disk.")
    archive_max_file_bytes: int = Field(
        default=2 * 1024**3, ge=1024, description="Larger uploads are refused before a byte."
    )
    archive_audit_seconds: float = Field(
        default=86400.0, gt=0, description="Fixity audit interval while serving."
    )
    archive_backlog_alert_seconds: float = Field(
        default=120.0, gt=0, description="Alert when a room's oldest unshipped file is older."
    )
    archive_free_alert_ratio: float = Field(
        default=0.05, ge=0, le=1, description="Alert when the archive disk's free share is below."
    )

    replica: str | None = Field(
        default=None,
        max_length=120,
        pattern=r"^[A-Za-z0-9_.:@-]+$",
        description="This process's name among replicas (/readyz, /metrics); host:port when unset.",
    )
    advertise_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s]+$",
        description="Where the other replicas reach this one to forward console actions "
        "while it leads; http://host:port when unset.",
    )
    lease_seconds: float = Field(
        default=6.0,
        gt=0,
        le=60,
        description="Leadership lease on PostgreSQL: a new leader takes over at most this "
        "long (plus one renew interval) after the old one dies.",
    )
    lease_renew_seconds: float = Field(
        default=1.5, gt=0, le=20, description="How often the leader renews; under lease/3."
    )
    lease_margin_seconds: float = Field(
        default=1.5,
        gt=0,
        le=20,
        description="A leader that cannot renew stops this long before its lease runs out "
        "(on its own monotonic clock), so two replicas never send at once.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("watch_url_template")
    @classmethod
    def _one_placeholder(cls, value: str) -> str:
        try:
            value.format(hearing_id=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError("may contain only the placeholder {hearing_id}") from exc
        return value

    @field_validator("monitor_hls")
    @classmethod
    def _room_placeholder(cls, value: str) -> str:
        try:
            value.format(room="r")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError("may contain only the placeholder {room}") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_db(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:// and postgresql+psycopg:// URLs are supported")
        return value

    @model_validator(mode="after")
    def _lease_timing(self) -> Settings:
        if self.lease_renew_seconds * 3 >= self.lease_seconds:
            raise ValueError("lease_renew_seconds must be under a third of lease_seconds")
        if self.lease_margin_seconds >= self.lease_seconds - self.lease_renew_seconds:
            raise ValueError("lease_margin_seconds must leave room for one renew interval")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'streamd.db').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings does the layering itself, so tests can pass an explicit environment.
        return (init_settings,)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"{ENV_PREFIX}CONFIG: no such file {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{ENV_PREFIX}CONFIG: {path} is not valid TOML: {exc}") from exc
    section = data.get("streamd", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{ENV_PREFIX}CONFIG: [streamd] in {path} must be a table")
    return section


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from, lowest first: the TOML file named by STREAMD_CONFIG, env, overrides.

    Unknown keys in the TOML file are errors; unknown STREAMD_* variables are left alone
    because other commands own some (STREAMD_PASSWORD, STREAMD_TEST_POSTGRES_URL).
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_path = env.get(f"{ENV_PREFIX}CONFIG")
    if config_path:
        values.update(_read_toml(Path(config_path)))
    for name in Settings.model_fields:
        raw = env.get(f"{ENV_PREFIX}{name.upper()}")
        if raw is not None and raw != "":
            values[name] = raw
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, prefix=ENV_PREFIX)) from exc
