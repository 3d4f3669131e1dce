"""The archive's rules, without I/O: where a file goes, what kind it is, who may send it.

Shared by streamd (which checks) and the courtroom agent (which signs), so both read the
same definition of a valid path and of the upload signature.

Layout under a root: `<hearing_id>/<session>/<path>`, one folder per hearing session, the
session folder's own layout kept (video/, audio/, runs/, set_aside/, manifest.json,
transcript.jsonl, and in a room with several cameras views/<view>/ and channels/<mic>/).
A room writes only under hearings held in its courtroom.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

SESSION = re.compile(r"^\d{8}T\d{6}Z$")  # agents.recorder.session_folder's stamp
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
SCHEME = "StreamdRoom"


class PathRefused(ValueError):
    """A path or name the archive will not store; the message says why."""


class FileKind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    TRANSCRIPT = "transcript"
    MANIFEST = "manifest"
    RUN = "run"  # ffmpeg's per-run segment lists
    SET_ASIDE = "set_aside"  # a file the recorder could not trust, kept all the same
    VIEW = "view"  # one camera's own track (views/<name>/...)
    CHANNEL = "channel"  # one microphone's own track (channels/<name>/...)


# The kinds that are media segments: what the agent reports as `segment_closed`.
SEGMENT_KINDS = (FileKind.VIDEO, FileKind.AUDIO, FileKind.VIEW, FileKind.CHANNEL)


class CopyState(StrEnum):
    """A file's stored state; `lost` only when the audit found both copies bad."""

    ARCHIVED = "archived"
    BACKED_UP = "backed_up"
    LOST = "lost"


class Placement(StrEnum):
    STORE = "store"  # new: write it
    ALREADY = "already"  # same path, same hash: nothing to do, success
    CONFLICT = "conflict"  # same path, other hash: refuse, never overwrite


_FOLDERS = {
    "video": FileKind.VIDEO,
    "audio": FileKind.AUDIO,
    "runs": FileKind.RUN,
    "set_aside": FileKind.SET_ASIDE,
}
_TRACKS = {"views": FileKind.VIEW, "channels": FileKind.CHANNEL}
_TOP = {"manifest.json": FileKind.MANIFEST, "transcript.jsonl": FileKind.TRANSCRIPT}


def kind_of(path: str) -> FileKind:
    """The kind of a path inside a session folder; anything else is refused."""
    if not path or len(path) > 255 or "\\" in path or "\x00" in path:
        raise PathRefused("path must be 1-255 characters, forward slashes only")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise PathRefused(f"path {path!r}: empty, '.' or '..' component")
        if not _PART.match(part):
            raise PathRefused(f"path {path!r}: {part!r} is not a plain file name")
    if len(parts) == 1 and parts[0] in _TOP:
        return _TOP[parts[0]]
    if len(parts) == 2 and parts[0] in _FOLDERS:
        return _FOLDERS[parts[0]]
    if len(parts) == 3 and parts[0] in _TRACKS:
        return _TRACKS[parts[0]]
    raise PathRefused(
        f"path {path!r}: not video/, audio/, views/<view>/, channels/<mic>/, runs/, "
        "set_aside/, manifest.json or transcript.jsonl"
    )


def check_session(session: str) -> str:
    if not SESSION.match(session):
        raise PathRefused(f"session {session!r}: expected a stamp like 20261202T093000Z")
    return session


def relative(hearing_id: int, session: str, path: str) -> PurePosixPath:
    """Where a file lives under an archive root; raises PathRefused for anything unsafe."""
    if not 1 <= hearing_id <= 2**31 - 1:
        raise PathRefused(f"hearing {hearing_id}: out of range")
    kind_of(path)
    return PurePosixPath(str(hearing_id)) / check_session(session) / path


def placement_for(existing_sha256: str | None, sha256: str) -> Placement:
    if existing_sha256 is None:
        return Placement.STORE
    return Placement.ALREADY if existing_sha256 == sha256 else Placement.CONFLICT


@dataclass(frozen=True, slots=True)
class Claim:
    """What an upload says about itself; the signature covers all of it."""

    room: str
    hearing_id: int
    session: str
    path: str
    sha256: str
    size: int

    def canonical(self) -> bytes:
        return "\n".join(
            ["archive-v1", self.room, str(self.hearing_id), self.session, self.path,
             self.sha256, str(self.size)]
        ).encode()  # fmt: skip


def sign(room_key: str, claim: Claim) -> str:
    """HMAC-SHA256 with the room's command key: the key never crosses the wire, and a
    signature fits exactly one file's path, hash and size."""
    return hmac.new(room_key.encode(), claim.canonical(), hashlib.sha256).hexdigest()


def authorization(room_key: str, claim: Claim) -> str:
    return f"{SCHEME} {claim.room}:{sign(room_key, claim)}"


def parse_authorization(header: str | None) -> tuple[str, str]:
    """(room, signature) from the header, or PathRefused-free ValueError if malformed."""
    scheme, _, rest = (header or "").partition(" ")
    room, _, signature = rest.partition(":")
    if scheme != SCHEME or not room or not re.fullmatch(r"[0-9a-f]{64}", signature):
        raise ValueError(f"expected Authorization: {SCHEME} <room>:<hex HMAC-SHA256>")
    return room, signature


def signature_ok(room_key: str, claim: Claim, signature: str) -> bool:
    return hmac.compare_digest(sign(room_key, claim), signature)
