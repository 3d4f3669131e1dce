"""The JSON API, `/api/v1`. Each handler is one unit of work run through `Database.run`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import timedelta
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from streamd import audit, authz, changes, hearings, planning, throttle
from streamd import auth as auth_core
from streamd.casenumber import CaseNumberError, parse_case_number
from streamd.config import Settings
from streamd.domain import Role
from streamd.models import (
    LoginThrottle,
    User,
)
from streamd.orchestrator import Orchestrator, replica_name
from streamd.policy import load_rules
from streamd.store import Database
from streamd.web.approvals_api import register_approvals
from streamd.web.console_api import register_console
from streamd.web.court_api import register_court
from streamd.web.coverage_api import register_coverage
from streamd.web.docket_api import register_docket
from streamd.web.lines_api import register_lines
from streamd.web.operations_api import register_operations
from streamd.web.problems import ApiProblem
from streamd.web.record_access_api import register_record_access
from streamd.web.record_api import register_record
from streamd.web.reports_api import register_reports
from streamd.web.routing import SAFE_METHODS, Api, Call, dump
from streamd.web.thumbs_api import register_thumbs

T = TypeVar("T")
PAUSE_LOOKUP_SECONDS = 0.5
log = logging.getLogger(__name__)
SESSION_COOKIE = "streamd_session"
CSRF_HEADER = "X-CSRF-Token"
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

    async def authorize(act: authz.Act | None, call: Call) -> None:
        """The one authorisation decision: load what the call reaches, then decide. `act`
        None: a read of an object named in the path, which must be the user's court's."""
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
                line_id=params.get("line_id"),
                user_id=params.get("user_id"),
                outage_id=params.get("outage_id"),
                alert_id=params.get("alert_id"),
                departments=departments,
                case_key=case_key,
                with_state=act in authz.STATEFUL_ACTS,
                court_id=user.court_id,
            )

        if act is authz.Act.STREAM_PAUSE:
            # The fastest path waits on nothing slow: if the database cannot say whose
            # hearing it is in time, the pause goes ahead (hiding a broadcast is the safe
            # side). The role check still applies; the lookup is two primary-key reads.
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

    register_court(api, db=db)

    register_docket(api, db=db, settings=settings, rules=rules, aftermath=aftermath)

    register_approvals(api, db=db, rules=rules, plan=plan_hearing)
    register_lines(api, db=db, replan=plan_at)
    register_reports(api, db=db, settings=settings, rules=rules)
    register_console(
        api,
        db=db,
        orchestrator=orchestrator,
        zone=zone,
        replica=replica_name(settings.replica, settings.host, settings.port),
    )
    register_operations(
        api, db=db, orchestrator=orchestrator, heartbeat=settings.feed_heartbeat_seconds
    )
    register_coverage(api, db=db, settings=settings)
    register_record(api, db=db, settings=settings)
    register_record_access(api, db=db)
    register_thumbs(api, db=db, settings=settings)
    return api


def same_origin(request: web.Request) -> bool:
    """Whether the browser says the request comes from this server's own pages (or sends
    no Origin at all, as scripts and old browsers do)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
    return origin.partition("://")[2] == request.host


def _unauthorised(detail: str) -> ApiProblem:
    return ApiProblem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
