"""The courtrooms streamd commands, and the key that signs each room's commands.

Each room's key is derived from one court secret (HMAC-SHA256 of the room's topic base),
so the court keeps one secret while a key taken from one agent cannot sign commands for
another room. `streamd agent-key ROOM` prints a room's key for its agent's configuration.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streamd.config import Settings
from streamd.court import CourtStructure
from streamd_protocol import Topics

SECRET_FILE = "command.secret"


def court_secret(settings: Settings) -> str:
    """The configured secret, or one generated once in the data directory (mode 0600)."""
    if settings.command_secret:
        return settings.command_secret
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return Path(path).read_text().strip()


def derive(secret: str, label: str) -> str:
    """A key for one purpose from the court secret: knowing it reveals nothing of others."""
    return hmac.new(secret.encode(), label.encode(), hashlib.sha256).hexdigest()


def room_key(secret: str, topics: Topics) -> str:
    return derive(secret, topics.base)


@dataclass(frozen=True, slots=True)
class Room:
    code: str
    name: str
    topics: Topics
    key: str


def rooms_of(courts: Sequence[CourtStructure], secret: str) -> dict[str, Room]:
    """Every court's rooms, by code (unique across the deployment: streamd.court)."""
    out: dict[str, Room] = {}
    for structure in courts:
        for spec in structure.rooms:
            topics = Topics(structure.court.code, spec.code)
            key = room_key(secret, topics)
            out[spec.code] = Room(spec.code, spec.name, topics, key)
    return out
