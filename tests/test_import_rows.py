"""The importer's fast path agrees with the model it stands in for, and its bulk insert
stores exactly what SQLAlchemy would have stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlmodel import select

from streamd.bulk import insert_many
from streamd.domain import Procedure, SessionKind
from streamd.hearings import HearingCreate
from streamd.import_read import normalise, read_records
from streamd.import_rows import fast_row
from streamd.models import Courtroom, Department, Hearing
from streamd.store import Database
from tests.conftest import SAMPLE_CSV

ZONE = ZoneInfo("Asia/Shanghai")
NUMBERS = [
    "（2027）粤0111民初1号",
    "(2027)粤0111民初12号",
    "（2027）粤0111刑初3号",
    "（2027）粤0111民终3号",
    "（2027） 粤0111民初1号",
    "（1999）粤0111民初1号",
    "（2027）粤0111民初0号",
    "（2027）粤0111民初١号",
    "x" * 65,
]
TIMES = [
    "2027-01-04 09:00",
    "2027-01-04T09:30:15",
    "2027-01-04 10:00",
    "2027-01-05 08:00",
    "2027-01-04t09:00",
    "2027-01-04 24:00",
    "2027-02-30 09:00",
    "1999-12-31 09:00",
    "2100-01-01 09:00",
    "2027-01-04 09:00+08:00",
    "2027-01-04",
    "2027-1-4 9:00",
    "２０２７-01-04 09:00",
    "1798761600",
]


names = ["李明", "王敏", "a" * 64, "civil-1", "room-01"]
valid_row = st.fixed_dictionaries(
    {
        "case_number": st.sampled_from(NUMBERS[:5]),
        "cause": st.sampled_from(["民间借贷纠纷", "c" * 128]),
        "public": st.booleans(),
        "parties": st.sampled_from([["原告 张伟"], ["a" * 128] * 50, ["甲", "乙"]]),
        "handler_judge": st.sampled_from(names),
        "clerk": st.sampled_from(names),
        "department": st.sampled_from(names[1:]),
        "courtroom": st.sampled_from(names[1:]),
        "start": st.sampled_from(TIMES[:2]),
        "end": st.sampled_from(TIMES[2:4]),
    },
    optional={
        "procedure": st.sampled_from(["first_instance", "second_instance", "retrial", None]),
        "session_kind": st.sampled_from(["hearing", "inquiry", "evidence_exchange"]),
        "non_public_reason": st.sampled_from(["涉及个人隐私", None, "r" * 256]),
    },
)
odd = st.one_of(
    st.text(max_size=140),
    st.integers(),
    st.booleans(),
    st.none(),
    st.sampled_from(
        [*NUMBERS, *TIMES, " 李明", "a" * 65, "r" * 257, "a\u3000", "yes", "on", "开庭", "x" * 33]
    ),
    st.sampled_from(["FIRST_INSTANCE", "first_instance", "inquiry", "", "原告"]),
    st.lists(st.text(max_size=130), max_size=52),
    st.just(["x"] * 51),
    st.just([]),
    st.lists(st.integers(), max_size=2),
)
fields = [*HearingCreate.model_fields, "id"]
mutations = st.lists(st.tuples(st.sampled_from(fields), st.one_of(odd, st.just(...))), max_size=2)


def _mutated(base: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(base)
    for name, value in changes:
        if value is ...:
            out.pop(name, None)
        else:
            out[name] = value
    return out


row = st.builds(_mutated, valid_row, mutations)


@settings(max_examples=300)
@given(row)
def test_the_fast_path_builds_what_the_model_builds_or_stands_aside(data: dict[str, Any]) -> None:
    fast = fast_row(data, zone=ZONE)
    event("fast path" if fast is not None else "left to the model")
    if fast is None:
        return
    try:
        model = HearingCreate.model_validate(data, context={"zone": ZONE})
    except ValidationError as exc:
        raise AssertionError(f"the fast path took a row the model refuses: {exc}") from None
    assert fast == model
    assert fast.model_dump() == model.model_dump()
    assert fast.model_fields_set == model.model_fields_set
    assert {k: type(v) for k, v in vars(fast).items()} == {
        k: type(v) for k, v in vars(model).items()
    }


def _agree(data: dict[str, Any]) -> bool:
    """Whether the fast path builds what the model builds; True if it stood aside."""
    fast = fast_row(data, zone=ZONE)
    if fast is None:
        return True
    try:
        model = HearingCreate.model_validate(data, context={"zone": ZONE})
    except ValidationError:
        return False
    types = {k: type(v) for k, v in vars(fast).items()}
    return (
        fast == model
        and fast.model_fields_set == model.model_fields_set
        and types == {k: type(v) for k, v in vars(model).items()}
    )


NEAR_MISSES: list[Any] = [
    *NUMBERS,
    *TIMES,
    *(n * c for n in (0, 1, 32, 33, 64, 65, 128, 129, 256, 257) for c in ("a", "甲")),
    *([["a"] * n for n in (0, 1, 50, 51)]),
    ["a" * 128],
    ["a" * 129],
    [""],
    [" a"],
    ["a", 1],
    " a",
    "a ",
    "a\u3000",
    *(True, False, 0, 1, 2, 1.0, "true", "1", "on", "yes", None),
    *(p.value for p in Procedure),
    "FIRST_INSTANCE",
    *(k.value for k in SessionKind),
    "HEARING",
    1798761600,
    ...,  # the field absent
]
BASE = {
    "case_number": "（2027）粤0111民初1号",
    "cause": "民间借贷纠纷",
    "public": False,
    "non_public_reason": "涉及个人隐私",
    "parties": ["原告 张伟"],
    "handler_judge": "李明",
    "clerk": "王敏",
    "department": "civil-1",
    "courtroom": "room-01",
    "start": "2027-01-04 09:00",
    "end": "2027-01-04 10:00",
}


def test_every_field_at_its_edges_agrees_with_the_model() -> None:
    assert fast_row(BASE, zone=ZONE) is not None
    wrong = [
        (name, value)
        for name in fields
        for value in NEAR_MISSES
        if not _agree(_mutated(BASE, [(name, value)]))
        or not _agree(_mutated(BASE | {"public": True}, [(name, value)]))
    ]
    assert not wrong, wrong[:10]


def test_the_sample_courts_rows_all_take_the_fast_path() -> None:
    rows = [normalise(record) for _, record in read_records(SAMPLE_CSV)]
    assert rows and all(fast_row(r, zone=ZONE) is not None for r in rows)


@pytest.mark.db
def test_the_bulk_insert_stores_what_sqlalchemy_stores(database: Database) -> None:
    def work(session: Any) -> list[tuple[Any, ...]]:
        dept = session.exec(select(Department)).first()
        room = session.exec(select(Courtroom)).first()
        at = datetime(2027, 1, 4, 9, 0, 0, 123, tzinfo=ZONE)
        base = {
            "case_year": 2027,
            "case_court_code": "粤0111",
            "case_type_code": "民初",
            "case_sequence": 1,
            "cause": "民间借贷纠纷",
            "procedure": "first_instance",
            "session_kind": "hearing",
            "is_public": False,
            "non_public_reason": "涉及个人隐私",
            "parties": ["原告 张伟", '被告 "李娜"'],
            "handler_judge": "李明",
            "clerk": "王敏",
            "department_id": dept.id,
            "courtroom_id": room.id,
            "planned_start": at,
            "planned_end": at.astimezone(UTC),
            "status": "scheduled",
            "created_at": datetime(2027, 1, 1, tzinfo=UTC),
            "updated_at": datetime(2027, 1, 1, 0, 0, 1, tzinfo=ZONE),
        }
        conn = session.connection()
        table = Hearing.__table__  # type: ignore[attr-defined]
        conn.execute(table.insert(), [base | {"case_number": "core"}])
        ids = insert_many(conn, table, [base | {"case_number": "bulk"}], ids=True)
        assert len(ids) == 1
        cols = [c for c in base if c != "id"]
        raw = conn.exec_driver_sql(
            f"SELECT id, case_number, {', '.join(cols)} FROM hearing "
            "WHERE case_number IN ('core', 'bulk') ORDER BY case_number DESC"
        ).all()
        assert raw[1][0] == ids[0]
        return [tuple(r[2:]) for r in raw]

    core, bulk = database.call(work)
    assert core == bulk
    with database.session() as s:
        again = s.exec(select(Hearing).where(Hearing.case_number == "bulk")).one()
        assert again.planned_start == datetime(2027, 1, 4, 1, 0, 0, 123, tzinfo=UTC)
        assert again.parties == ["原告 张伟", '被告 "李娜"']
