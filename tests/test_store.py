"""The store on SQLite and PostgreSQL: migrations match the models, history is append-only,
times come back aware, one active booking per hearing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel, select

from streamd import audit
from streamd.models import AuditEntry, Booking, Court, Hearing, User
from streamd.store import Database, current_revision, head_revision

pytestmark = pytest.mark.db


def _hearing(*, sequence: int, start: datetime) -> Hearing:
    return Hearing(
        case_number=f"（2026）粤0111民初{sequence}号",
        case_year=2026,
        case_court_code="粤0111",
        case_type_code="民初",
        case_sequence=sequence,
        cause="c",
        procedure="first_instance",
        session_kind="hearing",
        is_public=True,
        parties=["甲"],
        handler_judge="j",
        clerk="c",
        department_id=1,
        courtroom_id=1,
        planned_start=start,
        planned_end=start + timedelta(hours=1),
    )


def test_migrations_create_exactly_the_models(database: Database) -> None:
    assert current_revision(database.engine) == head_revision()
    with database.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
        )
    assert diff == []


def test_audit_log_is_append_only(database: Database) -> None:
    def write(session: sa.orm.Session) -> None:
        court_row = session.exec(select(Court)).one()  # type: ignore[attr-defined]
        audit.record(session=session, actor="t", action="x", obj=court_row, after={"a": 1})

    database.call(write)
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), database.engine.begin() as c:
            c.execute(sa.text(statement))
    with database.session() as session:
        assert {e.actor for e in session.exec(select(AuditEntry)).all()} >= {"t"}


def test_times_round_trip_as_aware_utc(database: Database) -> None:
    beijing = timezone(timedelta(hours=8))
    start = datetime(2026, 12, 1, 9, 30, tzinfo=beijing)
    with database.session() as session:
        row = _hearing(sequence=1, start=start)
        session.add(row)
    with database.session() as session:
        loaded = session.exec(select(Hearing)).one()
    assert loaded.planned_start == start
    assert loaded.planned_start.utcoffset() == timedelta(0)
    assert loaded.planned_start.hour == 1


def test_naive_times_are_refused(database: Database) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), database.session() as s:
        s.add(
            User(username="u", password_hash="x", roles=["clerk"], created_at=datetime(2026, 1, 1))
        )


def test_one_active_booking_per_hearing(database: Database) -> None:
    start = datetime(2026, 12, 1, 1, tzinfo=UTC)
    with database.session() as session:
        user = User(username="u", password_hash="x", roles=["clerk"])
        hearing = _hearing(sequence=2, start=start)
        session.add_all([user, hearing])
        session.flush()
        session.add(Booking(hearing_id=hearing.id, requested_by=user.id, status="cancelled"))
        session.add(Booking(hearing_id=hearing.id, requested_by=user.id, status="requested"))
        ids = (hearing.id, user.id)
    with pytest.raises(sa.exc.IntegrityError), database.session() as session:
        session.add(Booking(hearing_id=ids[0], requested_by=ids[1], status="requested"))
