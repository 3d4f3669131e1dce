"""Import hearings from the case-management system's CSV or JSON exports.

All-or-nothing: every row is validated (fields, then references to departments and
courtrooms) before anything is written, outside any write transaction; then the writes
happen in one short transaction of bulk statements, so an import of a court's year holds
SQLite's write lock for a second, not minutes, and logins and bookings go on meanwhile. Errors
name the row (spreadsheet line number for CSV, 1-based item for JSON), the field and why.
Re-importing a file updates hearings in place (key: case number + session start).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, col, select

from streamd import audit, planning
from streamd.bulk import insert_many
from streamd.casenumber import parse_case_number
from streamd.changes import Aftermath
from streamd.config import Settings
from streamd.court import court_by_code
from streamd.hearings import HearingCreate, columns
from streamd.import_read import ImportFailed, RowError, normalise, read_records
from streamd.import_rows import fast_row
from streamd.models import AuditEntry, Courtroom, Department, Hearing, utcnow
from streamd.planning import Timing
from streamd.policy import Ruleset
from streamd.scope import hearings_of
from streamd.store import Database, in_batches
from streamd.validation import text_problem

__all__ = [
    "ImportFailed",
    "ImportResult",
    "RowError",
    "import_file",
    "parse_file",
    "validate_records",
]
PROGRESS_THRESHOLD = 500  # rows; below this a progress bar is noise


@dataclass(slots=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    hearing_ids: list[int] = field(default_factory=list)
    days_replanned: int = 0
    validate_seconds: float = 0.0  # outside any transaction
    write_seconds: float = 0.0  # the write transaction: what holds SQLite's lock

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def _field_of(err: Any) -> str:
    loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
    return ".".join(loc) or "(row)"


def _text_errors(number: int, record: dict[str, Any]) -> list[RowError]:
    """The API's rule for text, applied to every cell (streamd.validation). One search over
    the row's text first: a clean row, nearly every row, costs one regex call."""
    cells = [
        item
        for value in record.values()
        for item in (value if isinstance(value, list) else [value])
        if isinstance(item, str)
    ]
    if text_problem("\n".join(cells)) is None:
        return []
    found = []
    for name, value in record.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and (problem := text_problem(item)) is not None:
                found.append(RowError(number, name, problem))
                break
    return found


def validate_records(
    records: Iterable[tuple[int, dict[str, Any]]], *, zone: ZoneInfo
) -> tuple[list[tuple[int, HearingCreate]], list[RowError]]:
    rows: list[tuple[int, HearingCreate]] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, Any], int] = {}
    for number, record in records:
        try:
            normalised = normalise(record)
        except ValueError as exc:
            errors.append(RowError(number, "(row)", str(exc)))
            continue
        bad_text = _text_errors(number, normalised)
        if bad_text:
            errors.extend(bad_text)
            continue
        fast = fast_row(normalised, zone=zone)
        try:
            data = fast or HearingCreate.model_validate(normalised, context={"zone": zone})
        except ValidationError as exc:
            errors.extend(
                RowError(number, _field_of(e), e["msg"].removeprefix("Value error, "))
                for e in exc.errors()
            )
            continue
        except ValueError as exc:
            errors.append(RowError(number, "(row)", str(exc)))
            continue
        key = (data.case_number, data.start)
        if key in seen:
            errors.append(
                RowError(number, "case_number", f"same case and start as row {seen[key]}")
            )
            continue
        seen[key] = number
        rows.append((number, data))
    return rows, errors


@dataclass(frozen=True, slots=True)
class _Refs:
    """The court's departments and courtrooms by code and by name, read once: the court
    the file is for (codes repeat between the courts of one platform)."""

    departments: dict[str, int]
    courtrooms: dict[str, int]
    court_id: int | None = None

    @classmethod
    def read(cls, session: Session, *, court: str | None = None) -> _Refs:
        court_id = court_by_code(session, court)
        depts: dict[str, int] = {}
        for d in session.exec(select(Department).where(Department.court_id == court_id)).all():
            assert d.id is not None
            depts.setdefault(d.name, d.id)
            depts[d.code] = d.id
        rooms: dict[str, int] = {}
        for r in session.exec(select(Courtroom).where(Courtroom.court_id == court_id)).all():
            assert r.id is not None
            rooms.setdefault(r.name, r.id)
            rooms[r.code] = r.id
        return cls(depts, rooms, court_id)


def _columns_of(
    rows: list[tuple[int, HearingCreate]], refs: _Refs
) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Every row as the hearing table's columns, references resolved (pure)."""
    out: list[dict[str, Any]] = []
    errors: list[RowError] = []
    for number, data in rows:
        dept = refs.departments.get(data.department)
        room = refs.courtrooms.get(data.courtroom)
        if dept is None:
            errors.append(RowError(number, "department", f"unknown department {data.department!r}"))
        if room is None:
            errors.append(RowError(number, "courtroom", f"unknown courtroom {data.courtroom!r}"))
        if dept is None or room is None:
            continue
        out.append(columns(data, parse_case_number(data.case_number), dept, room))
    return out, errors


def parse_file(
    path: Path,
    *,
    zone: ZoneInfo,
    encoding: str | None = None,
    progress: bool = False,
    shift: timedelta | None = None,
) -> list[tuple[int, HearingCreate]]:
    """Every row of the file, validated, with no database. Raises only ImportFailed."""
    try:
        records = list(read_records(path, encoding=encoding))
    except (UnicodeDecodeError, LookupError) as exc:
        raise ImportFailed([RowError(0, "(file)", f"cannot decode: {exc}")]) from exc
    except json.JSONDecodeError as exc:
        raise ImportFailed([RowError(exc.lineno, "(file)", f"invalid JSON: {exc.msg}")]) from exc
    except (csv.Error, RecursionError) as exc:
        raise ImportFailed([RowError(0, "(file)", f"invalid file: {exc}")]) from exc
    if progress and len(records) >= PROGRESS_THRESHOLD:
        from tqdm import tqdm

        records = list(tqdm(records, desc="validating", unit="row"))
    rows, errors = validate_records(records, zone=zone)
    if errors:
        raise ImportFailed(errors)
    if shift:
        rows = [
            (n, d.model_copy(update={"start": d.start + shift, "end": d.end + shift}))
            for n, d in rows
        ]
    return rows


def import_file(
    *,
    db: Database,
    path: Path,
    zone: ZoneInfo,
    actor: str,
    rules: Ruleset,
    timing: Timing | None = None,
    encoding: str | None = None,
    progress: bool = False,
    shift: timedelta | None = None,
    court: str | None = None,
) -> ImportResult:
    """Validate everything first, outside any write; then write in one short transaction
    with bulk statements, and re-plan the booked hearings it moved (as the API does).

    `shift` moves every session in time (the demo moves the sample fortnight to this week).
    `court`: the court's code the file is for, needed once the deployment holds several
    (a ValueError otherwise, before anything is read).
    """
    started = time.perf_counter()
    refs = db.call(_Refs.read, court=court)
    rows = parse_file(path, zone=zone, encoding=encoding, progress=progress, shift=shift)
    values, ref_errors = _columns_of(rows, refs)
    if ref_errors:
        raise ImportFailed(ref_errors)
    validated = time.perf_counter()
    aftermath = Aftermath(zone=zone, timing=timing or Timing.of(Settings()), rules=rules)
    result = db.call(
        _write,
        values=values,
        actor=actor,
        aftermath=aftermath,
        court_id=refs.court_id,
        numbers=[n for n, _ in rows],
    )
    result.validate_seconds = validated - started
    result.write_seconds = time.perf_counter() - validated
    return result


def _write(
    session: Session,
    *,
    values: list[dict[str, Any]],
    actor: str,
    aftermath: Aftermath,
    court_id: int | None,
    numbers: list[int],
) -> ImportResult:
    """The write transaction: one read of the hearings the file names, one bulk insert of
    the new ones, one bulk update of the changed ones, their audit entries in bulk."""
    if session.get_bind().dialect.name == "postgresql":
        planning.lock(session)  # the import and the planner do not interleave
    now = utcnow()
    stamp = (now, now.isoformat())
    existing: dict[tuple[str, datetime], Hearing] = {}
    for batch in in_batches(sorted({v["case_number"] for v in values})):
        for h in session.exec(select(Hearing).where(col(Hearing.case_number).in_(batch))):
            existing[(h.case_number, h.planned_start)] = h
    # Only the court's own hearings are updated: another court's with the same case number
    # and start is not this file's to change, and the whole file is refused.
    ours: set[int | None] = set()
    for batch in in_batches(sorted(h.id for h in existing.values() if h.id is not None)):
        ours |= set(
            session.exec(
                select(Hearing.id).where(col(Hearing.id).in_(batch), hearings_of(court_id))
            ).all()
        )
    foreign = [
        RowError(number, "case_number", f"{v['case_number']}: another court's hearing, same start")
        for number, v in zip(numbers, values, strict=True)
        if (old := existing.get((v["case_number"], v["planned_start"]))) is not None
        and old.id not in ours
    ]
    if foreign:
        raise ImportFailed(foreign)
    result = ImportResult()
    fresh: list[dict[str, Any]] = []
    changed: list[tuple[Hearing, dict[str, Any]]] = []
    order: list[tuple[str, int]] = []  # ("new", index in fresh) or ("old", hearing id)
    for v in values:
        old = existing.get((v["case_number"], v["planned_start"]))
        if old is None:
            order.append(("new", len(fresh)))
            fresh.append(v | {"status": "scheduled", "created_at": now, "updated_at": now})
            continue
        assert old.id is not None
        order.append(("old", old.id))
        diff = {k: x for k, x in v.items() if getattr(old, k) != x}
        if diff:
            changed.append((old, diff))
        else:
            result.unchanged += 1
    # Straight to the driver's executemany, not the ORM's unit of work (streamd.bulk).
    conn = session.connection()
    new_ids = insert_many(conn, Hearing.__table__, fresh, ids=True)  # type: ignore[attr-defined]
    audits: list[dict[str, Any]] = [
        _entry(now, actor, "hearing.create", i, None, _plain(v | {"id": i}, stamp=stamp))
        for i, v in zip(new_ids, fresh, strict=True)
    ]
    if changed:
        updates = [{"id": h.id, **diff, "updated_at": now} for h, diff in changed]
        for h, diff in changed:
            before = audit.snapshot(h)
            audits.append(_entry(now, actor, "hearing.update", h.id, before, before | _plain(diff)))
        session.execute(sa.update(Hearing), updates)
    if audits:
        insert_many(conn, AuditEntry.__table__, audits)  # type: ignore[attr-defined]
    result.created, result.updated = len(fresh), len(changed)
    result.hearing_ids = [new_ids[i] if kind == "new" else i for kind, i in order]
    result.days_replanned = aftermath.hearings_changed(
        session,
        actor,
        created=list(zip(new_ids, fresh, strict=True)),
        changed=[h for h, _ in changed],
    )
    return result


_TIMES = ("planned_start", "planned_end", "created_at", "updated_at")


def _plain(values: dict[str, Any], *, stamp: tuple[datetime, str] | None = None) -> dict[str, Any]:
    """The audit's JSON form of a row's columns (audit.snapshot's, for plain values);
    `stamp` is the import's own time and its ISO form, written once, not once a row."""
    out = dict(values)
    for name in _TIMES:
        if name in out:
            at = out[name]
            out[name] = stamp[1] if stamp is not None and at is stamp[0] else at.isoformat()
    return out


def _entry(
    at: datetime,
    actor: str,
    action: str,
    object_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "object_type": Hearing.__tablename__,
        "object_id": str(object_id),
        "before": before,
        "after": after,
    }
