"""What input streamd accepts at its edges, and where in a document it went wrong.

Text without control characters and dates in a sane range (one rule for the API, the
importer and query parameters alike); and the place in a JSON document where validation
failed, named the way a person reads it.

`hearings[3] (id 'H4').priority` rather than pydantic's `('hearings', 3, 'priority')`:
whoever fixes the file searches for the id, not for the fourth element.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator

# ---- what text and times streamd accepts at all --------------------------------------------

# A court schedules hearings, months and outages within living memory and the foreseeable
# future. Outside this range a date is a typing error, and near the calendar's ends the
# arithmetic on it (pre-roll, post-roll, week spans) overflows.
MIN_YEAR = 2000
MAX_YEAR = 2099
# C0 controls but tab, newline and carriage return; DEL; the C1 controls. They mean nothing
# in a name or reason, break XML (the XLSX export) and confuse terminals and logs.
_FORBIDDEN = frozenset(
    chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]
)


class TextError(ValueError):
    pass


_BAD = re.compile("[" + "".join(re.escape(c) for c in sorted(_FORBIDDEN)) + "\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` is not acceptable text, or None. (NUL is one of the controls.)"""
    found = _BAD.search(value)
    if found is None:
        return None
    ch = found.group()
    if 0xD800 <= ord(ch) <= 0xDFFF:
        return "is not valid Unicode text"
    return f"contains the control character U+{ord(ch):04X}"


def check_text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise TextError(problem)
    return value


def check_year(value: date) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the year {value.year} is outside {MIN_YEAR}–{MAX_YEAR}")


def sane_datetime(value: datetime) -> datetime:
    check_year(value)
    return value


def _sane_date(value: date) -> date:
    check_year(value)
    return value


SaneDateTime = Annotated[datetime, AfterValidator(sane_datetime)]
SaneDate = Annotated[date, AfterValidator(_sane_date)]
