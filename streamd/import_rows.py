"""The importer's fast path for one row: a well-formed row checked with plain code, not
a pydantic model per row (a court's year is 60,000 rows; the model cost 70 µs each).

`fast_row` either returns exactly the `HearingCreate` pydantic would have built, or None
when anything is unusual (a type, a length, a time written another way, a refusal); the
importer then validates that row with the model itself, so every error message, field and
row number stays the model's. A property test checks the two agree (tests/test_import_rows).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from streamd.casenumber import CaseNumberError, parse_case_number
from streamd.domain import Procedure, SessionKind
from streamd.hearings import HearingCreate, check_consistency
from streamd.validation import MAX_YEAR, MIN_YEAR

FIELDS = frozenset(HearingCreate.model_fields)
REQUIRED = ("case_number", "cause", "public", "parties", "handler_judge", "clerk")
# Plain text fields and their longest length (HearingCreate's Field limits).
TEXT_LIMITS = (
    ("cause", 128),
    ("handler_judge", 64),
    ("clerk", 64),
    ("department", 32),
    ("courtroom", 32),
)
CASE_NUMBER_LIMIT = 64
REASON_LIMIT = 256
PARTY_LIMIT = 128
MAX_PARTIES = 50
PROCEDURES = {p.value: p for p in Procedure}
SESSION_KINDS = {k.value: k for k in SessionKind}
# The one way court exports write a local time; anything else goes to the model.
_LOCAL_TIME = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?")


def _text(value: Any, limit: int) -> bool:
    return type(value) is str and 0 < len(value) <= limit and value == value.strip()


def _local_time(value: Any, zone: ZoneInfo) -> datetime | None:
    if type(value) is not str or _LOCAL_TIME.fullmatch(value) is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)  # the pattern is a subset of ISO 8601's
    except ValueError:
        return None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None
    return parsed.replace(tzinfo=zone)


_set = object.__setattr__


def _built(values: dict[str, Any], fields_set: set[str]) -> HearingCreate:
    """`HearingCreate.model_construct(**values)` for values that are all given and already
    valid, at a fraction of its cost (it walks every field's defaults and aliases)."""
    model = HearingCreate.__new__(HearingCreate)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", fields_set)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def fast_row(data: dict[str, Any], *, zone: ZoneInfo) -> HearingCreate | None:
    """The validated hearing of a normalised row, or None: let the model decide."""
    if not data.keys() <= FIELDS or any(name not in data for name in REQUIRED):
        return None
    for name, limit in TEXT_LIMITS:
        if name in data and not _text(data[name], limit):
            return None
    if "department" not in data or "courtroom" not in data:
        return None
    public = data["public"]
    parties = data["parties"]
    if type(public) is not bool or type(parties) is not list:
        return None
    if not 0 < len(parties) <= MAX_PARTIES or not all(_text(p, PARTY_LIMIT) for p in parties):
        return None
    reason = data.get("non_public_reason")
    if reason is not None and not (
        type(reason) is str and len(reason) <= REASON_LIMIT and reason == reason.strip()
    ):
        return None
    procedure = data.get("procedure")
    if procedure is not None:
        procedure = PROCEDURES.get(procedure) if type(procedure) is str else None
        if procedure is None:
            return None
    kind: SessionKind | None = SessionKind.HEARING
    if "session_kind" in data:
        given = data["session_kind"]
        kind = SESSION_KINDS.get(given) if type(given) is str else None
        if kind is None:
            return None
    start, end = _local_time(data.get("start"), zone), _local_time(data.get("end"), zone)
    raw_number = data["case_number"]
    if start is None or end is None or not _text(raw_number, CASE_NUMBER_LIMIT):
        return None
    try:
        case_number = parse_case_number(raw_number).canonical
        check_consistency(
            case_number=case_number,
            procedure=procedure,
            public=public,
            non_public_reason=reason,
            start=start,
            end=end,
        )
    except (CaseNumberError, ValueError):
        return None
    return _built(
        {
            "case_number": case_number,
            "cause": data["cause"],
            "procedure": procedure,
            "session_kind": kind,
            "public": public,
            "non_public_reason": reason,
            "parties": list(parties),
            "handler_judge": data["handler_judge"],
            "clerk": data["clerk"],
            "department": data["department"],
            "courtroom": data["courtroom"],
            "start": start,
            "end": end,
        },
        set(data),
    )
