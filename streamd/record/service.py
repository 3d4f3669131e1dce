"""A hearing's record as the review page sees it: archived segments, transcript, timeline.

Reads the archive's rows (streamd.archive) and, from the archive root, each session's
`manifest.json` and `transcript.jsonl`. A session whose manifest never arrived (the PC
died) is still played from its rows: the shipper sent each segment's offset and duration.
Only archived files are ever referenced, so the page plays exactly what the court keeps.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from streamd.archive import ledger
from streamd.config import Settings
from streamd.models import ArchivedFile, AuditEntry, Hearing
from streamd.record import versions
from streamd.record.plan import Piece, Placed, locator, place
from streamd_protocol import FileKind
from streamd_protocol import manifest as mf

_RUN = re.compile(r"^[va](\d{3})_")
TRACKS = {FileKind.VIDEO: "video", FileKind.AUDIO: "audio"}


@dataclass(slots=True)
class Record:
    hearing_id: int
    rows: list[ArchivedFile]
    manifests: dict[str, mf.Manifest]
    transcript: list[dict[str, Any]]
    pieces: dict[str, list[Piece]] = field(default_factory=dict)
    integrity: dict[str, str] | None = None
    corrections: dict[versions.Key, list[Any]] = field(default_factory=dict)

    def placed(self, kind: str) -> list[Placed]:
        return place(self.pieces.get(kind, []))


def _session_start(name: str) -> datetime:
    return datetime.strptime(name, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _run_of(path: str) -> int:
    match = _RUN.match(path.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else 0


def roots_of(settings: Settings) -> list[Path]:
    """The archive roots a record is read from: the archive, then its backup."""
    return [p for p in (settings.archive_dir, settings.archive_backup_dir) if p is not None]


def stored(root: Path, row: ArchivedFile) -> Path:
    """Where `row`'s file is kept under one archive root."""
    return root / str(row.hearing_id) / row.session / row.path


def first_copy(roots: Sequence[Path], row: ArchivedFile) -> Path | None:
    """The first root's copy of `row` that is there, or None: the media is read from
    whichever copy has it (the fixity audit restores the other)."""
    return next((path for root in roots if (path := stored(root, row)).is_file()), None)


def _manifest(root: Path, row: ArchivedFile) -> mf.Manifest | None:
    try:
        return mf.Manifest.model_validate_json(stored(root, row).read_bytes())
    except (OSError, ValidationError):
        return None  # unreadable: the rows still carry offsets and durations


def _transcript(root: Path, row: ArchivedFile) -> list[dict[str, Any]]:
    try:
        text = stored(root, row).read_text("utf-8")
    except OSError:
        return []
    lines: list[dict[str, Any]] = []
    for raw in text.splitlines():
        try:
            item = json.loads(raw)
        except json.JSONDecodeError:
            continue  # a line cut by a crash
        if isinstance(item, dict) and "at" in item and "text" in item:
            lines.append(item | {"session": row.session})
    return lines


def _pieces(row: ArchivedFile, by_file: dict[str, mf.SegmentEntry] | None) -> Piece | None:
    uri = f"video/{row.id}.ts" if row.kind == "video" else f"audio/{row.id}.aac"
    seg = by_file.get(row.path) if by_file is not None else None
    if seg is not None:
        return Piece(uri, seg.start, seg.duration, seg.run)
    if row.offset_seconds is None or row.duration_seconds is None:
        return None
    start = _session_start(row.session) + timedelta(seconds=row.offset_seconds)
    return Piece(uri, start, row.duration_seconds, _run_of(row.path))


def _integrity(session: Session, hearing_id: int, rows: list[ArchivedFile]) -> dict[str, str]:
    """The exported bag's value (SPC 2017 Art. 9) if the record was exported; otherwise the
    SHA-256 of the archive's list of files and hashes, which any copy can recompute."""
    entry = session.exec(
        select(AuditEntry)
        .where(AuditEntry.action == ledger.EXPORTED, AuditEntry.object_id == str(hearing_id))
        .order_by(col(AuditEntry.id).desc())
    ).first()
    if entry is not None and isinstance(entry.after, dict) and entry.after.get("integrity"):
        return {"value": str(entry.after["integrity"]), "source": "export"}
    listing = "".join(f"{r.sha256}  {r.session}/{r.path}\n" for r in rows)
    return {"value": hashlib.sha256(listing.encode()).hexdigest(), "source": "archive"}


# The heavy part of a record (its rows, manifests, transcript and playlist pieces), kept
# per hearing while its archive rows do not change: a player opening a 3-hour record asks
# for the page, the master playlist and two media playlists in a row, and each used to
# read 10,000 rows again. Corrections and the integrity value are read fresh every time.
_CACHE: OrderedDict[tuple[Any, ...], Record] = OrderedDict()
_CACHE_SIZE = 8
_LOCK = threading.Lock()


def _fingerprint(session: Session, hearing_id: int) -> tuple[Any, ...]:
    """What changes when a file of the hearing is added, backed up or found lost."""
    row = session.exec(
        select(
            func.count(),
            func.max(ArchivedFile.id),
            func.count(col(ArchivedFile.backed_up_at)),
            func.sum(case((col(ArchivedFile.state) == "lost", 1), else_=0)),
        ).where(ArchivedFile.hearing_id == hearing_id)
    ).one()
    return tuple(row)


def _heavy(session: Session, hearing_id: int, root: Path | None) -> Record:
    rows = ledger.hearing_files(session=session, hearing_id=hearing_id) if root else []
    record = Record(hearing_id, rows, {}, [])
    assert root is not None or not rows
    for row in rows:
        if row.kind == FileKind.MANIFEST.value and root is not None:
            found = _manifest(root, row)
            if found is not None:
                record.manifests[row.session] = found
        elif row.kind == FileKind.TRANSCRIPT.value and root is not None:
            record.transcript += _transcript(root, row)
    # Each session's segments by file, once: a 3-hour hearing has 10,000 rows and as many
    # manifest entries, and a scan per row made the page take 20 s (bench/record.py).
    index = {name: {s.file: s for s in m.segments} for name, m in record.manifests.items()}
    for row in rows:
        kind = TRACKS.get(FileKind(row.kind)) if row.kind in TRACKS.values() else None
        if kind is None:
            continue
        piece = _pieces(row, index.get(row.session))
        if piece is not None:
            record.pieces.setdefault(kind, []).append(piece)
    record.transcript.sort(key=lambda line: str(line["at"]))
    return record


def load(session: Session, *, hearing_id: int, root: Path | None) -> Record | None:
    """The record, or None for an unknown hearing. No archive configured: no tracks."""
    if session.get(Hearing, hearing_id) is None:
        return None
    key = (str(root), hearing_id, *_fingerprint(session, hearing_id))
    with _LOCK:
        base = _CACHE.get(key)
        if base is not None:
            _CACHE.move_to_end(key)
    if base is None:
        base = _heavy(session, hearing_id, root)
        with _LOCK:
            _CACHE[key] = base
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    rows = base.rows
    return Record(
        hearing_id, rows, base.manifests, base.transcript, base.pieces,
        integrity=_integrity(session, hearing_id, rows) if rows else None,
        corrections=dict(versions.rows(session=session, hearing_id=hearing_id)),
    )  # fmt: skip


def find_line(record: Record, session_name: str, seq: int) -> dict[str, Any] | None:
    for line in record.transcript:
        if line.get("session") == session_name and line.get("seq") == seq:
            return line
    return None


def file_row(session: Session, *, hearing_id: int, file_id: int) -> ArchivedFile | None:
    """An archived segment of this hearing (another hearing's id is simply not found)."""
    row = session.get(ArchivedFile, file_id)
    if row is None or row.hearing_id != hearing_id or row.kind not in TRACKS.values():
        return None
    return row


def view(record: Record) -> dict[str, Any]:
    """The JSON of `GET /api/v1/hearings/{id}/record`."""
    video = record.placed("video")
    timeline: list[dict[str, Any]] = []
    for name, manifest in sorted(record.manifests.items()):
        for run in manifest.runs:
            timeline.append(
                {"kind": "run", "session": name, "run": run.run,
                 "start": run.started_at.isoformat(),
                 "end": run.ended_at.isoformat() if run.ended_at else None,
                 "reason": run.end_reason}
            )  # fmt: skip
        for gap in manifest.gaps:
            timeline.append(
                {"kind": "gap", "session": name, "start": gap.start.isoformat(),
                 "end": gap.end.isoformat(), "seconds": gap.seconds, "reason": gap.cause}
            )  # fmt: skip
    for i, item in enumerate(video):
        if item.discontinuity and not any(t["kind"] == "gap" for t in timeline):
            prev = video[i - 1].piece
            timeline.append(
                {"kind": "gap", "session": None,
                 "start": (prev.start + timedelta(seconds=prev.duration)).isoformat(),
                 "end": item.piece.start.isoformat(), "seconds": None, "reason": "restart"}
            )  # fmt: skip
    lines = []
    find = locator(video)
    for n, line in enumerate(record.transcript):
        at = datetime.fromisoformat(str(line["at"]))
        key = (str(line["session"]), int(line.get("seq", 0)))
        chain = versions.chain(str(line["text"]), at.isoformat(), record.corrections.get(key, []))
        lines.append(
            {"n": n + 1, "session": key[0], "seq": key[1],
             "speaker": str(line.get("speaker", "")), "text": chain[-1].text,
             "original": chain[0].text, "version": chain[-1].version,
             "at": at.isoformat(), "offset_seconds": find(at) if video else None,
             "versions": [v.out() for v in chain]}
        )  # fmt: skip
    tracks = [
        {"kind": kind, "segments": len(items),
         "seconds": round(sum(p.duration for p in items), 3),
         "playlist": f"{kind}.m3u8"}
        for kind, items in sorted(record.pieces.items())
    ]  # fmt: skip
    states = sorted({r.state for r in record.rows})
    return {
        "hearing_id": record.hearing_id,
        "tracks": tracks,
        "transcript": lines,
        "timeline": sorted(timeline, key=lambda t: str(t["start"])),
        "integrity": record.integrity,
        "archive": {"files": len(record.rows), "states": states},
        "sessions": sorted({r.session for r in record.rows}),
    }
