"""Alerts as rows: raised once per key while open, cleared, acknowledged."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from streamd import audit
from streamd.models import (
    Alert,
    utcnow,
)
from streamd.scope import hearing_ids_of, room_codes_of


def alert_key(kind: str, room: str | None, hearing_id: int | None) -> str:
    return f"{kind}:{room or '-'}:{hearing_id or '-'}"


def raise_alert(
    session: Session,
    *,
    kind: str,
    severity: str,
    room: str | None,
    hearing_id: int | None,
    zh: str,
    en: str,
    at: datetime,
    replace: bool = False,
) -> Alert | None:
    """Open an alert unless the same one is open already; returns the new one. With
    `replace`, an open one is cleared first, in the same transaction: news about the same
    thing (a hearing moved again) is never lost."""
    key = alert_key(kind, room, hearing_id)
    if replace:
        clear_alert(session=session, key=key, at=at)
        session.flush()
    elif session.exec(
        select(Alert).where(Alert.key == key, col(Alert.cleared_at).is_(None))
    ).first():
        return None
    row = Alert(
        key=key,
        kind=kind,
        severity=severity,
        room=room,
        hearing_id=hearing_id,
        message_zh=zh[:512],
        message_en=en[:512],
        raised_at=at,
    )
    session.add(row)
    session.flush()
    return row


def clear_alert(session: Session, *, key: str, at: datetime) -> list[int]:
    rows = session.exec(
        select(Alert).where(Alert.key == key, col(Alert.cleared_at).is_(None))
    ).all()
    for row in rows:
        row.cleared_at = at
        session.add(row)
    return [r.id for r in rows if r.id is not None]


def acknowledge_alert(session: Session, *, alert_id: int, user: str) -> Alert:
    row = session.get(Alert, alert_id)
    if row is None:
        raise LookupError(f"no alert {alert_id}")
    if row.acknowledged_at is None:
        row.acknowledged_at = utcnow()
        row.acknowledged_by = user
        session.add(row)
        audit.record(session=session, actor=user, action="alert.acknowledge", obj=row)
    return row


def list_alerts(
    session: Session,
    *,
    open_only: bool,
    limit: int,
    court_id: int | None,
    every_court: bool = False,
) -> list[Alert]:
    """Newest first: the court's (its hearings', its rooms') and the platform's own (no
    room, no hearing: the archive's disk), never another court's; `every_court` for the
    orchestrator's own recovery, which serves them all."""
    stmt = select(Alert)
    if not every_court:
        rooms = room_codes_of(court_id)
        stmt = stmt.where(
            sa.or_(
                col(Alert.hearing_id).in_(hearing_ids_of(court_id)),
                sa.and_(col(Alert.hearing_id).is_(None), col(Alert.room).in_(rooms)),
                sa.and_(col(Alert.hearing_id).is_(None), col(Alert.room).is_(None)),
            )
        )
    if open_only:
        stmt = stmt.where(col(Alert.cleared_at).is_(None))
    return list(session.exec(stmt.order_by(col(Alert.id).desc()).limit(limit)).all())
