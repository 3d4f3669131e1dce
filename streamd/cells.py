"""Spreadsheet cells that stay data: what the report writers do to text people typed.

A reason, a party or a handler's name comes from users. In a spreadsheet a text starting
with `=`, `+`, `-` or `@` (or a tab or carriage return before one) is a formula to Excel,
LibreOffice and WPS alike: `=HYPERLINK(...)` or `=cmd|' /C calc'!A0` runs on the reader's
machine (OWASP, "CSV Injection"). The CSV gets OWASP's remedy, a leading apostrophe; the
XLSX writes every text cell with the string type, so it is never read as a formula. Text
that XML cannot hold (control characters stored before the API refused them) becomes
U+FFFD rather than failing the whole report.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What XML 1.0 cannot carry: the C0 controls but tab, newline and carriage return.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
REPLACEMENT = "\ufffd"


def xml_safe(text: str) -> str:
    return _NOT_XML.sub(REPLACEMENT, text)


def csv_cell(value: object) -> object:
    """A CSV cell: user text neutralised per OWASP; numbers as they are."""
    if not isinstance(value, str):
        return value
    text = xml_safe(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
