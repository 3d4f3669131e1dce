"""Hearings: the API/import models (Create, Update, Public) and keyword-only CRUD functions.

The same `HearingCreate` validates an API body and an imported CSV row, so a hearing that
the API would refuse can never come in through a file, and the other way round.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlmodel import Session, col, or_, select

from streamd import audit
from streamd.casenumber import CaseNumber, parse_case_number
from streamd.domain import HearingStatus, Procedure, SessionKind
from streamd.models import Booking, Court, Courtroom, Department, Hearing, User, utcnow
from streamd.scope import Scope, hearings_of
from streamd.store import paged
from streamd.validation import SaneDate, SaneDateTime

MAX_SESSION = timedelta(hours=24)
TEXT = Annotated[str, Field(min_length=1, max_length=128)]


class UnknownReference(LookupError):
    """A hearing names a department or courtroom the court does not have."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class HearingConflict(ValueError):
    """Another hearing already has this case number and start."""


def _case_number(value: str) -> str:
    return parse_case_number(value).canonical


CaseNumberStr = Annotated[
    str,
    Field(min_length=1, max_length=64, examples=["（2024）粤0111民初1234号"]),
    AfterValidator(_case_number),
]


def _localise(value: datetime, info: ValidationInfo) -> datetime:
    """Times without an offset are the court's local time (context key `zone`)."""
    if value.tzinfo is None:
        zone = (info.context or {}).get("zone") or ZoneInfo("Asia/Shanghai")
        value = value.replace(tzinfo=zone)
    return value


class _HearingFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    cause: TEXT = Field(description="Cause of action (案由).")
    procedure: Procedure | None = Field(
        default=None, description="Defaults to the procedure the case-type code implies."
    )
    session_kind: SessionKind = SessionKind.HEARING
    public: bool = Field(description="Held in public (公开开庭).")
    non_public_reason: str | None = Field(
        default=None, max_length=256, description="Legal reason when not public; required then."
    )
    parties: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        min_length=1, max_length=50
    )
    handler_judge: str = Field(min_length=1, max_length=64)
    clerk: str = Field(min_length=1, max_length=64)
    department: str = Field(min_length=1, max_length=32, description="Department code.")
    courtroom: str = Field(min_length=1, max_length=32, description="Courtroom code.")
    start: SaneDateTime
    end: SaneDateTime

    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: datetime, info: ValidationInfo) -> datetime:
        return _localise(value, info)


class HearingCreate(_HearingFields):
    case_number: CaseNumberStr

    @model_validator(mode="after")
    def _consistent(self) -> HearingCreate:
        check_consistency(
            case_number=self.case_number,
            procedure=self.procedure,
            public=self.public,
            non_public_reason=self.non_public_reason,
            start=self.start,
            end=self.end,
        )
        return self


class HearingUpdate(BaseModel):
    """PATCH body: only the fields given change; the result is validated as a whole."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    cause: TEXT | None = None
    procedure: Procedure | None = None
    session_kind: SessionKind | None = None
    public: bool | None = None
    non_public_reason: str | None = Field(default=None, max_length=256)
    parties: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = Field(
        default=None, min_length=1, max_length=50
    )
    handler_judge: str | None = Field(default=None, min_length=1, max_length=64)
    clerk: str | None = Field(default=None, min_length=1, max_length=64)
    department: str | None = Field(default=None, min_length=1, max_length=32)
    courtroom: str | None = Field(default=None, min_length=1, max_length=32)
    start: SaneDateTime | None = None
    end: SaneDateTime | None = None
    status: HearingStatus | None = None

    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return None if value is None else _localise(value, info)


class CaseParts(BaseModel):
    year: int
    court_code: str
    type_code: str
    sequence: int


class HearingPublic(BaseModel):
    id: int
    case_number: str
    case: CaseParts
    cause: str
    procedure: Procedure
    session_kind: SessionKind
    public: bool
    non_public_reason: str | None
    parties: list[str]
    handler_judge: str
    clerk: str
    department: str
    courtroom: str
    start: datetime
    end: datetime
    status: HearingStatus
    booking_status: str | None = Field(description="Status of the active booking, if any.")
    created_at: datetime
    updated_at: datetime


class HearingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: SaneDate | None = Field(default=None, description="Hearings starting on this local date.")
    since: SaneDateTime | None = Field(default=None, description="Start at or after.")
    until: SaneDateTime | None = Field(default=None, description="Start before.")
    courtroom: str | None = Field(default=None, max_length=32)
    department: str | None = Field(default=None, max_length=32)
    status: HearingStatus | None = None
    case_number: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


def check_consistency(
    *,
    case_number: str,
    procedure: Procedure | None,
    public: bool,
    non_public_reason: str | None,
    start: datetime,
    end: datetime,
) -> None:
    parsed = parse_case_number(case_number)
    if procedure is not None and procedure != parsed.case_type.procedure:
        raise ValueError(
            f"procedure {procedure.value!r} contradicts case type {parsed.type_code} "
            f"({parsed.case_type.procedure.value})"
        )
    if not public and not (non_public_reason or "").strip():
        raise ValueError("non_public_reason is required for a hearing not held in public")
    if end <= start:
        raise ValueError("end must be after start")
    if end - start > MAX_SESSION:
        raise ValueError("a session cannot last more than 24 hours")


def _court_of(session: Session, actor: str) -> int | None:
    """The court `actor` writes for: an account's own; for the deployment itself (the
    command line, a test), its court while it holds only one."""
    user = session.exec(select(User).where(User.username == actor)).first()
    if user is not None:
        return user.court_id
    courts = session.exec(select(Court.id)).all()
    return courts[0] if len(courts) == 1 else None


def _resolve(session: Session, *, department: str, courtroom: str, actor: str) -> tuple[int, int]:
    """Departments and courtrooms are named by code, or by name as court exports do, in the
    court of the account that writes (codes repeat between the courts of one platform)."""
    court_id = _court_of(session, actor)
    dept = session.exec(
        select(Department).where(
            or_(Department.code == department, Department.name == department),
            Department.court_id == court_id,
        )
    ).first()
    if dept is None:
        raise UnknownReference("department", f"unknown department {department!r}")
    room = session.exec(
        select(Courtroom).where(
            or_(Courtroom.code == courtroom, Courtroom.name == courtroom),
            Courtroom.court_id == court_id,
        )
    ).first()
    if room is None:
        raise UnknownReference("courtroom", f"unknown courtroom {courtroom!r}")
    assert dept.id is not None and room.id is not None
    return dept.id, room.id


def columns(data: HearingCreate, parsed: CaseNumber, dept_id: int, room_id: int) -> dict[str, Any]:
    return {
        "case_number": parsed.canonical,
        "case_year": parsed.year,
        "case_court_code": parsed.court_code,
        "case_type_code": parsed.type_code,
        "case_sequence": parsed.sequence,
        "cause": data.cause,
        "procedure": (data.procedure or parsed.case_type.procedure).value,
        "session_kind": data.session_kind.value,
        "is_public": data.public,
        "non_public_reason": data.non_public_reason if not data.public else None,
        "parties": list(data.parties),
        "handler_judge": data.handler_judge,
        "clerk": data.clerk,
        "department_id": dept_id,
        "courtroom_id": room_id,
        "planned_start": data.start,
        "planned_end": data.end,
    }


def upsert_hearing(session: Session, *, data: HearingCreate, actor: str) -> tuple[Hearing, str]:
    """Create, or update the hearing with the same case number and start.

    Returns the row and what happened: "created", "updated" or "unchanged".
    """
    parsed = parse_case_number(data.case_number)
    dept_id, room_id = _resolve(
        session, department=data.department, courtroom=data.courtroom, actor=actor
    )
    values = columns(data, parsed, dept_id, room_id)
    existing = session.exec(
        select(Hearing).where(
            Hearing.case_number == parsed.canonical, Hearing.planned_start == data.start
        )
    ).first()
    if existing is None:
        row = Hearing(**values)
        session.add(row)
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="hearing.create",
            obj=row,
            after=audit.snapshot(row),
        )
        return row, "created"
    if not any(getattr(existing, name) != value for name, value in values.items()):
        return existing, "unchanged"
    audit.update(
        session=session,
        actor=actor,
        action="hearing.update",
        obj=existing,
        values=values | {"updated_at": utcnow()},
    )
    return existing, "updated"


def update_hearing(
    session: Session, *, hearing_id: int, patch: HearingUpdate, actor: str
) -> Hearing | None:
    row = session.get(Hearing, hearing_id)
    if row is None:
        return None
    current = to_public(session=session, hearing=row)
    merged = current.model_dump(include=set(HearingCreate.model_fields)) | patch.model_dump(
        exclude_unset=True, exclude={"status"}
    )
    data = HearingCreate.model_validate(merged)  # whole-object validation, raises on conflict
    parsed = parse_case_number(data.case_number)
    dept_id, room_id = _resolve(
        session, department=data.department, courtroom=data.courtroom, actor=actor
    )
    clash = session.exec(
        select(Hearing).where(
            Hearing.case_number == parsed.canonical,
            Hearing.planned_start == data.start,
            Hearing.id != hearing_id,
        )
    ).first()
    if clash is not None:
        raise HearingConflict(f"hearing {clash.id} already has this case number and start")
    values = columns(data, parsed, dept_id, room_id) | {"updated_at": utcnow()}
    if patch.status is not None:
        values["status"] = patch.status.value
    audit.update(session=session, actor=actor, action="hearing.update", obj=row, values=values)
    return row


def list_hearings(
    session: Session, *, query: HearingQuery, zone: ZoneInfo, court_id: Scope
) -> tuple[list[Hearing], int]:
    """The court's hearings that `query` asks for, a page of them and how many in all."""
    stmt = select(Hearing).where(hearings_of(court_id))
    if query.on is not None:
        day_start = datetime.combine(query.on, time.min, tzinfo=zone)
        stmt = stmt.where(
            Hearing.planned_start >= day_start,
            Hearing.planned_start < day_start + timedelta(days=1),
        )
    if query.since is not None:
        stmt = stmt.where(Hearing.planned_start >= _aware(query.since, zone))
    if query.until is not None:
        stmt = stmt.where(Hearing.planned_start < _aware(query.until, zone))
    if query.courtroom:
        stmt = stmt.join(Courtroom).where(Courtroom.code == query.courtroom)
    if query.department:
        stmt = stmt.join(Department).where(Department.code == query.department)
    if query.status:
        stmt = stmt.where(Hearing.status == query.status.value)
    if query.case_number:
        try:
            canonical = parse_case_number(query.case_number).canonical
        except ValueError:
            canonical = query.case_number
        stmt = stmt.where(Hearing.case_number == canonical)
    return paged(
        session,
        stmt,
        col(Hearing.planned_start),
        col(Hearing.id),
        offset=query.offset,
        limit=query.limit,
    )


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=zone)


def to_public(session: Session, *, hearing: Hearing, zone: ZoneInfo | None = None) -> HearingPublic:
    dept = session.get(Department, hearing.department_id)
    room = session.get(Courtroom, hearing.courtroom_id)
    booking = session.exec(
        select(Booking).where(Booking.hearing_id == hearing.id, Booking.status != "cancelled")
    ).first()
    assert hearing.id is not None and dept is not None and room is not None

    def show(t: datetime) -> datetime:
        return t.astimezone(zone) if zone else t

    return HearingPublic(
        id=hearing.id,
        case_number=hearing.case_number,
        case=CaseParts(
            year=hearing.case_year,
            court_code=hearing.case_court_code,
            type_code=hearing.case_type_code,
            sequence=hearing.case_sequence,
        ),
        cause=hearing.cause,
        procedure=Procedure(hearing.procedure),
        session_kind=SessionKind(hearing.session_kind),
        public=hearing.is_public,
        non_public_reason=hearing.non_public_reason,
        parties=list(hearing.parties),
        handler_judge=hearing.handler_judge,
        clerk=hearing.clerk,
        department=dept.code,
        courtroom=room.code,
        start=show(hearing.planned_start),
        end=show(hearing.planned_end),
        status=HearingStatus(hearing.status),
        booking_status=booking.status if booking else None,
        created_at=show(hearing.created_at),
        updated_at=show(hearing.updated_at),
    )
