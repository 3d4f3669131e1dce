"""The court's structure as the API reads it (departments, courtrooms, lines with their keys
masked), the audit log, and lifting a login lockout."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from streamd import audit, authz, throttle
from streamd.court import mask_key
from streamd.domain import Role
from streamd.models import (
    AuditEntry,
    Courtroom,
    Department,
    Line,
    User,
)
from streamd.store import Database
from streamd.web.problems import not_found
from streamd.web.routing import STAFF_VIEW, Api, Call, Empty, dump, page_of


class DepartmentOut(BaseModel):
    id: int
    code: str
    name: str
    stream_target_ratio: float


class CourtroomOut(BaseModel):
    id: int
    code: str
    name: str
    department: str | None


class LineOut(BaseModel):
    id: int
    code: str
    name: str
    push_url: str | None = Field(description="Shown to technicians and administrators only.")
    stream_key: str = Field(description="Always masked.")
    play_url: str | None = Field(
        description="Where the public watches (HLS .m3u8, HTTP-FLV or RTMP): what the monitor "
        "verifies; none for a local line (the court's own HLS) or a same-server one."
    )
    same_server: bool = Field(description="The platform plays the stream where it is pushed.")
    active: bool


class AuditOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    object_type: str | None = Field(default=None, max_length=32)
    object_id: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class UnlockOut(BaseModel):
    username: str
    was_locked: bool


DepartmentPage = page_of(DepartmentOut)


CourtroomPage = page_of(CourtroomOut)


LinePage = page_of(LineOut)


AuditPage = page_of(AuditOut)


def _audit_out(row: AuditEntry) -> AuditOut:
    return AuditOut(
        id=row.id or 0,
        at=row.at.isoformat(),
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        before=row.before,
        after=row.after,
    )


def register_court(api: Api, *, db: Database) -> None:
    # ---- court structure -----------------------------------------------------------------

    @api.route(
        "GET",
        "/departments",
        summary="List departments",
        tag="court",
        roles=STAFF_VIEW,
        responses={200: DepartmentPage},
    )
    async def list_departments(call: Call) -> web.StreamResponse:
        assert call.user is not None
        court_id = call.user.court_id

        def work(session: Session) -> BaseModel:
            rows = session.exec(
                select(Department)
                .where(Department.court_id == court_id)
                .order_by(col(Department.code))
            ).all()
            items = [DepartmentOut.model_validate(r, from_attributes=True) for r in rows]
            return DepartmentPage(items=items, total=len(items))

        return dump(await db.run(work))

    @api.route(
        "GET",
        "/courtrooms",
        summary="List courtrooms",
        tag="court",
        roles=STAFF_VIEW,
        responses={200: CourtroomPage},
    )
    async def list_courtrooms(call: Call) -> web.StreamResponse:
        assert call.user is not None
        court_id = call.user.court_id

        def work(session: Session) -> BaseModel:
            rooms = session.exec(
                select(Courtroom)
                .where(Courtroom.court_id == court_id)
                .order_by(col(Courtroom.code))
            ).all()
            depts = {d.id: d.code for d in session.exec(select(Department)).all()}
            items = [
                CourtroomOut(
                    id=r.id or 0, code=r.code, name=r.name, department=depts.get(r.department_id)
                )
                for r in rooms
            ]
            return CourtroomPage(items=items, total=len(items))

        return dump(await db.run(work))

    @api.route(
        "GET",
        "/lines",
        summary="List streaming lines (keys masked)",
        tag="court",
        roles=STAFF_VIEW,
        responses={200: LinePage},
    )
    async def list_lines(call: Call) -> web.StreamResponse:
        assert call.user is not None
        show_url = bool({Role.TECHNICIAN, Role.ADMIN} & {Role(r) for r in call.user.roles})

        court_id = call.user.court_id

        def work(session: Session) -> BaseModel:
            rows = session.exec(
                select(Line).where(Line.court_id == court_id).order_by(col(Line.code))
            ).all()
            items = [
                LineOut(
                    id=r.id or 0,
                    code=r.code,
                    name=r.name,
                    push_url=r.push_url if show_url else None,
                    stream_key=mask_key(r.stream_key),
                    play_url=r.play_url,
                    same_server=r.same_server,
                    active=r.active,
                )
                for r in rows
            ]
            return LinePage(items=items, total=len(items))

        return dump(await db.run(work))

    @api.route(
        "POST",
        "/users/{user_id}/unlock",
        summary="Lift a login lockout (administrators; audited)",
        tag="auth",
        act=authz.Act.ADMINISTER,
        body=Empty,
        responses={200: UnlockOut},
    )
    async def unlock_user(call: Call) -> web.StreamResponse:
        def work(session: Session) -> UnlockOut:
            assert call.user is not None
            user = session.get(User, call.params["user_id"])
            if user is None:
                raise not_found("user", call.params["user_id"])
            was_locked = throttle.unlock(session=session, username=user.username)
            audit.record(
                session=session,
                actor=call.user.username,
                action="auth.unlock",
                obj=user,
                after={"was_locked": was_locked},
            )
            return UnlockOut(username=user.username, was_locked=was_locked)

        return dump(await db.run(work))

    # ---- audit ---------------------------------------------------------------------------

    @api.route(
        "GET",
        "/audit",
        summary="Read the audit log",
        tag="audit",
        roles={Role.ADMIN},
        query=AuditQuery,
        responses={200: AuditPage},
    )
    async def list_audit(call: Call) -> web.StreamResponse:
        q: AuditQuery = call.query

        def work(session: Session) -> BaseModel:
            rows, total = audit.list_entries(
                session=session,
                object_type=q.object_type,
                object_id=q.object_id,
                limit=q.limit,
                offset=q.offset,
                court_id=call.user.court_id if call.user is not None else None,
            )
            return AuditPage(items=[_audit_out(r) for r in rows], total=total)

        return dump(await db.run(work))
