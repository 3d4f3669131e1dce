"""Import hearings from the case-management system's CSV or JSON exports.

All-or-nothing: every row is validated (fields, then references to departments and
courtrooms) before anything is written, and the writes happen in one transaction. Errors
name the row (spreadsheet line number for CSV, 1-based item for JSON), the field and why.
Re-importing a file updates hearings in place (key: case number + session start).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlmodel import Session

from streamd import approvals
from streamd.hearings import HearingCreate, UnknownReference, upsert_hearing
from streamd.policy import Ruleset
from streamd.validation import text_problem

# Header aliases: court exports use Chinese headers, scripts use the API's English names.
HEADERS: dict[str, str] = {
    "案号": "case_number",
    "案由": "cause",
    "程序": "procedure",
    "审理程序": "procedure",
    "庭审类型": "session_kind",
    "类型": "session_kind",
    "是否公开": "public",
    "不公开理由": "non_public_reason",
    "当事人": "parties",
    "承办法官": "handler_judge",
    "书记员": "clerk",
    "部门": "department",
    "审判庭": "department",
    "法庭": "courtroom",
    "开始时间": "start",
    "结束时间": "end",
}
VALUE_ALIASES: dict[str, dict[str, Any]] = {
    "procedure": {"一审": "first_instance", "二审": "second_instance", "再审": "retrial"},
    "session_kind": {
        "开庭": "hearing",
        "庭审": "hearing",
        "庭前证据交换": "evidence_exchange",
        "证据交换": "evidence_exchange",
        "质证": "cross_examination",
        "庭询": "inquiry",
    },
    "public": {
        "是": True,
        "公开": True,
        "true": True,
        "1": True,
        "yes": True,
        "否": False,
        "不公开": False,
        "false": False,
        "0": False,
        "no": False,
    },
}
PARTY_SEPARATORS = ("；", ";", "、", "|")
PROGRESS_THRESHOLD = 500  # rows; below this a progress bar is noise


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.reason}"


class ImportFailed(Exception):
    """Nothing was written; `errors` says why, row by row."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        shown = "\n".join(f"  {e}" for e in errors[:50])
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"import refused, nothing written ({len(errors)} errors):\n{shown}{more}")


@dataclass(slots=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    hearing_ids: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def decode(raw: bytes, encoding: str | None = None) -> str:
    """UTF-8 (with or without BOM) first; court exports are often GBK, so GB18030 next."""
    if encoding:
        return raw.decode(encoding)
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def _normalise(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key is None:
            raise ValueError("more cells than headers")
        name = HEADERS.get(key.strip(), key.strip())
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
            aliases = VALUE_ALIASES.get(name)
            if aliases is not None:
                value = aliases.get(value.lower(), aliases.get(value, value))
            if name == "parties":
                for sep in PARTY_SEPARATORS[1:]:
                    value = value.replace(sep, PARTY_SEPARATORS[0])
                value = [p.strip() for p in value.split(PARTY_SEPARATORS[0]) if p.strip()]
        out[name] = value
    return out


def read_records(
    path: Path, *, encoding: str | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (row number, raw record) from a CSV or JSON file."""
    raw = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = json.loads(decode(raw, encoding))
        if isinstance(data, dict) and "hearings" in data:
            data = data["hearings"]
        if not isinstance(data, list):
            raise ImportFailed([RowError(0, "(file)", "expected a list of hearings")])
        for i, item in enumerate(data, start=1):
            if not isinstance(item, dict):
                raise ImportFailed([RowError(i, "(item)", "expected an object")])
            yield i, item
    elif suffix in (".csv", ".txt"):
        text = decode(raw, encoding)
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for record in reader:
            yield reader.line_num, dict(record)
    else:
        raise ImportFailed([RowError(0, "(file)", f"unsupported file type {suffix!r}")])


def _field_of(err: Any) -> str:
    loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
    return ".".join(loc) or "(row)"


def _text_errors(number: int, record: dict[str, Any]) -> list[RowError]:
    """The API's rule for text, applied to every cell (streamd.validation)."""
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
            normalised = _normalise(record)
        except ValueError as exc:
            errors.append(RowError(number, "(row)", str(exc)))
            continue
        bad_text = _text_errors(number, normalised)
        if bad_text:
            errors.extend(bad_text)
            continue
        try:
            data = HearingCreate.model_validate(normalised, context={"zone": zone})
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


def import_file(
    *,
    session: Session,
    path: Path,
    zone: ZoneInfo,
    actor: str,
    encoding: str | None = None,
    progress: bool = False,
    shift: timedelta | None = None,
    rules: Ruleset,
) -> ImportResult:
    """Validate everything, then write everything in the caller's transaction.

    `shift` moves every session in time (the demo moves the sample fortnight to this week).
    """
    try:
        records = list(read_records(path, encoding=encoding))
    except (UnicodeDecodeError, LookupError) as exc:
        raise ImportFailed([RowError(0, "(file)", f"cannot decode: {exc}")]) from exc
    except json.JSONDecodeError as exc:
        raise ImportFailed([RowError(exc.lineno, "(file)", f"invalid JSON: {exc.msg}")]) from exc
    except csv.Error as exc:
        raise ImportFailed([RowError(0, "(file)", f"invalid CSV: {exc}")]) from exc
    rows, errors = validate_records(records, zone=zone)
    if errors:
        raise ImportFailed(errors)
    if shift:
        rows = [
            (n, d.model_copy(update={"start": d.start + shift, "end": d.end + shift}))
            for n, d in rows
        ]
    result = ImportResult()
    iterator: Iterable[tuple[int, HearingCreate]] = rows
    if progress and len(rows) >= PROGRESS_THRESHOLD:
        from tqdm import tqdm

        iterator = tqdm(rows, desc="importing", unit="row")
    ref_errors: list[RowError] = []
    for number, data in iterator:
        try:
            row, outcome = upsert_hearing(session=session, data=data, actor=actor)
        except UnknownReference as exc:
            ref_errors.append(RowError(number, exc.field, str(exc)))
            continue
        assert row.id is not None
        approvals.sync_rule_records(session=session, hearing=row, rules=rules, actor=actor)
        result.hearing_ids.append(row.id)
        setattr(result, outcome, getattr(result, outcome) + 1)
    if ref_errors:
        raise ImportFailed(ref_errors)  # the caller's transaction rolls back: nothing written
    return result
