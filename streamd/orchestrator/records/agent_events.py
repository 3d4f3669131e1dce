"""The agents' events as stored: idempotent by id, read back per hearing."""

from __future__ import annotations

from sqlmodel import Session, col, select

from streamd.models import (
    AgentEvent,
)
from streamd_protocol import Event


def store_events(session: Session, *, events: list[Event]) -> None:
    """Keep each event once, whatever the redelivery."""
    ids = [e.id for e in events]
    have = set(session.exec(select(AgentEvent.id).where(col(AgentEvent.id).in_(ids))).all())
    for e in events:
        if e.id in have:
            continue
        have.add(e.id)
        session.add(
            AgentEvent(
                id=e.id,
                room=e.room,
                seq=e.seq,
                kind=e.kind.value,
                at=e.at,
                hearing_id=e.hearing_id,
                message=e.message,
                data=dict(e.data),
            )
        )


def events_of(session: Session, *, hearing_id: int) -> list[AgentEvent]:
    return list(
        session.exec(
            select(AgentEvent)
            .where(AgentEvent.hearing_id == hearing_id)
            .order_by(col(AgentEvent.room), col(AgentEvent.seq))
        ).all()
    )
