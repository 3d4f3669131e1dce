"""A hearing's record as a BagIt bag (RFC 8493), and checking one.

The bag holds, under `data/`: every archived file of every session of the hearing (as the
agent wrote it: segments, run lists, set-aside files, transcript, manifest), and the case
file's part (`casefile.json`: the interruption log, pauses, failures and the failure
explanation to sign, plus `failure-explanation.txt` when there is one), and `archive.json`
(the archive's row for each file: offset, duration, size, SHA-256) and
`transcript-entered.jsonl` (the transcript as entered in streamd). Each file is
copied from the archive and checked against its recorded SHA-256 on the way; a bad copy
falls back to the backup copy.

The record-level integrity value (完整性校验值, SPC 2017 Art. 9) is the SHA-256 of the
bag's `manifest-sha256.txt`: one value a party can compare, which covers every file's own
SHA-256. It is written into `bag-info.txt` (covered by the tag manifest), printed, and kept
in the audit log so the hearing's page shows it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path, PurePosixPath

import bagit
from sqlmodel import Session, col, select

from streamd import audit
from streamd.archive import files, ledger
from streamd.archive.service import Roots
from streamd.models import ArchivedFile, Hearing, TranscriptEntry
from streamd.orchestrator import records
from streamd.orchestrator.casefile import case_file

MANIFEST = "manifest-sha256.txt"
INTEGRITY_FIELD = "Record-Integrity-SHA256"
EXPORTED = ledger.EXPORTED


class ExportError(ValueError):
    """Bad input for an export: nothing was written (or the partial bag was removed)."""


@dataclass(frozen=True, slots=True)
class Exported:
    out: Path
    files: int
    integrity: str


def integrity_of(bag_dir: Path) -> str:
    return hashlib.sha256((bag_dir / MANIFEST).read_bytes()).hexdigest()


def export(
    *, session: Session, roots: Roots, hearing_id: int, out: Path, zone: tzinfo, actor: str
) -> Exported:
    hearing = session.get(Hearing, hearing_id)
    if hearing is None:
        raise ExportError(f"no hearing {hearing_id}")
    rows = ledger.hearing_files(session=session, hearing_id=hearing_id)
    if not rows:
        raise ExportError(f"hearing {hearing_id}: nothing archived yet")
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out}: exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    try:
        for row in rows:
            rel = PurePosixPath(str(row.hearing_id)) / row.session / row.path
            source = next(
                (
                    root / rel
                    for root in (roots.primary, roots.backup)
                    if root is not None and files.state_of(root / rel, row.sha256) == "ok"
                ),
                None,
            )
            if source is None:
                raise ExportError(f"{rel}: no good copy in the archive (run the audit)")
            target = out / row.session / row.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        _case_part(session, hearing_id, out, zone)
        _index(rows, out)
        bag = bagit.make_bag(
            str(out),
            bag_info={
                "Source-Organization": "streamd",
                "External-Identifier": hearing.case_number,
                "External-Description": f"hearing {hearing_id}: recording, transcript, case file",
                "Bagging-Date": datetime.now(UTC).date().isoformat(),
            },
            checksums=["sha256"],
        )
        value = integrity_of(out)
        bag.info[INTEGRITY_FIELD] = value
        bag.save()  # rewrites bag-info.txt and the tag manifest, not the payload manifest
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # an export copy, never a recording
        raise
    audit.record(
        session=session,
        actor=actor,
        action=EXPORTED,
        obj=hearing,
        after={"integrity": value, "files": len(rows), "out": str(out)},
    )
    return Exported(out, len(rows), value)


def _index(rows: list[ArchivedFile], out: Path) -> None:
    """The archive's own account of every file: it stands in for a session manifest that
    never arrived (a PC that died mid-hearing ships its segments, not its manifest)."""
    doc = [
        {
            "session": r.session,
            "path": r.path,
            "kind": r.kind,
            "offset_seconds": r.offset_seconds,
            "duration_seconds": r.duration_seconds,
            "bytes": r.bytes,
            "sha256": r.sha256,
            "room": r.room,
            "archived_at": r.archived_at.isoformat(),
        }
        for r in rows
    ]
    (out / "archive.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1))


def _case_part(session: Session, hearing_id: int, out: Path, zone: tzinfo) -> None:
    try:
        record = case_file(session=session, hearing_id=hearing_id, zone=zone)
    except LookupError as exc:  # never orchestrated: the recording is the whole record
        doc: dict[str, object] = {"hearing_id": hearing_id, "note": str(exc)}
        (out / "casefile.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    (out / "casefile.json").write_text(record.model_dump_json(indent=2), encoding="utf-8")
    stream = records.stream_row(session=session, hearing_id=hearing_id)
    if stream is not None and stream.id is not None:
        # The transcript as the clerk entered it in streamd: the record even when the
        # courtroom PC never shipped its own transcript.jsonl.
        entered = session.exec(
            select(TranscriptEntry)
            .where(TranscriptEntry.stream_id == stream.id)
            .order_by(col(TranscriptEntry.seq))
        ).all()
        lines = [
            json.dumps(
                {"seq": e.seq, "speaker": e.speaker, "text": e.text, "at": e.at.isoformat()},
                ensure_ascii=False,
            )
            for e in entered
        ]
        (out / "transcript-entered.jsonl").write_text("".join(x + "\n" for x in lines))
    if record.explanation is not None:
        e = record.explanation
        text = f"{e.title_zh}\n\n{e.text_zh}\n\n{e.to_sign}\n\n---\n{e.text_en}\n"
        (out / "failure-explanation.txt").write_text(text, encoding="utf-8")


def verify(bag_dir: Path) -> list[str]:
    """Every problem with a bag, one sentence each naming the file; empty means valid."""
    try:
        bag = bagit.Bag(str(bag_dir))
    except bagit.BagError as exc:
        return [f"{bag_dir}: not a bag ({exc})"]
    problems: list[str] = []
    try:
        bag.validate()
    except bagit.BagValidationError as exc:
        for d in exc.details or []:
            problems.append(f"{getattr(d, 'path', '?')}: {d}")
        if not exc.details:
            problems.append(str(exc.message))
    except bagit.BagError as exc:
        problems.append(str(exc))
    claimed = bag.info.get(INTEGRITY_FIELD)
    if claimed is not None and (bag_dir / MANIFEST).exists():
        if integrity_of(bag_dir) != claimed:
            problems.append(f"{MANIFEST}: its SHA-256 is not the {INTEGRITY_FIELD} in bag-info")
    elif claimed is None:
        problems.append(f"bag-info.txt: no {INTEGRITY_FIELD}")
    return problems
