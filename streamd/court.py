"""The court's structure — departments, courtrooms, streaming lines — loaded from TOML.

`court.toml` in the court's config folder (the sample: `streamd/sample/courtroom_configs/`)
holds the court, its departments and its lines; every other `*.toml` there is one
courtroom, whose `[room]` table is read here (the agent reads the rest).
"""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from sqlmodel import Session, select

from streamd import audit
from streamd.errors import InputError
from streamd.models import Court, Courtroom, Department, Line
from streamd.play import HLS_LINE, PlayUrlError, play_kind
from streamd_protocol import CODE, COURT_FILE, CourtSpec, RoomSpec, describe_validation_error


class CourtConfigError(InputError):
    pass


def court_by_code(session: Session, code: str | None) -> int | None:
    """The named court's id, or the only court's; None while no court is loaded. A command
    that acts for one court must name it once the deployment holds several."""
    if code is not None:
        found = session.exec(select(Court).where(Court.code == code)).first()
        if found is None:
            raise ValueError(f"unknown court {code!r}")
        return found.id
    courts = session.exec(select(Court.id)).all()
    if len(courts) > 1:
        raise ValueError("this deployment holds several courts: name the court (--court)")
    return courts[0] if courts else None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DepartmentSpec(_Strict):
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=128)
    stream_target_ratio: float = Field(default=0.0, ge=0.0, le=1.0)


class LineSpec(_Strict):
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=128)
    push_url: str = Field(
        pattern=r"^((rtmps?|srt|https?)://.+|hls)$",
        max_length=512,
        description="The platform's ingest URL, or \"hls\": the agent's own HLS output.",
    )
    stream_key: str = Field(
        min_length=1,
        max_length=256,
        pattern=r"^\S+$",
        description="The platform's key for this line; no spaces (it ends the push URL).",
    )
    same_server: bool = Field(
        default=False,
        description="The platform plays the stream where it is pushed (push_url/stream_key): "
        "the monitor may read it there. Without it a pushed line needs play_url.",
    )
    play_url: str | None = Field(
        default=None,
        max_length=512,
        validate_default=True,
        description="Where the public watches: HLS (.m3u8), HTTP-FLV (.flv) or RTMP.",
    )
    active: bool = True

    @field_validator("play_url")
    @classmethod
    def _play_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            try:
                play_kind(value)
            except PlayUrlError as exc:
                raise ValueError(str(exc)) from None
            return value
        if info.data.get("push_url") in (HLS_LINE, None) or info.data.get("same_server"):
            return None
        raise ValueError(
            "missing: where the public watches this line (HLS .m3u8, HTTP-FLV or RTMP); "
            "or set same_server = true if the platform plays it at the push address"
        )


class CourtFile(_Strict):
    court: CourtSpec
    departments: list[DepartmentSpec] = Field(min_length=1)
    lines: list[LineSpec] = Field(default_factory=list)


class CourtStructure(_Strict):
    court: CourtSpec
    departments: list[DepartmentSpec]
    lines: list[LineSpec]
    rooms: list[RoomSpec]


def _repeated(codes: list[str]) -> list[str]:
    """The codes that occur more than once, sorted (a folder's, or the platform's)."""
    return sorted(code for code, n in Counter(codes).items() if n > 1)


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise CourtConfigError(f"{path}: not valid TOML: {exc}") from exc


def read_structure(directory: Path) -> CourtStructure:
    """Read and validate the whole directory; any error names the file and the field."""
    court_path = directory / COURT_FILE
    if not court_path.is_file():
        raise CourtConfigError(f"{court_path}: missing (the court, departments and lines)")
    try:
        court_file = CourtFile.model_validate(_load(court_path))
    except ValidationError as exc:
        raise CourtConfigError(f"{court_path}: {describe_validation_error(exc)}") from exc
    rooms: list[RoomSpec] = []
    for path in sorted(directory.glob("*.toml")):
        if path.name == COURT_FILE:
            continue
        data = _load(path)
        if "room" not in data:
            raise CourtConfigError(f"{path}: no [room] table")
        try:
            rooms.append(RoomSpec.model_validate(data["room"]))
        except ValidationError as exc:
            raise CourtConfigError(f"{path}: [room] {describe_validation_error(exc)}") from exc
    dept_codes = {d.code for d in court_file.departments}
    for kind, codes in (
        ("department", [d.code for d in court_file.departments]),
        ("line", [ln.code for ln in court_file.lines]),
        ("courtroom", [r.code for r in rooms]),
    ):
        dupes = _repeated(codes)
        if dupes:
            raise CourtConfigError(f"{directory}: duplicate {kind} code(s) {', '.join(dupes)}")
    for room in rooms:
        if room.department and room.department not in dept_codes:
            raise CourtConfigError(
                f"{directory}: courtroom {room.code}: unknown department {room.department!r}"
            )
    return CourtStructure(
        court=court_file.court,
        departments=court_file.departments,
        lines=court_file.lines,
        rooms=rooms,
    )


def read_courts(directory: Path) -> list[CourtStructure]:
    """The deployment's courts: `directory` is one court's folder (it holds court.toml), or
    the two-level platform's, one court's folder under it per court. Room codes are the
    agents' broker logins and key every room's state, so they are unique across the
    deployment, not only within a court (e.g. 0111-t01, 0112-t01)."""
    if (directory / COURT_FILE).is_file():
        return [read_structure(directory)]
    folders = sorted(p for p in directory.iterdir() if (p / COURT_FILE).is_file())
    if not folders:
        raise CourtConfigError(
            f"{directory}: no {COURT_FILE} in it, nor in any folder under it (one per court)"
        )
    courts = [read_structure(f) for f in folders]
    for kind, codes in (
        ("court", [c.court.code for c in courts]),
        ("courtroom", [r.code for c in courts for r in c.rooms]),
    ):
        dupes = _repeated(codes)
        if dupes:
            raise CourtConfigError(
                f"{directory}: {kind} code(s) {', '.join(dupes)} in more than one court"
                + ("" if kind == "court" else " (room codes are unique across the platform)")
            )
    return courts


def court_names(courts: list[CourtStructure]) -> dict[str, str]:
    """Each room's court's name, by room code: what its pause slate shows."""
    return {room.code: c.court.name for c in courts for room in c.rooms}


def _upsert(session: Session, model: Any, key: dict[str, Any], values: dict[str, Any]) -> Any:
    query = select(model)
    for name, value in key.items():
        query = query.where(getattr(model, name) == value)
    row = session.exec(query).first()
    if row is None:
        row = model(**key, **values)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.add(row)
    session.flush()
    return row


def apply_structure(session: Session, *, structure: CourtStructure, actor: str) -> dict[str, int]:
    """Upsert the structure by code; nothing is deleted (hearings may still point at it)."""
    court = _upsert(
        session,
        Court,
        {"code": structure.court.code},
        {
            "name": structure.court.name,
            "stream_target_ratio": structure.court.stream_target_ratio,
        },
    )
    departments = {
        d.code: _upsert(
            session,
            Department,
            {"court_id": court.id, "code": d.code},
            {"name": d.name, "stream_target_ratio": d.stream_target_ratio},
        )
        for d in structure.departments
    }
    for ln in structure.lines:
        _upsert(
            session,
            Line,
            {"court_id": court.id, "code": ln.code},
            {
                "name": ln.name,
                "push_url": ln.push_url,
                "stream_key": ln.stream_key,
                "play_url": ln.play_url,
                "same_server": ln.same_server,
                "active": ln.active,
            },
        )
    for room in structure.rooms:
        dept = departments[room.department].id if room.department else None
        _upsert(
            session,
            Courtroom,
            {"court_id": court.id, "code": room.code},
            {"name": room.name, "department_id": dept},
        )
    summary = {
        "departments": len(structure.departments),
        "lines": len(structure.lines),
        "courtrooms": len(structure.rooms),
    }
    audit.record(session=session, actor=actor, action="court.sync", obj=court, after=summary)
    return summary


def mask_key(key: str) -> str:
    """Show enough of a stream key to recognise it, never enough to use it."""
    if len(key) <= 4:
        return "****"
    return f"{key[:2]}****{key[-2:]}"


def redact_url(url: str) -> str:
    """A push or pull URL fit for a log: the password and the stream key (the path's last
    part, as RTMP carries it; any query, as SRT and signed HLS do) masked."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.scheme or parts.scheme == "file":
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "****@" + netloc.rpartition("@")[2]
    head, sep, key = parts.path.rpartition("/")
    path = f"{head}{sep}{mask_key(key)}" if key and parts.scheme.startswith("rtmp") else parts.path
    return urlunsplit((parts.scheme, netloc, path, "****" if parts.query else "", ""))
