"""A hearing's record as a BagIt bag (RFC 8493), and checking one.

The bag holds, under `data/`: every archived file of every session of the hearing (as the
agent wrote it: segments, run lists, set-aside files, transcript, manifest), and the case
file's part (`casefile.json`: the interruption log, pauses, failures and the failure
explanation to sign, plus `failure-explanation.txt` when there is one), and `archive.json`
(the archive's row for each file: offset, duration, size, SHA-256) and
`transcript-entered.jsonl` (the transcript as entered in streamd). Each file is
copied from the archive and hashed in the same pass against its recorded SHA-256; a bad
copy falls back to the backup copy.

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
from streamd.orchestrator import case_file, records
from streamd.store import Database

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


BATCH = 200  # archived rows read per transaction


def export(
    db: Database,
    *,
    roots: Roots,
    hearing_id: int,
    out: Path,
    zone: tzinfo,
    actor: str,
    batch: int = BATCH,
) -> Exported:
    """Write the hearing's bag. No transaction stays open while files are copied (a
    hearing's record is gigabytes; a held transaction would block or bloat the database
    for minutes): the rows are read a batch at a time, each file copied and hashed in one
    pass after its batch committed, and the audit entry written in a transaction of its own."""
    case_number = db.call(_case_number, hearing_id=hearing_id)
    if case_number is None:
        raise ExportError(f"no hearing {hearing_id}")
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out}: exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    try:
        rows: list[ArchivedFile] = []
        while page := db.call(
            ledger.hearing_files_page,
            hearing_id=hearing_id,
            after_id=(rows[-1].id or 0) if rows else 0,
            limit=batch,
        ):
            for row in page:
                _copy_one(roots, row, out)
            rows += page
        if not rows:
            raise ExportError(f"hearing {hearing_id}: nothing archived yet")
        db.call(_case_part, hearing_id=hearing_id, out=out, zone=zone)
        _index(sorted(rows, key=lambda r: (r.session, r.path)), out)
        bag = bagit.make_bag(
            str(out),
            bag_info={
                "Source-Organization": "streamd",
                "External-Identifier": case_number,
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
    db.call(_exported, hearing_id=hearing_id, actor=actor, value=value, n=len(rows), out=out)
    return Exported(out, len(rows), value)


def _case_number(session: Session, *, hearing_id: int) -> str | None:
    hearing = session.get(Hearing, hearing_id)
    return None if hearing is None else hearing.case_number


def _exported(
    session: Session, *, hearing_id: int, actor: str, value: str, n: int, out: Path
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=EXPORTED,
        obj=session.get(Hearing, hearing_id),
        after={"integrity": value, "files": n, "out": str(out)},
    )


def _copy_one(roots: Roots, row: ArchivedFile, out: Path) -> None:
    """Copy the file from the first root whose bytes, hashed as they are copied, match
    the archive's record: what lands in the bag is what was checked, not a second read."""
    rel = PurePosixPath(str(row.hearing_id)) / row.session / row.path
    target = out / row.session / row.path
    target.parent.mkdir(parents=True, exist_ok=True)
    for root in (roots.primary, roots.backup):
        if root is None:
            continue
        try:
            if copy_hashed(root / rel, target) == row.sha256:
                return
        except OSError:
            pass  # this copy is unreadable now: try the other
        target.unlink(missing_ok=True)
    raise ExportError(f"{rel}: no good copy in the archive (run the audit)")


def copy_hashed(src: Path, dst: Path) -> str:
    h = hashlib.sha256()
    with src.open("rb") as fin, dst.open("wb") as fout:
        while chunk := fin.read(files.CHUNK):
            h.update(chunk)
            fout.write(chunk)
    return h.hexdigest()


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


def _case_part(session: Session, *, hearing_id: int, out: Path, zone: tzinfo) -> None:
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
