"""Reading a case-management export: CSV or JSON, UTF-8 or GB18030, Chinese or English
headers, court spellings of values (是/否, 一审, 开庭), parties in one cell.

Only the reading: what a row means is `hearings.HearingCreate`'s to say, and what is
written is `importer`'s. An unreadable file is refused whole (`ImportFailed`), named by row.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "HEADERS",
    "VALUE_ALIASES",
    "ImportFailed",
    "RowError",
    "decode",
    "normalise",
    "read_records",
]

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


@functools.lru_cache(maxsize=256)
def column(header: str) -> tuple[str, dict[str, Any] | None, bool]:
    """A header's field name, its value aliases and whether it lists parties (once a file)."""
    stripped = header.strip()
    name = HEADERS.get(stripped, stripped)
    return name, VALUE_ALIASES.get(name), name == "parties"


def normalise(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key is None:
            raise ValueError("more cells than headers")
        name, aliases, parties = column(key)
        if isinstance(value, str):
            value = value.strip()
            if not value:
                continue
            if aliases is not None:
                value = aliases.get(value.lower(), aliases.get(value, value))
            elif parties:
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
