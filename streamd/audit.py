"""The append-only audit log: who did what to which object, when, before and after."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from streamd.models import (
    Approval,
    AuditEntry,
    Booking,
    Court,
    Courtroom,
    Line,
    Stream,
    User,
)
from streamd.scope import departments_of, hearing_ids_of

REDACTED_FIELDS = frozenset(
    {"password_hash", "stream_key", "token_hash", "csrf_token", "code_hash", "session_hash"}
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def snapshot(obj: Any) -> dict[str, Any]:
    """A JSON-safe copy of a row's fields, secrets redacted."""
    data = obj.model_dump() if hasattr(obj, "model_dump") else dict(obj)
    return {k: ("***" if k in REDACTED_FIELDS else _plain(v)) for k, v in data.items()}


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    obj: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction, so the change and its record land together."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        object_type=type(obj).__tablename__,
        object_id=str(obj.id),
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def update(
    session: Session, *, actor: str, action: str, obj: Any, values: Mapping[str, Any]
) -> bool:
    """Set the fields that differ and record before/after in the caller's transaction.

    Returns whether anything changed; an update that changes nothing is not recorded.
    """
    changed = {k: v for k, v in values.items() if getattr(obj, k) != v}
    if not changed:
        return False
    before = snapshot(obj)
    for name, value in changed.items():
        setattr(obj, name, value)
    session.add(obj)
    session.flush()
    record(session=session, actor=actor, action=action, obj=obj, before=before, after=snapshot(obj))
    return True


def list_entries(
    session: Session,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
    court_id: int | None,
) -> tuple[list[AuditEntry], int]:
    """The court's entries: what its accounts did, and what was done to its objects."""
    query = select(AuditEntry).where(of_court(court_id))
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(AuditEntry.id)).offset(offset).limit(limit)).all()
    return list(rows), int(total)


def of_court(court_id: int | None) -> Any:
    """The condition "the entry is this court's": written by one of its accounts, or about
    one of its objects (its structure, its accounts, its hearings and what hangs on them).
    Anything else (another court's, or a system entry about nothing of this court's) is
    not shown: fail closed."""
    ident = sa.cast(col(AuditEntry.object_id), sa.String)
    in_court = departments_of(court_id)
    court_hearings = hearing_ids_of(court_id)

    def ids(stmt: Any) -> Any:
        return select(sa.cast(stmt.subquery().c[0], sa.String))

    def about(table: str, stmt: Any) -> Any:
        return sa.and_(col(AuditEntry.object_type) == table, ident.in_(ids(stmt)))

    return sa.or_(
        col(AuditEntry.actor).in_(select(User.username).where(User.court_id == court_id)),
        about("court", select(Court.id).where(Court.id == court_id)),
        about("department", in_court),
        about("courtroom", select(Courtroom.id).where(Courtroom.court_id == court_id)),
        about("line", select(Line.id).where(Line.court_id == court_id)),
        about("user", select(User.id).where(User.court_id == court_id)),
        about("hearing", court_hearings),
        about("booking", select(Booking.id).where(col(Booking.hearing_id).in_(court_hearings))),
        about("approval", select(Approval.id).where(col(Approval.hearing_id).in_(court_hearings))),
        about("stream", select(Stream.id).where(col(Stream.hearing_id).in_(court_hearings))),
    )
