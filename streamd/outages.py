"""Line outages: a maintenance window booked ahead, or a failure a technician reports.

The plan keeps every hearing off a line while it is out (`windows` turns a line's
outages into the availability the allocation engine reads); a hearing on air on a line
that goes down is moved to another line by the orchestrator's live repair. Reporting and
restoring are audited and answered in the same transaction as the re-plan they cause.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session, col, or_, select

from streamd import audit
from streamd.models import Line, LineOutage, User, utcnow
from streamd.validation import sane_datetime as sane

FOREVER = 1 << 62  # the allocation engine's "always", in seconds
REACH = timedelta(days=366)  # how far ahead a maintenance window may be booked
REACH_BACK = timedelta(days=1)  # a failure noticed late may be dated back this far


class OutageError(ValueError):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


class OutageReport(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=2, max_length=512, description="What is wrong, for the log.")
    start: Annotated[AwareDatetime, AfterValidator(sane)] | None = Field(
        default=None, description="Default: now."
    )
    end: Annotated[AwareDatetime, AfterValidator(sane)] | None = Field(
        default=None, description="Default: until restored."
    )

    @model_validator(mode="after")
    def _ordered(self) -> OutageReport:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class OutageOut(BaseModel):
    id: int
    line_id: int
    line: str
    start: datetime
    end: datetime | None
    reason: str
    reported_by: str
    reported_at: datetime
    ended_by: str | None


def report(session: Session, *, line_id: int, data: OutageReport, user: User) -> LineOutage:
    line = session.get(Line, line_id)
    if line is None:
        raise OutageError(404, f"no line {line_id}")
    now = utcnow()
    start = data.start or now
    if not now - REACH_BACK <= start <= now + REACH:
        raise OutageError(422, "start must be within a day before and a year after now", "start")
    if data.end is not None and data.end > start + REACH:
        raise OutageError(422, "an outage is reported for a year at most; restore it", "end")
    if data.end is not None and data.end <= now:
        raise OutageError(422, "the outage is already over", "end")
    if data.end is not None and data.end <= start:
        raise OutageError(422, "end must be after start", "end")
    row = LineOutage(
        line_id=line_id, start=start, end=data.end, reason=data.reason, reported_by=user.username
    )
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=user.username,
        action="line.outage",
        obj=row,
        after=audit.snapshot(row),
    )
    return row


def restore(session: Session, *, outage_id: int, user: User) -> tuple[LineOutage, bool]:
    """End an outage now (a window not begun yet is called off). Idempotent: an outage
    that is over already is returned as it is, with False."""
    row = session.get(LineOutage, outage_id)
    if row is None:
        raise OutageError(404, f"no outage {outage_id}")
    now = utcnow()
    if row.end is not None and row.end <= now:
        return row, False
    audit.update(
        session=session,
        actor=user.username,
        action="line.restore",
        obj=row,
        values={"end": max(now, row.start), "ended_by": user.username},
    )
    return row, True


def of_line(session: Session, *, line_id: int) -> list[LineOutage]:
    if session.get(Line, line_id) is None:
        raise OutageError(404, f"no line {line_id}")
    return list(
        session.exec(
            select(LineOutage)
            .where(LineOutage.line_id == line_id)
            .order_by(col(LineOutage.start).desc())
        ).all()
    )


def overlapping(
    session: Session, line_ids: Iterable[int], start: datetime, end: datetime
) -> dict[int, list[LineOutage]]:
    """Per line, the outages that reach into [start, end)."""
    rows = session.exec(
        select(LineOutage).where(
            col(LineOutage.line_id).in_(list(line_ids)),
            col(LineOutage.start) < end,
            or_(col(LineOutage.end).is_(None), col(LineOutage.end) > start),
        )
    ).all()
    out: dict[int, list[LineOutage]] = {}
    for row in rows:
        out.setdefault(row.line_id, []).append(row)
    return out


def windows(outages: Sequence[LineOutage]) -> tuple[tuple[int, int], ...] | None:
    """When a line with these outages is up, as the allocation engine reads it: None for
    always, else the gaps between outages (the empty tuple: never)."""
    if not outages:
        return None
    spans = sorted(
        (int(o.start.timestamp()), int(o.end.timestamp()) if o.end else FOREVER) for o in outages
    )
    out: list[tuple[int, int]] = []
    cursor = -FOREVER
    for start, end in spans:
        if start > cursor:
            out.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < FOREVER:
        out.append((cursor, FOREVER))
    return tuple(out)


def to_public(session: Session, *, row: LineOutage) -> OutageOut:
    line = session.get(Line, row.line_id)
    return OutageOut(
        id=row.id or 0,
        line_id=row.line_id,
        line=line.code if line is not None else "",
        start=row.start,
        end=row.end,
        reason=row.reason,
        reported_by=row.reported_by,
        reported_at=row.reported_at,
        ended_by=row.ended_by,
    )
