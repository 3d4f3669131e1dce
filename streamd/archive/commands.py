"""`streamd archive audit` and `streamd record export|verify`.

Exit status, which scripts rely on: `archive audit` 0 when every copy verifies, 1 when any
was repaired or lost (each printed), 2 on bad input; `record verify` 0 valid, 1 invalid
(each bad file named); `record export` 0, or 2 on bad input with nothing left behind.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamd.errors import InputError

if TYPE_CHECKING:  # the parser is built on every `streamd` start: nothing heavy at import
    from streamd.archive import service
    from streamd.config import Settings
    from streamd.store import Database

EXIT_FINDINGS = 1


class BadInput(InputError):
    """Printed; exit status 2."""


def _roots(settings: Settings) -> service.Roots:
    from streamd.archive import service

    if settings.archive_dir is None:
        raise BadInput("STREAMD_ARCHIVE_DIR is not set: there is no archive to work on")
    return service.Roots(settings.archive_dir, settings.archive_backup_dir)


def _since(text: str | None, zone: Any) -> datetime | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--since {text!r}: expected a date, YYYY-MM-DD") from None
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def cmd_audit(settings: Settings, args: argparse.Namespace) -> None:
    import asyncio

    from streamd.archive import service
    from streamd.archive.service import Finding
    from streamd.store import Database

    roots = _roots(settings)
    since = None if args.all else _since(args.since, settings.zone)
    db = Database.from_url(settings.effective_database_url)
    try:
        backed, report = asyncio.run(_audit(db, roots, since))
    finally:
        db.dispose()
    if backed:
        print(f"backed up {backed} file(s) the backup root had missed")
    for finding, path, detail in report.findings:
        loud = "LOST" if finding is Finding.LOST else finding.value
        print(
            f"{loud}: {path}: {detail}", file=sys.stderr if finding is Finding.LOST else sys.stdout
        )
    lost = sum(1 for f, _, _ in report.findings if f is Finding.LOST)
    later = sum(1 for f, _, _ in report.findings if f in service.TRANSIENT)
    repaired = len(report.findings) - lost - later
    print(
        f"audited {report.checked} file(s): {repaired} repaired, {lost} lost, "
        f"{later} unreadable now (audited again next time)"
    )
    if report.findings:
        raise SystemExit(EXIT_FINDINGS)


async def _audit(
    db: Database, roots: service.Roots, since: datetime | None
) -> tuple[int, service.AuditReport]:
    from streamd.archive import service

    return await service.backfill(db, roots), await service.audit(db, roots, since=since)


def cmd_export(settings: Settings, args: argparse.Namespace) -> None:
    from streamd.archive import export  # bagit loads only for the commands that use it
    from streamd.store import Database

    roots = _roots(settings)
    db = Database.from_url(settings.effective_database_url)
    try:
        done = export.export(
            db,
            roots=roots,
            hearing_id=args.hearing,
            out=Path(args.out),
            zone=settings.zone,
            actor="cli",
        )
    except export.ExportError as exc:
        raise BadInput(str(exc)) from None
    finally:
        db.dispose()
    print(f"wrote {done.out}: {done.files} archived file(s) of hearing {args.hearing}")
    print(f"integrity (完整性校验值, SHA-256 of {export.MANIFEST}): {done.integrity}")


def cmd_verify(settings: Settings, args: argparse.Namespace) -> None:
    from streamd.archive import export

    problems = export.verify(Path(args.dir))
    for problem in problems:
        print(f"invalid: {problem}")
    if problems:
        raise SystemExit(EXIT_FINDINGS)
    print(f"{args.dir}: valid; integrity {export.integrity_of(Path(args.dir))}")


def add_parsers(sub: Any) -> None:
    a = sub.add_parser("archive", help="the recording archive").add_subparsers(
        dest="a_cmd", required=True
    )
    p = a.add_parser("audit", help="re-hash both copies; restore a bad one from the good one")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every archived file (the default)")
    which.add_argument("--since", metavar="YYYY-MM-DD", help="files archived since that day")
    p.set_defaults(func=cmd_audit)

    r = sub.add_parser("record", help="a hearing's record package").add_subparsers(
        dest="rec_cmd", required=True
    )
    p = r.add_parser("export", help="write the hearing's record as a BagIt bag")
    p.add_argument("hearing", type=int)
    p.add_argument("--out", required=True, help="a new or empty folder")
    p.set_defaults(func=cmd_export)
    p = r.add_parser("verify", help="check a record bag; names each bad file")
    p.add_argument("dir")
    p.set_defaults(func=cmd_verify)
