"""The JSON API, `/api/v1`. Each handler is one unit of work run through `Database.run`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import timedelta
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from streamd import audit, authz, bookings, changes, hearings, planning, throttle
from streamd import auth as auth_core
from streamd.casenumber import CaseNumberError, parse_case_number
from streamd.config import Settings
from streamd.court import mask_key
from streamd.domain import Role
from streamd.models import (
    AuditEntry,
    Booking,
    Courtroom,
    Department,
    Hearing,
    Line,
    LoginThrottle,
    User,
)
from streamd.orchestrator import Orchestrator
from streamd.orchestrator.leadership import replica_name
from streamd.policy import load_rules
from streamd.store import Database
from streamd.web.approvals_api import register_approvals
from streamd.web.console_api import register_console
from streamd.web.coverage_api import register_coverage
from streamd.web.lines_api import register_lines
from streamd.web.problems import ApiProblem, field_problem, not_found
from streamd.web.record_access_api import register_record_access
from streamd.web.record_api import register_record
from streamd.web.reports_api import register_reports
from streamd.web.routing import Api, Call, dump, page_of
from streamd.web.thumbs_api import register_thumbs

T = TypeVar("T")
PAUSE_LOOKUP_SECONDS = 0.5
log = logging.getLogger(__name__)
HEARING_LINK = {"hearing_id": "$response.body#/id"}
SESSION_COOKIE = "streamd_session"
CSRF_HEADER = "X-CSRF-Token"
ALL_ROLES = frozenset(Role)
CLERKS = frozenset({Role.CLERK, Role.ADMIN})
STAFF_VIEW = ALL_ROLES
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
USERNAME = Field(min_length=1, max_length=64)


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = USERNAME
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: str


class SessionOut(BaseModel):
    username: str
    csrf_token: str
    expires_at: str


class Me(BaseModel):
    username: str
    display_name: str
    roles: list[Role]


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


class Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


HearingPage = page_of(hearings.HearingPublic)
BookingPage = page_of(bookings.BookingPublic)
DepartmentPage = page_of(DepartmentOut)
CourtroomPage = page_of(CourtroomOut)
LinePage = page_of(LineOut)
AuditPage = page_of(AuditOut)


def build_api(
    *,
    db: Database,
    settings: Settings,
    orchestrator: Callable[[], Orchestrator | None] = lambda: None,
    verifier: Executor | None = None,
) -> Api:
    """`verifier` runs password hashing: argon2 is CPU-bound and slow by design, so it
    gets threads of its own and a flood of wrong passwords never starves the database's."""
    zone = settings.zone
    ttl = timedelta(seconds=settings.token_ttl_seconds)
    rules = load_rules(settings.policy_file)
    timing = planning.Timing.of(settings)

    aftermath = changes.Aftermath(zone=zone, timing=timing, rules=rules)
    plan_at, plan_hearing = aftermath.plan_at, aftermath.plan_hearing
    after_hearing_change = aftermath.hearing_changed

    def plan_around(session: Session, booking: Booking, actor: str) -> None:
        hearing = session.get(Hearing, booking.hearing_id)
        assert hearing is not None
        plan_hearing(session, hearing, actor)
        session.refresh(booking)

    async def authenticate(request: web.Request) -> User:
        header = request.headers.get("Authorization", "")
        try:
            if header:
                scheme, _, token = header.partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    raise auth_core.AuthError("use 'Authorization: Bearer TOKEN'")
                user, _ = await db.run(auth_core.resolve_token, token=token.strip(), kind="bearer")
                return user
            cookie = request.cookies.get(SESSION_COOKIE)
            if cookie:
                user, row = await db.run(auth_core.resolve_token, token=cookie, kind="session")
                if request.method not in SAFE_METHODS and not auth_core.csrf_matches(
                    request.headers.get(CSRF_HEADER), row.csrf_token
                ):
                    raise ApiProblem(403, "Forbidden", f"missing or wrong {CSRF_HEADER} header")
                return user
        except auth_core.AuthError as exc:
            raise _unauthorised(str(exc)) from None
        raise _unauthorised("authentication required")

    policy = throttle.Policy.of(settings)
    password_hasher = auth_core.hasher_for(settings)

    async def login(call: Call, issue: Callable[[Session, User], T]) -> T:
        """Throttle, verify off the database's threads, then issue in one transaction.
        A wrong password is audited and answered 401 after its count is committed."""
        creds: Credentials = call.body
        address = call.request.remote or "unknown"

        def begin(session: Session) -> str | None:
            throttle.begin_attempt(
                session=session, username=creds.username, address=address, policy=policy
            )
            user = session.exec(select(User).where(User.username == creds.username)).first()
            return user.password_hash if user is not None and user.active else None

        try:
            stored = await db.run(begin)
        except throttle.Throttled as exc:
            status, title = (423, "Locked") if exc.locked else (429, "Too many requests")
            headers = {} if exc.locked else {"Retry-After": str(max(1, round(exc.retry_after)))}
            raise ApiProblem(status, title, str(exc), headers=headers) from None
        ok = await asyncio.get_running_loop().run_in_executor(
            verifier, auth_core.verify_password, stored, creds.password, password_hasher
        )

        def finish(session: Session) -> tuple[bool, T | None]:
            user = session.exec(select(User).where(User.username == creds.username)).first()
            if not ok or user is None or not user.active:
                row = session.exec(
                    select(LoginThrottle).where(
                        LoginThrottle.key == throttle.account_key(creds.username)
                    )
                ).one()
                failures, locked = throttle.failures(
                    session=session, username=creds.username, address=address
                )
                audit.record(
                    session=session,
                    actor=creds.username,
                    action="auth.login_failed",
                    obj=row,
                    after={"address": address, "failures": failures, "locked": locked},
                )
                return False, None
            throttle.succeeded(session=session, username=creds.username, address=address)
            audit.record(session=session, actor=user.username, action="auth.login", obj=user)
            return True, issue(session, user)

        done, out = await db.run(finish)
        if not done:
            raise _unauthorised("wrong username or password")
        assert out is not None
        return out

    async def authorize(act: authz.Act, call: Call) -> None:
        """The one authorisation decision for a write: load what it reaches, then decide."""
        assert call.user is not None
        user, body = call.user, call.body
        params = call.params
        departments = [body.department] if getattr(body, "department", None) else []
        case_key = None
        if isinstance(body, hearings.HearingCreate):
            local = hearings.HearingCreate.model_validate(body.model_dump(), context={"zone": zone})
            try:
                case_key = (parse_case_number(local.case_number).canonical, local.start)
            except CaseNumberError:
                case_key = None  # the handler answers 422

        def work(session: Session) -> authz.Target:
            return authz.load_target(
                session,
                hearing_id=params.get("hearing_id", getattr(body, "hearing_id", None)),
                booking_id=params.get("booking_id"),
                approval_id=params.get("approval_id"),
                departments=departments,
                case_key=case_key,
                with_state=act in authz.STATEFUL_ACTS,
            )

        if act is authz.Act.STREAM_PAUSE:
            # The fastest path waits on nothing slow: court-wide roles need no lookup, and
            # if the database cannot say whose hearing it is in time, the pause goes ahead
            # (hiding a broadcast is the safe side). The role check still applies.
            if authz.Actor.of(user).roles & authz.COURT_WIDE[act]:
                authz.check(act, user, authz.Target())
                return
            try:
                target = await asyncio.wait_for(db.run(work), PAUSE_LOOKUP_SECONDS)
            except (TimeoutError, OperationalError):
                log.warning("pause by %s allowed without its department check", user.username)
                target = authz.Target()
            authz.check(act, user, target)
            return
        authz.check(act, user, await db.run(work))

    api = Api(prefix="/api/v1", authenticate=authenticate, authorize=authorize)

    # ---- authentication ------------------------------------------------------------------

    @api.route(
        "POST",
        "/auth/token",
        summary="Exchange username and password for a bearer token",
        tag="auth",
        act=authz.Act.LOGIN,
        body=Credentials,
        responses={200: TokenOut},
        errors=(401,),
    )
    async def create_token(call: Call) -> web.StreamResponse:
        def issue(session: Session, user: User) -> TokenOut:
            token, row = auth_core.issue_token(session=session, user=user, ttl=ttl)
            return TokenOut(token=token, expires_at=row.expires_at.isoformat())

        return dump(await login(call, issue))

    @api.route(
        "POST",
        "/auth/session",
        summary="Log in for the web pages (sets a session cookie)",
        tag="auth",
        act=authz.Act.LOGIN,
        body=Credentials,
        responses={200: SessionOut},
        errors=(401,),
    )
    async def create_session(call: Call) -> web.StreamResponse:
        # Login CSRF: another site must not log the browser in as the attacker.
        if not same_origin(call.request):
            raise ApiProblem(403, "Forbidden", "a login from another site is refused")

        def issue(session: Session, user: User) -> tuple[str, SessionOut]:
            token, row = auth_core.issue_token(session=session, user=user, ttl=ttl, kind="session")
            assert row.csrf_token is not None
            out = SessionOut(
                username=user.username,
                csrf_token=row.csrf_token,
                expires_at=row.expires_at.isoformat(),
            )
            return token, out

        token, out = await login(call, issue)
        response = dump(out)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="Strict",
            secure=settings.secure_cookies,
            max_age=settings.token_ttl_seconds,
            path="/",
        )
        return response

    @api.route(
        "POST",
        "/auth/logout",
        summary="Revoke the presented token or session",
        tag="auth",
        act=authz.Act.LOGOUT,
        responses={204: None},
    )
    async def logout(call: Call) -> web.StreamResponse:
        header = call.request.headers.get("Authorization", "")
        token = header.partition(" ")[2].strip() or call.request.cookies.get(SESSION_COOKIE, "")
        await db.run(auth_core.revoke_token, token=token)
        response = web.Response(status=204)
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    @api.route("GET", "/me", summary="Who am I", tag="auth", roles=(), responses={200: Me})
    async def me(call: Call) -> web.StreamResponse:
        assert call.user is not None
        return dump(
            Me(
                username=call.user.username,
                display_name=call.user.display_name,
                roles=[Role(r) for r in call.user.roles],
            )
        )

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
        def work(session: Session) -> BaseModel:
            rows = session.exec(select(Department).order_by(col(Department.code))).all()
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
        def work(session: Session) -> BaseModel:
            rooms = session.exec(select(Courtroom).order_by(col(Courtroom.code))).all()
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

        def work(session: Session) -> BaseModel:
            rows = session.exec(select(Line).order_by(col(Line.code))).all()
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

    # ---- hearings ------------------------------------------------------------------------

    @api.route(
        "GET",
        "/hearings",
        summary="List hearings",
        tag="hearings",
        roles=STAFF_VIEW,
        query=hearings.HearingQuery,
        responses={200: HearingPage},
    )
    async def list_hearings(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            rows, total = hearings.list_hearings(session=session, query=call.query, zone=zone)
            items = [hearings.to_public(session=session, hearing=h, zone=zone) for h in rows]
            return HearingPage(items=items, total=total)

        return dump(await db.run(work))

    @api.route(
        "GET",
        "/hearings/{hearing_id}",
        summary="Get one hearing",
        tag="hearings",
        roles=STAFF_VIEW,
        responses={200: hearings.HearingPublic},
    )
    async def get_hearing(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            row = session.get(Hearing, call.params["hearing_id"])
            if row is None:
                raise not_found("hearing", call.params["hearing_id"])
            return hearings.to_public(session=session, hearing=row, zone=zone)

        return dump(await db.run(work))

    @api.route(
        "POST",
        "/hearings",
        summary="Create (or update by case number and start)",
        tag="hearings",
        act=authz.Act.HEARING_WRITE,
        body=hearings.HearingCreate,
        responses={201: hearings.HearingPublic, 200: hearings.HearingPublic},
        links={
            "GetHearing": ("get_hearing", HEARING_LINK),
            "UpdateHearing": ("update_hearing", HEARING_LINK),
            "GetDecision": ("get_decision", HEARING_LINK),
            "ApplyNotStreamed": ("apply", HEARING_LINK),
        },
    )
    async def create_hearing(call: Call) -> web.StreamResponse:
        # Re-validate with the court's zone so naive times mean local court time.
        data = hearings.HearingCreate.model_validate(call.body.model_dump(), context={"zone": zone})

        def work(session: Session) -> tuple[BaseModel, str]:
            assert call.user is not None
            try:
                row, outcome = hearings.upsert_hearing(
                    session=session, data=data, actor=call.user.username
                )
            except hearings.UnknownReference as exc:
                raise field_problem(
                    422, "Unprocessable content", f"body.{exc.field}", str(exc)
                ) from None
            after_hearing_change(session, row, call.user.username)
            return hearings.to_public(session=session, hearing=row, zone=zone), outcome

        out, outcome = await db.run(work)
        return dump(out, 201 if outcome == "created" else 200)

    @api.route(
        "PATCH",
        "/hearings/{hearing_id}",
        summary="Change a hearing",
        tag="hearings",
        act=authz.Act.HEARING_WRITE,
        body=hearings.HearingUpdate,
        responses={200: hearings.HearingPublic},
        errors=(409,),
    )
    async def update_hearing(call: Call) -> web.StreamResponse:
        patch = hearings.HearingUpdate.model_validate(
            call.body.model_dump(exclude_unset=True), context={"zone": zone}
        )

        def work(session: Session) -> BaseModel:
            assert call.user is not None
            try:
                row = hearings.update_hearing(
                    session=session,
                    hearing_id=call.params["hearing_id"],
                    patch=patch,
                    actor=call.user.username,
                )
            except hearings.UnknownReference as exc:
                raise field_problem(
                    422, "Unprocessable content", f"body.{exc.field}", str(exc)
                ) from None
            except hearings.HearingConflict as exc:
                raise ApiProblem(409, "Conflict", str(exc)) from None
            except IntegrityError:  # a concurrent change took the same case and start
                raise ApiProblem(
                    409, "Conflict", "another hearing has this case and start"
                ) from None
            if row is None:
                raise not_found("hearing", call.params["hearing_id"])
            after_hearing_change(session, row, call.user.username)
            return hearings.to_public(session=session, hearing=row, zone=zone)

        return dump(await db.run(work))

    # ---- bookings ------------------------------------------------------------------------

    @api.route(
        "GET",
        "/bookings",
        summary="List stream-slot bookings",
        tag="bookings",
        roles=STAFF_VIEW,
        query=bookings.BookingQuery,
        responses={200: BookingPage},
    )
    async def list_bookings(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            rows, total = bookings.list_bookings(session=session, query=call.query)
            items = [bookings.to_public(session=session, booking=b) for b in rows]
            return BookingPage(items=items, total=total)

        return dump(await db.run(work))

    @api.route(
        "POST",
        "/bookings",
        summary="Book a stream slot for a hearing (idempotent)",
        tag="bookings",
        act=authz.Act.BOOKING_WRITE,
        body=bookings.BookingCreate,
        responses={201: bookings.BookingPublic, 200: bookings.BookingPublic},
        errors=(404,),
        links={
            "GetBooking": ("get_booking", {"booking_id": "$response.body#/id"}),
            "CancelBooking": ("cancel_booking", {"booking_id": "$response.body#/id"}),
            "GetBookedHearing": ("get_hearing", {"hearing_id": "$response.body#/hearing_id"}),
        },
    )
    async def create_booking(call: Call) -> web.StreamResponse:
        data: bookings.BookingCreate = call.body
        header_key = call.request.headers.get("Idempotency-Key")
        if header_key and not data.idempotency_key:
            if not 8 <= len(header_key) <= 128:
                raise field_problem(
                    422,
                    "Unprocessable content",
                    "header.Idempotency-Key",
                    "must have 8 to 128 characters",
                )
            data = data.model_copy(update={"idempotency_key": header_key})

        def work(session: Session) -> tuple[BaseModel, bool]:
            assert call.user is not None
            try:
                row, created = bookings.book(
                    session=session,
                    data=data,
                    user=call.user,
                    rules=rules,
                    announce=timedelta(days=settings.announce_days),
                )
            except LookupError as exc:
                raise field_problem(404, "Not found", "body.hearing_id", str(exc)) from None
            except bookings.BookingRefused as exc:
                raise field_problem(422, "Booking refused", f"body.{exc.field}", str(exc)) from None
            if created:
                plan_around(session, row, call.user.username)
            return bookings.to_public(session=session, booking=row), created

        out, created = await db.run(work)
        return dump(out, 201 if created else 200)

    @api.route(
        "GET",
        "/bookings/{booking_id}",
        summary="Get one booking",
        tag="bookings",
        roles=STAFF_VIEW,
        responses={200: bookings.BookingPublic},
    )
    async def get_booking(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            row = session.get(Booking, call.params["booking_id"])
            if row is None:
                raise not_found("booking", call.params["booking_id"])
            return bookings.to_public(session=session, booking=row)

        return dump(await db.run(work))

    @api.route(
        "POST",
        "/bookings/{booking_id}/cancel",
        summary="Cancel a booking (idempotent)",
        tag="bookings",
        act=authz.Act.BOOKING_WRITE,
        body=bookings.BookingCancel,
        responses={200: bookings.BookingPublic},
    )
    async def cancel_booking(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            assert call.user is not None
            row = bookings.cancel(
                session=session,
                booking_id=call.params["booking_id"],
                data=call.body,
                user=call.user,
            )
            if row is None:
                raise not_found("booking", call.params["booking_id"])
            plan_around(session, row, call.user.username)
            return bookings.to_public(session=session, booking=row)

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
            )
            return AuditPage(items=[_audit_out(r) for r in rows], total=total)

        return dump(await db.run(work))

    register_approvals(api, db=db, rules=rules, plan=plan_hearing)
    register_lines(api, db=db, replan=plan_at)
    register_reports(api, db=db, settings=settings, rules=rules)
    register_console(
        api,
        db=db,
        orchestrator=orchestrator,
        zone=zone,
        heartbeat=settings.feed_heartbeat_seconds,
        replica=replica_name(settings.replica, settings.host, settings.port),
    )
    register_coverage(api, db=db, settings=settings)
    register_record(api, db=db, settings=settings)
    register_record_access(api, db=db)
    register_thumbs(api, db=db, settings=settings)
    return api


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


def same_origin(request: web.Request) -> bool:
    """Whether the browser says the request comes from this server's own pages (or sends
    no Origin at all, as scripts and old browsers do)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
    return origin.partition("://")[2] == request.host


def _unauthorised(detail: str) -> ApiProblem:
    return ApiProblem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
