"""What "streamed" means wherever it is counted: the room confirmed the courtroom went out.

A booking holding a line is only a plan: the hearing may lose the line to an overrun or an
outage, or its room may never go live. `Stream.discipline_at` is when the clerk announced
court discipline, which stays set even when the room then refused the go-live. Only an
acknowledged go_live command says the courtroom reached a line, so the monthly report's
ratio and year-on-year table and the `/metrics` gauge all count that, and only that.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, exists
from sqlmodel import Session, col, select

from streamd.models import Stream, StreamCommand
from streamd.store import in_batches
from streamd_protocol import CommandKind


def went_live() -> ColumnElement[bool]:
    """True for a `Stream` row whose go-live the room acknowledged; correlate on Stream."""
    return exists().where(
        col(StreamCommand.stream_id) == col(Stream.id),
        col(StreamCommand.kind) == CommandKind.GO_LIVE.value,
        col(StreamCommand.status) == "acked",
    )


def streamed_ids(session: Session, hearing_ids: Sequence[int]) -> set[int]:
    """The hearings among `hearing_ids` that went out on a line."""
    out: set[int] = set()
    for chunk in in_batches(hearing_ids):
        out.update(
            session.exec(
                select(Stream.hearing_id).where(col(Stream.hearing_id).in_(chunk), went_live())
            )
        )
    return out
