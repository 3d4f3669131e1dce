"""Transcript lines and interruptions (休庭, 不公开举证质证, ...) as written by the
console and forwarded to the agent."""

from __future__ import annotations

from sqlmodel import Session, col, select

from streamd import audit
from streamd.lifecycle import RECORDING, TERMINAL, StreamState
from streamd.models import (
    Interruption,
    Stream,
    TranscriptEntry,
    utcnow,
)
from streamd.orchestrator.records.base import (
    Refused,
)


def add_transcript(
    session: Session, *, stream_id: int, speaker: str, text: str, key: str | None, user: str
) -> tuple[TranscriptEntry, bool]:
    """Store a line with the stream's next seq; the same client key stores it once."""
    if key is not None:
        have = session.exec(
            select(TranscriptEntry).where(
                TranscriptEntry.stream_id == stream_id, TranscriptEntry.client_key == key
            )
        ).first()
        if have is not None:
            return have, False
    stream = session.get(Stream, stream_id)
    assert stream is not None
    if StreamState(stream.state) not in RECORDING:
        raise Refused(f"the hearing is not being recorded ({stream.state})")
    row = TranscriptEntry(
        stream_id=stream_id,
        seq=stream.transcript_seq,
        client_key=key,
        speaker=speaker,
        text=text,
        entered_by=user,
    )
    stream.transcript_seq += 1
    session.add(stream)
    session.add(row)
    session.flush()
    return row, True


def mark_forwarded(session: Session, *, entry_ids: list[int]) -> None:
    for row in session.exec(select(TranscriptEntry).where(col(TranscriptEntry.id).in_(entry_ids))):
        row.forwarded = True
        session.add(row)


def unforwarded(session: Session) -> list[tuple[TranscriptEntry, Stream]]:
    rows = session.exec(
        select(TranscriptEntry, Stream)
        .join(Stream, col(Stream.id) == col(TranscriptEntry.stream_id))
        .where(
            TranscriptEntry.forwarded == False,  # noqa: E712
            col(Stream.state).not_in([s.value for s in TERMINAL]),
        )
        .order_by(col(TranscriptEntry.stream_id), col(TranscriptEntry.seq))
    ).all()
    return [(t, s) for t, s in rows]


INTERRUPTIONS = {
    "recess": ("休庭", "recess"),
    "non_public_evidence": ("不公开质证", "non-public evidence"),
    "mediation": ("调解", "mediation"),
}


def _open_interruption(session: Session, stream_id: int) -> Interruption | None:
    return session.exec(
        select(Interruption).where(
            Interruption.stream_id == stream_id, col(Interruption.ended_at).is_(None)
        )
    ).first()


def start_interruption(
    session: Session, *, stream_id: int, kind: str, reason: str | None, user: str
) -> tuple[Interruption, bool]:
    open_ = _open_interruption(session, stream_id)
    if open_ is not None:
        if open_.kind == kind:
            return open_, False  # a double click
        raise Refused(f"an interruption ({open_.kind}) is already open; end it first")
    stream = session.get(Stream, stream_id)
    assert stream is not None
    if StreamState(stream.state) not in RECORDING:
        raise Refused(f"the hearing is not in session ({stream.state})")
    row = Interruption(stream_id=stream_id, kind=kind, reason=reason, started_by=user)
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=user,
        action="interruption.start",
        obj=row,
        after=audit.snapshot(row),
    )
    return row, True


def end_interruption(session: Session, *, stream_id: int, user: str) -> Interruption | None:
    row = _open_interruption(session, stream_id)
    if row is None:
        return None
    before = audit.snapshot(row)
    row.ended_at = utcnow()
    row.ended_by = user
    session.add(row)
    audit.record(
        session=session,
        actor=user,
        action="interruption.end",
        obj=row,
        before=before,
        after=audit.snapshot(row),
    )
    return row
