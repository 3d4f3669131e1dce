"""Chinese court case numbers (案号), e.g. `（2024）粤0111民初1234号`.

The parser walks the number left to right so that a refusal names the part at fault:
court exports mix full-width and ASCII parentheses and stray spaces, and a clerk fixing
a spreadsheet needs to know *which* part is wrong, not that "the regex failed".
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum


class Procedure(StrEnum):
    """The procedure a case-type code implies (what the policy and the hearing model use)."""

    FIRST_INSTANCE = "first_instance"
    SECOND_INSTANCE = "second_instance"
    RETRIAL = "retrial"
    RETRIAL_REVIEW = "retrial_review"
    ENFORCEMENT = "enforcement"
    PRESERVATION = "preservation"
    BANKRUPTCY = "bankruptcy"
    SPECIAL = "special"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class CaseType:
    code: str
    category: str  # civil / criminal / administrative / enforcement / ...
    procedure: Procedure
    name_zh: str


def _types(*rows: tuple[str, str, Procedure, str]) -> dict[str, CaseType]:
    return {code: CaseType(code, cat, proc, zh) for code, cat, proc, zh in rows}


P = Procedure
CASE_TYPES: dict[str, CaseType] = _types(
    ("民初", "civil", P.FIRST_INSTANCE, "民事一审"),
    ("民终", "civil", P.SECOND_INSTANCE, "民事二审"),
    ("民再", "civil", P.RETRIAL, "民事再审"),
    ("民申", "civil", P.RETRIAL_REVIEW, "民事申请再审审查"),
    ("民特", "civil", P.SPECIAL, "民事特别程序"),
    ("民催", "civil", P.SPECIAL, "公示催告"),
    ("民辖", "civil", P.OTHER, "管辖"),
    ("民撤", "civil", P.FIRST_INSTANCE, "第三人撤销之诉"),
    ("刑初", "criminal", P.FIRST_INSTANCE, "刑事一审"),
    ("刑终", "criminal", P.SECOND_INSTANCE, "刑事二审"),
    ("刑再", "criminal", P.RETRIAL, "刑事再审"),
    ("刑申", "criminal", P.RETRIAL_REVIEW, "刑事申诉审查"),
    ("刑更", "criminal", P.SPECIAL, "减刑假释"),
    ("行初", "administrative", P.FIRST_INSTANCE, "行政一审"),
    ("行终", "administrative", P.SECOND_INSTANCE, "行政二审"),
    ("行再", "administrative", P.RETRIAL, "行政再审"),
    ("行申", "administrative", P.RETRIAL_REVIEW, "行政申请再审审查"),
    ("行审", "administrative", P.SPECIAL, "非诉行政执行审查"),
    ("执", "enforcement", P.ENFORCEMENT, "首次执行"),
    ("执恢", "enforcement", P.ENFORCEMENT, "恢复执行"),
    ("执异", "enforcement", P.ENFORCEMENT, "执行异议"),
    ("执复", "enforcement", P.ENFORCEMENT, "执行复议"),
    ("执保", "enforcement", P.PRESERVATION, "财产保全执行"),
    ("财保", "preservation", P.PRESERVATION, "财产保全"),
    ("破", "bankruptcy", P.BANKRUPTCY, "破产"),
    ("破申", "bankruptcy", P.BANKRUPTCY, "破产申请审查"),
    ("司惩", "judicial_sanction", P.OTHER, "司法制裁"),
    ("赔", "state_compensation", P.OTHER, "国家赔偿"),
)

# Province-level abbreviations used as the first character of a court code; 兵 is the
# Xinjiang Production and Construction Corps courts.
PROVINCES = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼兵")
SUPREME_COURT = "最高法"
MIN_YEAR = 1978
MAX_YEAR = 2099
OPEN_PARENS = "（("
CLOSE_PARENS = "）)"


class CaseNumberError(ValueError):
    """The case number is malformed; `part` names the piece at fault."""

    def __init__(self, raw: str, part: str, reason: str) -> None:
        self.raw = raw
        self.part = part
        self.reason = reason
        super().__init__(f"case number {raw!r}: {part}: {reason}")


@dataclass(frozen=True, slots=True)
class CaseNumber:
    year: int
    court_code: str
    case_type: CaseType
    sequence: int

    @property
    def type_code(self) -> str:
        return self.case_type.code

    @property
    def canonical(self) -> str:
        """The form with full-width parentheses, as courts print it."""
        return f"（{self.year}）{self.court_code}{self.case_type.code}{self.sequence}号"

    def __str__(self) -> str:
        return self.canonical


_DIGITS = re.compile("[0-9]*")  # ASCII digits only: '²' and '٣' are not a year
_TYPE_CODE = re.compile("[^0-9号]*")


def _take_digits(text: str, pos: int) -> tuple[str, int]:
    end = _DIGITS.match(text, pos).end()  # type: ignore[union-attr]  # `*` always matches
    return text[pos:end], end


@functools.lru_cache(maxsize=65536)  # pure, and an import parses each number three times
def parse_case_number(raw: str) -> CaseNumber:
    """Parse a case number; raise CaseNumberError naming the bad part."""
    text = "".join(raw.split())  # spaces inside come from copy-paste, never meaningful
    if not text:
        raise CaseNumberError(raw, "case number", "is empty")
    if text[0] not in OPEN_PARENS:
        raise CaseNumberError(raw, "year", "must start with （ or ( before the year")
    year_text, pos = _take_digits(text, 1)
    if len(year_text) != 4:
        raise CaseNumberError(raw, "year", f"expected 4 digits, found {year_text or 'none'!r}")
    year = int(year_text)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise CaseNumberError(raw, "year", f"{year} is outside {MIN_YEAR}–{MAX_YEAR}")
    if pos >= len(text) or text[pos] not in CLOSE_PARENS:
        raise CaseNumberError(raw, "year", "must be followed by ） or )")
    pos += 1

    if text.startswith(SUPREME_COURT, pos):
        court_code = SUPREME_COURT
        pos += len(SUPREME_COURT)
    else:
        if pos >= len(text) or text[pos] not in PROVINCES:
            found = text[pos] if pos < len(text) else "nothing"
            raise CaseNumberError(
                raw,
                "court code",
                f"expected a province abbreviation (粤, 京, ...), found {found!r}",
            )
        digits, end = _take_digits(text, pos + 1)
        if len(digits) not in (0, 2, 4):
            raise CaseNumberError(
                raw,
                "court code",
                f"{text[pos:end]!r}: expected 0, 2 or 4 digits after the province, "
                f"found {len(digits)}",
            )
        court_code = text[pos:end]
        pos = end

    type_end = _TYPE_CODE.match(text, pos).end()  # type: ignore[union-attr]
    type_code = text[pos:type_end]
    if not type_code:
        raise CaseNumberError(raw, "case type", "missing (e.g. 民初, 刑初, 执)")
    case_type = CASE_TYPES.get(type_code)
    if case_type is None:
        raise CaseNumberError(raw, "case type", f"unknown code {type_code!r}")
    seq_text, pos = _take_digits(text, type_end)
    if not seq_text:
        raise CaseNumberError(raw, "sequence", "missing the case's sequence number")
    sequence = int(seq_text)
    if sequence == 0:
        raise CaseNumberError(raw, "sequence", "must be 1 or more")
    if pos >= len(text) or text[pos] != "号":
        raise CaseNumberError(raw, "suffix", "must end with 号")
    if pos + 1 != len(text):
        raise CaseNumberError(raw, "suffix", f"unexpected text after 号: {text[pos + 1 :]!r}")
    return CaseNumber(year=year, court_code=court_code, case_type=case_type, sequence=sequence)
