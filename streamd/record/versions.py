"""Transcript corrections as versions (SPC 2017 Art. 7): the clerk corrects while replaying.

Version 1 of a line is the recorder's own, in the archived `transcript.jsonl`, never
rewritten. Each correction is a new row (who, when, before, after) that names the version
it corrects: two clerks correcting the same line at once cannot both win silently, the
second gets a conflict and sees the first one's text.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from streamd import audit
from streamd.models import TranscriptVersion

Key = tuple[str, int]  # (session folder, line seq)


class Stale(Exception):
    """The correction was based on an older version than the current one."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the line is at version {current}; reload and correct that")
        self.current = current


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    text: str
    by: str
    at: str
    before: str | None

    def out(self) -> dict[str, Any]:
        return {"version": self.version, "text": self.text, "by": self.by, "at": self.at,
                "before": self.before}  # fmt: skip


def rows(session: Session, *, hearing_id: int) -> dict[Key, list[TranscriptVersion]]:
    found: dict[Key, list[TranscriptVersion]] = defaultdict(list)
    for row in session.exec(
        select(TranscriptVersion)
        .where(TranscriptVersion.hearing_id == hearing_id)
        .order_by(col(TranscriptVersion.version))
    ).all():
        found[(row.session, row.seq)].append(row)
    return dict(found)


def chain(original: str, at: str, corrections: list[TranscriptVersion]) -> list[Version]:
    """Every version of a line, oldest first: the recorder's, then each correction."""
    out = [Version(1, original, "recorder", at, None)]
    out += [Version(r.version, r.after, r.by, r.at.isoformat(), r.before) for r in corrections]
    return out


def correct(
    session: Session,
    *,
    hearing_id: int,
    session_name: str,
    seq: int,
    original: str,
    base_version: int,
    text: str,
    by: str,
) -> TranscriptVersion:
    """Add the next version of a line, or raise Stale if `base_version` is not the latest."""
    existing = rows(session=session, hearing_id=hearing_id).get((session_name, seq), [])
    current = existing[-1].version if existing else 1
    if base_version != current:
        raise Stale(current)
    before = existing[-1].after if existing else original
    row = TranscriptVersion(
        hearing_id=hearing_id, session=session_name, seq=seq, version=current + 1,
        before=before, after=text, by=by,
    )  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=by,
        action="record.transcript_corrected",
        obj=row,
        before={"text": before, "version": current},
        after={"text": text, "version": current + 1, "hearing_id": hearing_id, "seq": seq},
    )
    return row
