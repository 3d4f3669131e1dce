"""The archive as a whole: take an upload, copy it to the backup root, audit both copies.

The primary root must hold a file before it is confirmed to the agent; the backup copy
follows at once, and if the backup root is down the file is confirmed anyway (it is safe
in the primary) and copied by `backfill` when the root returns. The fixity `audit`
re-reads every copy and restores a bad one from the good one; bad in both is lost.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from streamd.archive import files, ledger
from streamd.models import ArchivedFile
from streamd.store import Database
from streamd_protocol import Claim, CopyState, FileKind, Placement, placement_for

log = logging.getLogger(__name__)
# The keeper leaves a file this long to the upload that stored it (which copies it to the
# backup root itself) before backfilling or auditing it: the two never race on one file.
SETTLE_SECONDS = 30.0
_MARKING = threading.Lock()


@dataclass(frozen=True, slots=True)
class Roots:
    primary: Path
    backup: Path | None


@dataclass(frozen=True, slots=True)
class Stored:
    outcome: Placement
    row_id: int
    backed_up: bool


class Conflict(Exception):
    """Same path, other hash: the archive keeps what it has and says so."""


def _root_in_use(session: Session, *, backup: bool) -> bool:
    """Whether this root should already hold files (then it must carry its marker)."""
    query = sa.select(col(ArchivedFile.id)).limit(1)
    if backup:
        query = query.where(col(ArchivedFile.backed_up_at).is_not(None))
    return session.execute(query).first() is not None


async def ensure_root(db: Database, root: Path, *, backup: bool = False) -> None:
    """Raise files.RootUnavailable unless `root` is a marked archive root. An existing,
    empty folder is marked only while the archive holds nothing that should be there: an
    empty mount point under an archive in use is a NAS that is not mounted, refused."""
    if await asyncio.to_thread(files.root_ready, root):
        return
    in_use = await db.run(_root_in_use, backup=backup)
    if await asyncio.to_thread(_mark_if_new, root, in_use=in_use):
        log.info("archive: %s marked as an archive root", root)


def _mark_if_new(root: Path, *, in_use: bool) -> bool:
    """True if this call marked the root; False if it was marked meanwhile (two first
    uploads at once: one marks, the other sees it); RootUnavailable otherwise."""
    with _MARKING:
        if files.root_ready(root):
            return False
        if in_use or not root.is_dir() or any(root.iterdir()):
            raise files.RootUnavailable(
                f"{root}: not a marked archive root ({files.MARKER} missing); is it mounted?"
            )
        files.mark_root(root)
        return True


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _rel(row: ArchivedFile) -> PurePosixPath:
    return PurePosixPath(str(row.hearing_id)) / row.session / row.path


async def ingest(
    db: Database,
    roots: Roots,
    claim: Claim,
    kind: FileKind,
    rel: PurePosixPath,
    body: AsyncIterator[bytes],
    *,
    offset: float | None = None,
    duration: float | None = None,
) -> Stored:
    """Store one authenticated upload; raise Conflict or files.UploadRefused, OSError
    when a root cannot be written (the caller alerts and answers 507)."""
    existing = await db.run(
        ledger.find, hearing_id=claim.hearing_id, session_name=claim.session, path=claim.path
    )
    outcome = placement_for(existing.sha256 if existing else None, claim.sha256)
    if existing is not None:
        if outcome is Placement.CONFLICT:
            raise Conflict(f"{rel} is archived with SHA-256 {existing.sha256[:12]}…")
        assert existing.id is not None
        return Stored(outcome, existing.id, existing.backed_up_at is not None)
    await ensure_root(db, roots.primary)
    try:
        await files.receive(roots.primary, rel, body, sha256=claim.sha256, size=claim.size)
    except files.AlreadyThere:
        # A file with no row: an earlier attempt stored it and died before its row. Only
        # a file that hashes to the claim is adopted; anything else is a conflict.
        if await asyncio.to_thread(files.state_of, roots.primary / rel, claim.sha256) != "ok":
            raise Conflict(f"{rel} exists in the archive with other content") from None
    try:
        row = await db.run(
            ledger.add,
            hearing_id=claim.hearing_id,
            room=claim.room,
            session_name=claim.session,
            path=claim.path,
            kind=kind,
            size=claim.size,
            sha256=claim.sha256,
            offset=offset,
            duration=duration,
        )
    except sa.exc.IntegrityError:  # a concurrent upload of the same file won
        return await ingest(db, roots, claim, kind, rel, _empty(), offset=offset)
    assert row.id is not None
    backed = await backup(db, roots, row)
    return Stored(Placement.STORE, row.id, backed)


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover


async def backup(db: Database, roots: Roots, row: ArchivedFile) -> bool:
    """Copy one archived file to the backup root and verify it; False (and an alert) if
    the backup root cannot take it now."""
    if roots.backup is None:
        return False
    rel = _rel(row)
    try:
        await ensure_root(db, roots.backup, backup=True)
        there = await asyncio.to_thread(_present, roots.backup / rel)  # a NAS may hang
        if there:
            state = await asyncio.to_thread(files.state_of, roots.backup / rel, row.sha256)
            if state != "ok":
                await asyncio.to_thread(
                    files.restore, roots.primary / rel, roots.backup, rel, row.sha256
                )
        else:
            await asyncio.to_thread(
                files.copy_verified, roots.primary / rel, roots.backup, rel, row.sha256
            )
    except files.AlreadyThere:
        # Someone else's copy landed first; it counts if it is whole.
        if await asyncio.to_thread(files.state_of, roots.backup / rel, row.sha256) != "ok":
            return False
    except (OSError, files.UploadRefused) as exc:
        log.warning("backup of %s failed: %s", rel, exc)
        await db.run(
            ledger.raise_,
            kind="archive_backup",
            severity="critical",
            room=None,
            hearing_id=None,
            zh=f"备份存储写入失败：{exc}",
            en=f"the archive's backup root cannot be written: {exc}",
        )
        return False
    now = datetime.now(UTC)
    assert row.id is not None
    await db.run(
        ledger.mark,
        row_id=row.id,
        backed_up_at=now,
        verified_at=now,
        state=CopyState.BACKED_UP.value,
    )
    return True


async def backfill(db: Database, roots: Roots, *, settle_seconds: float = SETTLE_SECONDS) -> int:
    """Back up every file the backup root missed while it was down; returns how many."""
    if roots.backup is None:
        return 0
    done = 0
    before = datetime.now(UTC) - timedelta(seconds=settle_seconds)
    for row in await db.run(ledger.not_backed_up, archived_before=before):
        if await backup(db, roots, row):
            done += 1
    if done:
        await db.run(ledger.clear, kind="archive_backup", room=None, hearing_id=None)
    return done


class Finding(StrEnum):
    OK = "ok"
    RESTORED_PRIMARY = "restored_primary"
    RESTORED_BACKUP = "restored_backup"
    LOST = "lost"
    UNREADABLE = "unreadable"  # a copy could not be read now (root down, EIO): re-audited
    OK_PRIMARY_ONLY = "ok_primary_only"  # archive copy verified; backup unreadable now


TRANSIENT = frozenset({Finding.UNREADABLE, Finding.OK_PRIMARY_ONLY})


@dataclass(slots=True)
class AuditReport:
    checked: int = 0
    findings: list[tuple[Finding, str, str]] = field(default_factory=list)  # what, path, detail

    @property
    def clean(self) -> bool:
        return not self.findings


def _audit_one(roots: Roots, row: ArchivedFile) -> tuple[Finding, str]:
    rel = _rel(row)
    primary = files.state_of(roots.primary / rel, row.sha256, roots.primary)
    backup = (
        files.state_of(roots.backup / rel, row.sha256, roots.backup) if roots.backup else "absent"
    )
    if "unreadable" in (primary, backup):
        # Not a finding about the file: neither copy is repaired nor given up on; the row
        # stays as it was (not verified) and the next audit reads it again.
        if primary == "ok" and backup == "unreadable":
            return Finding.OK_PRIMARY_ONLY, "backup copy unreadable now; not repaired"
        return Finding.UNREADABLE, f"archive copy {primary}, backup copy {backup}: retry later"
    if primary == "ok" and backup in ("ok", "absent"):
        return Finding.OK, ""
    if primary == "ok":
        assert roots.backup is not None
        kept = files.restore(roots.primary / rel, roots.backup, rel, row.sha256)
        return Finding.RESTORED_BACKUP, f"backup copy {backup}; restored (bad copy kept: {kept})"
    if backup == "ok":
        assert roots.backup is not None
        kept = files.restore(roots.backup / rel, roots.primary, rel, row.sha256)
        return Finding.RESTORED_PRIMARY, f"archive copy {primary}; restored (bad copy kept: {kept})"
    return Finding.LOST, f"archive copy {primary}, backup copy {backup}"


async def audit(
    db: Database,
    roots: Roots,
    *,
    since: datetime | None = None,
    stale_before: datetime | None = None,
    stop: asyncio.Event | None = None,
) -> AuditReport:
    """Re-hash every copy of every file (archived since `since`; not verified since
    `stale_before`); repair and report. `stop` ends it between two files."""
    report = AuditReport()
    for row in await db.run(ledger.rows, since=since, stale_before=stale_before):
        if stop is not None and stop.is_set():
            break
        report.checked += 1
        try:
            finding, detail = await asyncio.to_thread(_audit_one, roots, row)
        except (OSError, files.UploadRefused) as exc:
            # A repair that failed (a root read-only or gone mid-way) loses nothing yet.
            finding, detail = Finding.UNREADABLE, f"could not repair now: {exc}"
        if finding in TRANSIENT:
            report.findings.append((finding, str(_rel(row)), detail))
            continue
        await db.run(_audited, row=row, finding=finding, detail=detail)
        if finding is not Finding.OK:
            report.findings.append((finding, str(_rel(row)), detail))
    return report


def _audited(session: Session, *, row: ArchivedFile, finding: Finding, detail: str) -> None:
    now = datetime.now(UTC)
    assert row.id is not None
    if finding is Finding.LOST:
        if row.state != CopyState.LOST.value:
            ledger.mark(session, row_id=row.id, state=CopyState.LOST.value)
            ledger.note(
                session=session,
                actor=ledger.ACTOR_SYSTEM,
                action="archive.lost",
                row=row,
                after={"path": str(_rel(row)), "detail": detail},
            )
        ledger.raise_(
            session=session,
            kind="archive_lost",
            severity="critical",
            room=row.room,
            hearing_id=row.hearing_id,
            zh=f"录音录像文件两份均已损坏：{_rel(row)}",
            en=f"recording file bad in both copies (lost): {_rel(row)}",
        )
        return
    values: dict[str, Any] = {"verified_at": now}
    if finding is not Finding.OK or row.state == CopyState.LOST.value:
        state = CopyState.BACKED_UP if row.backed_up_at or finding else CopyState.ARCHIVED
        values["state"] = state.value
    ledger.mark(session, row_id=row.id, **values)
    if finding is not Finding.OK:
        ledger.note(
            session=session,
            actor=ledger.ACTOR_SYSTEM,
            action=f"archive.{finding.value}",
            row=row,
            after={"path": str(_rel(row)), "detail": detail},
        )
        ledger.raise_(
            session=session,
            kind="archive_repaired",
            severity="warning",
            room=row.room,
            hearing_id=row.hearing_id,
            zh=f"归档文件已从另一副本修复：{_rel(row)}",
            en=f"archived file repaired from the other copy: {_rel(row)}",
            replace=True,
        )
