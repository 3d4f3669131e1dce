"""The archive's rows: one per archived file, plus the audit entries and alerts about them.

Keyword-only functions taking a session, run through `Database.call` by the callers, so
each change lands in one transaction with its audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from streamd import audit
from streamd.models import AgentEvent, ArchivedFile, AuditEntry, Court, Courtroom, Hearing
from streamd.orchestrator import records
from streamd_protocol import SEGMENT_KINDS, CopyState, FileKind

ACTOR_SYSTEM = "archive"
EXPORTED = "record.exported"  # the audit action of `streamd record export`


@dataclass(frozen=True, slots=True)
class HearingRoom:
    hearing_id: int
    room: str
    court: str


def hearing_room(session: Session, *, hearing_id: int) -> HearingRoom | None:
    row = session.exec(
        select(Hearing.id, Courtroom.code, Court.code)
        .join(Courtroom, col(Courtroom.id) == Hearing.courtroom_id)
        .join(Court, col(Court.id) == Courtroom.court_id)
        .where(Hearing.id == hearing_id)
    ).first()
    return None if row is None else HearingRoom(hearing_id, row[1], row[2])


def courts_of_room(session: Session, *, room: str) -> list[str]:
    """The court codes with a courtroom of this code (to pick the key a signature uses)."""
    return sorted(
        session.exec(
            select(Court.code)
            .join(Courtroom, col(Courtroom.court_id) == Court.id)
            .where(Courtroom.code == room)
        ).all()
    )


def recorded_by(session: Session, *, hearing_id: int, session_name: str) -> set[str]:
    """The rooms whose agent reported starting this recording session of the hearing.

    A session is uploaded by the room that recorded it, wherever the hearing is held now
    (it may have moved room since); the event's `session` is the agent's folder path."""
    events = session.exec(
        select(AgentEvent.room, AgentEvent.data).where(
            AgentEvent.kind == "recording_started", AgentEvent.hearing_id == hearing_id
        )
    ).all()
    return {
        room
        for room, data in events
        if str((data or {}).get("session", "")).rstrip("/").rsplit("/", 1)[-1] == session_name
    }


def find(session: Session, *, hearing_id: int, session_name: str, path: str) -> ArchivedFile | None:
    return session.exec(
        select(ArchivedFile).where(
            ArchivedFile.hearing_id == hearing_id,
            ArchivedFile.session == session_name,
            ArchivedFile.path == path,
        )
    ).first()


def add(
    session: Session,
    *,
    hearing_id: int,
    room: str,
    session_name: str,
    path: str,
    kind: FileKind,
    size: int,
    sha256: str,
    offset: float | None,
    duration: float | None,
) -> ArchivedFile:
    row = ArchivedFile(
        hearing_id=hearing_id,
        room=room,
        session=session_name,
        path=path,
        kind=kind.value,
        bytes=size,
        sha256=sha256,
        offset_seconds=offset,
        duration_seconds=duration,
        state=CopyState.ARCHIVED.value,
    )
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=f"room:{room}",
        action="archive.stored",
        obj=row,
        after={"path": f"{hearing_id}/{session_name}/{path}", "sha256": sha256, "bytes": size},
    )
    return row


def mark(session: Session, /, *, row_id: int, **values: Any) -> None:
    row = session.get(ArchivedFile, row_id)
    if row is None:
        return
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)


def rows(
    session: Session, *, since: datetime | None = None, stale_before: datetime | None = None
) -> list[ArchivedFile]:
    """Files archived since `since`; with `stale_before`, only those not verified since
    then and not already reported lost (the scheduled audit's share)."""
    query = select(ArchivedFile).order_by(col(ArchivedFile.id))
    if since is not None:
        query = query.where(col(ArchivedFile.archived_at) >= since)
    if stale_before is not None:
        query = query.where(
            sa.or_(
                col(ArchivedFile.verified_at).is_(None),
                col(ArchivedFile.verified_at) < stale_before,
            ),
            col(ArchivedFile.archived_at) < stale_before,  # not one an upload is still copying
            col(ArchivedFile.state) != CopyState.LOST.value,
        )
    return list(session.exec(query).all())


def hearing_files(session: Session, *, hearing_id: int) -> list[ArchivedFile]:
    return list(
        session.exec(
            select(ArchivedFile)
            .where(ArchivedFile.hearing_id == hearing_id)
            .order_by(col(ArchivedFile.session), col(ArchivedFile.path))
        ).all()
    )


def hearing_files_page(
    session: Session, *, hearing_id: int, after_id: int, limit: int
) -> list[ArchivedFile]:
    """The hearing's files with ids above `after_id`, `limit` of them: an export reads
    its rows in short transactions, never holding one while it copies."""
    return list(
        session.exec(
            select(ArchivedFile)
            .where(ArchivedFile.hearing_id == hearing_id, col(ArchivedFile.id) > after_id)
            .order_by(col(ArchivedFile.id))
            .limit(limit)
        ).all()
    )


def not_backed_up(session: Session, *, archived_before: datetime) -> list[ArchivedFile]:
    """Files without a backup copy, archived before the given time: a newer one is still
    being copied by the upload that stored it."""
    return list(
        session.exec(
            select(ArchivedFile).where(
                col(ArchivedFile.backed_up_at).is_(None),
                col(ArchivedFile.archived_at) < archived_before,
                ArchivedFile.state != CopyState.LOST.value,
            )
        ).all()
    )


def note(session: Session, *, actor: str, action: str, row: Any, after: dict[str, Any]) -> None:
    """An audit entry about an archived file (or, refused, about the hearing or courtroom)."""
    audit.record(session=session, actor=actor, action=action, obj=row, after=after)


def refused(
    session: Session, *, claimed_room: str, hearing_id: int, reason: str, alert: bool
) -> None:
    """Audit a refused upload against the hearing (or the claimed courtroom if unknown)."""
    obj: Any = session.get(Hearing, hearing_id)
    if obj is None:
        obj = session.exec(select(Courtroom).where(Courtroom.code == claimed_room)).first()
    if obj is not None:
        audit.record(
            session=session,
            actor=f"room:{claimed_room}",
            action="archive.refused",
            obj=obj,
            after={"hearing_id": hearing_id, "reason": reason},
        )
    if alert:
        raise_(
            session=session,
            kind="archive_refused",
            severity="critical",
            room=claimed_room,
            hearing_id=hearing_id if isinstance(obj, Hearing) else None,
            zh=f"归档拒收：{reason}",
            en=f"archive refused an upload: {reason}",
        )


def raise_(
    session: Session,
    *,
    kind: str,
    severity: str,
    room: str | None,
    hearing_id: int | None,
    zh: str,
    en: str,
    replace: bool = False,
) -> None:
    records.raise_alert(
        session=session,
        kind=kind,
        severity=severity,
        room=room,
        hearing_id=hearing_id,
        zh=zh,
        en=en,
        at=datetime.now(UTC),
        replace=replace,
    )


def clear(session: Session, *, kind: str, room: str | None, hearing_id: int | None) -> None:
    records.clear_alert(
        session=session, key=records.alert_key(kind, room, hearing_id), at=datetime.now(UTC)
    )


@dataclass(frozen=True, slots=True)
class Status:
    """Per hearing (or room): what the agent recorded and where its copies are."""

    recorded: int  # closed segments the agent reported
    archived: int  # segments the archive holds (shipped and confirmed by hash)
    backed_up: int
    files: int  # every archived file, transcript and manifest included
    lost: int
    last_audit: datetime | None


def status(session: Session, *, hearing_id: int | None = None, room: str | None = None) -> Status:
    seg = col(ArchivedFile.kind).in_([k.value for k in SEGMENT_KINDS])
    backed = sa.and_(seg, col(ArchivedFile.backed_up_at).is_not(None))
    lost = col(ArchivedFile.state) == CopyState.LOST.value
    q = sa.select(
        func.count(),
        func.sum(sa.case((seg, 1), else_=0)),
        func.sum(sa.case((backed, 1), else_=0)),
        func.sum(sa.case((lost, 1), else_=0)),
        func.max(ArchivedFile.verified_at),
    )
    ev = select(func.count()).where(AgentEvent.kind == "segment_closed")
    if hearing_id is not None:
        q = q.where(col(ArchivedFile.hearing_id) == hearing_id)
        ev = ev.where(AgentEvent.hearing_id == hearing_id)
    if room is not None:
        q = q.where(col(ArchivedFile.room) == room)
        ev = ev.where(AgentEvent.room == room)
    n_files, n_archived, n_backed, n_lost, last = session.execute(q).one()
    return Status(
        recorded=int(session.exec(ev).one()),
        archived=int(n_archived or 0),
        backed_up=int(n_backed or 0),
        files=int(n_files or 0),
        lost=int(n_lost or 0),
        last_audit=last,
    )


def oldest_unarchived(
    session: Session, *, now: datetime, horizon: timedelta = timedelta(days=2)
) -> dict[str, float]:
    """Per room, the age in seconds of the oldest closed segment the archive lacks, among
    those reported within `horizon` (older backlogs stay alerted; the scan stays bounded).

    One query: the database finds, per room, the earliest segment_closed event with no
    archived file of that hearing, path and hash (not every row loaded into Python)."""
    data = col(AgentEvent.data)
    archived = (
        sa.select(sa.literal(1))
        .where(
            col(ArchivedFile.hearing_id) == col(AgentEvent.hearing_id),
            col(ArchivedFile.path) == data["file"].as_string(),
            col(ArchivedFile.sha256) == data["sha256"].as_string(),
            col(ArchivedFile.kind).in_([k.value for k in SEGMENT_KINDS]),
        )
        .correlate(AgentEvent)
    )
    oldest = session.execute(
        sa.select(col(AgentEvent.room), func.min(col(AgentEvent.at)))
        .where(
            col(AgentEvent.kind) == "segment_closed",
            col(AgentEvent.hearing_id).is_not(None),
            col(AgentEvent.at) >= now - horizon,
            ~archived.exists(),
        )
        .group_by(col(AgentEvent.room))
        .order_by(col(AgentEvent.room))
    ).all()
    return {room: (now - _aware(at)).total_seconds() for room, at in oldest if at is not None}


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def by_room(session: Session) -> dict[str, Status]:
    """Status per room, for /metrics and the technicians' wall (two grouped queries)."""
    seg = col(ArchivedFile.kind).in_([k.value for k in SEGMENT_KINDS])
    backed = sa.and_(seg, col(ArchivedFile.backed_up_at).is_not(None))
    lost = col(ArchivedFile.state) == CopyState.LOST.value
    q = sa.select(
        col(ArchivedFile.room),
        func.count(),
        func.sum(sa.case((seg, 1), else_=0)),
        func.sum(sa.case((backed, 1), else_=0)),
        func.sum(sa.case((lost, 1), else_=0)),
        func.max(ArchivedFile.verified_at),
    ).group_by(col(ArchivedFile.room))
    recorded = dict(
        session.execute(
            sa.select(col(AgentEvent.room), func.count())
            .where(col(AgentEvent.kind) == "segment_closed")
            .group_by(col(AgentEvent.room))
        ).all()
    )
    out = {
        room: Status(0, int(a or 0), int(b or 0), int(n or 0), int(lo or 0), last)
        for room, n, a, b, lo, last in session.execute(q).all()
    }
    for room, n in recorded.items():
        old = out.get(room, Status(0, 0, 0, 0, 0, None))
        out[room] = Status(int(n), old.archived, old.backed_up, old.files, old.lost, old.last_audit)
    return out


def latest_integrity(session: Session, *, hearing_id: int) -> tuple[str, datetime] | None:
    """The integrity value of the hearing's latest export, for its page."""
    entry = session.exec(
        select(AuditEntry)
        .where(
            AuditEntry.action == EXPORTED,
            AuditEntry.object_type == "hearing",
            AuditEntry.object_id == str(hearing_id),
        )
        .order_by(col(AuditEntry.id).desc())
    ).first()
    if entry is None or not entry.after:
        return None
    return str(entry.after["integrity"]), entry.at
