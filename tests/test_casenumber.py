"""Case numbers: the forms courts print are accepted; garbage is refused naming the part."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamd.casenumber import (
    CASE_TYPES,
    PROVINCES,
    CaseNumberError,
    Procedure,
    parse_case_number,
)


@pytest.mark.parametrize(
    ("raw", "year", "court", "code", "seq", "procedure"),
    [
        ("（2024）粤0111民初1234号", 2024, "粤0111", "民初", 1234, Procedure.FIRST_INSTANCE),
        ("(2024)粤0111民初1234号", 2024, "粤0111", "民初", 1234, Procedure.FIRST_INSTANCE),
        ("（2023）粤01民终88号", 2023, "粤01", "民终", 88, Procedure.SECOND_INSTANCE),
        ("（2025）粤0111刑初7号", 2025, "粤0111", "刑初", 7, Procedure.FIRST_INSTANCE),
        ("（2025）粤0111民再3号", 2025, "粤0111", "民再", 3, Procedure.RETRIAL),
        ("（2026）京0105执恢45号", 2026, "京0105", "执恢", 45, Procedure.ENFORCEMENT),
        ("（2026）粤0111执123号", 2026, "粤0111", "执", 123, Procedure.ENFORCEMENT),
        ("（2022）最高法民申1号", 2022, "最高法", "民申", 1, Procedure.RETRIAL_REVIEW),
        ("（2024）粤行终9号", 2024, "粤", "行终", 9, Procedure.SECOND_INSTANCE),
        (" （2024） 粤0111 民初 1234号 ", 2024, "粤0111", "民初", 1234, Procedure.FIRST_INSTANCE),
    ],
)
def test_accepts_real_forms(
    raw: str, year: int, court: str, code: str, seq: int, procedure: Procedure
) -> None:
    parsed = parse_case_number(raw)
    assert (parsed.year, parsed.court_code, parsed.type_code, parsed.sequence) == (
        year,
        court,
        code,
        seq,
    )
    assert parsed.case_type.procedure is procedure
    assert parsed.canonical == f"（{year}）{court}{code}{seq}号"


@pytest.mark.parametrize(
    ("raw", "part", "fragment"),
    [
        ("", "case number", "empty"),
        ("2024粤0111民初1234号", "year", "（"),
        ("（24）粤0111民初1234号", "year", "4 digits"),
        ("（1900）粤0111民初1234号", "year", "outside"),
        ("（2024粤0111民初1234号", "year", "followed by"),
        ("（2024）X0111民初1234号", "court code", "province"),
        ("（2024）粤011民初1234号", "court code", "0, 2 or 4 digits"),
        ("（2024）粤0111民X1234号", "case type", "unknown code '民X'"),
        ("（2024）粤01111234号", "court code", "found 8"),
        ("（2024）粤0111民初号", "sequence", "missing"),
        ("（2024）粤0111民初0号", "sequence", "1 or more"),
        ("（2024）粤0111民初１２号", "case type", "unknown code '民初１２'"),
        ("（2024）粤0111民初1234", "suffix", "号"),
        ("（2024）粤0111民初1234号之一", "suffix", "之一"),
    ],
)
def test_refuses_naming_the_part(raw: str, part: str, fragment: str) -> None:
    with pytest.raises(CaseNumberError) as info:
        parse_case_number(raw)
    assert info.value.part == part
    assert fragment in str(info.value)


@given(
    year=st.integers(1978, 2099),
    province=st.sampled_from(sorted(PROVINCES)),
    digits=st.sampled_from(["", "01", "0111"]),
    code=st.sampled_from(sorted(CASE_TYPES)),
    seq=st.integers(1, 10**7),
    ascii_parens=st.booleans(),
)
def test_round_trip(
    year: int, province: str, digits: str, code: str, seq: int, ascii_parens: bool
) -> None:
    o, c = ("(", ")") if ascii_parens else ("（", "）")
    parsed = parse_case_number(f"{o}{year}{c}{province}{digits}{code}{seq}号")
    assert parse_case_number(parsed.canonical) == parsed
    assert (parsed.year, parsed.court_code, parsed.type_code, parsed.sequence) == (
        year,
        province + digits,
        code,
        seq,
    )


@given(st.text(max_size=40))
def test_garbage_only_ever_raises_case_number_error(text: str) -> None:
    try:
        parse_case_number(text)
    except CaseNumberError as exc:
        assert exc.part and exc.reason
