"""Users, passwords and tokens.

Passwords are hashed with argon2id (memory-hard). Tokens are random and only their SHA-256
is stored, so a leaked database does not hand out working sessions.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from streamd.config import Settings
from streamd.court import court_by_code
from streamd.domain import Role
from streamd.models import AuthToken, Department, User, utcnow

USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]{2,64}$"
MIN_PASSWORD_LENGTH = 8
# argon2-cffi's recommended parameters (RFC 9106's second choice): 3 passes over 64 MiB.
DEFAULT_TIME_COST = 3
DEFAULT_MEMORY_KIB = 65536


@functools.cache
def hasher(
    time_cost: int = DEFAULT_TIME_COST, memory_kib: int = DEFAULT_MEMORY_KIB
) -> PasswordHasher:
    """The argon2id hasher for these costs (settings `password_hash_*`; tests set them low).
    A stored hash carries its own parameters, so raising the cost keeps old hashes valid."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def hasher_for(settings: Settings) -> PasswordHasher:
    return hasher(settings.password_hash_time_cost, settings.password_hash_memory_kib)


@functools.cache
def _dummy_hash(h: PasswordHasher) -> str:
    """A real hash to verify against when the user does not exist, so timing does not tell.
    Made on first use, not at import."""
    return h.hash("streamd-timing-equaliser")


class AuthError(Exception):
    """Credentials or token rejected; the message is safe to show."""


class UserExistsError(ValueError):
    pass


def hash_password(password: str, h: PasswordHasher | None = None) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return (h or hasher()).hash(password)


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    roles: Iterable[Role],
    display_name: str = "",
    department: str | None = None,
    court: str | None = None,
    password_hasher: PasswordHasher | None = None,
) -> User:
    """`department` is a department code; department heads decide for that department only.
    `court` is the court's code; it may be left out while the deployment holds one court."""
    if session.exec(select(User).where(User.username == username)).first():
        raise UserExistsError(f"user {username!r} already exists")
    court_id = court_by_code(session, court)
    department_id = None
    if department is not None:
        dept = session.exec(
            select(Department).where(Department.code == department, Department.court_id == court_id)
        ).first()
        if dept is None:
            raise ValueError(f"unknown department {department!r}")
        department_id = dept.id
    role_list = sorted({Role(r).value for r in roles})
    if not role_list:
        raise ValueError("a user needs at least one role")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password, password_hasher),
        roles=role_list,
        court_id=court_id,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(
    session: Session, *, username: str, password: str, password_hasher: PasswordHasher | None = None
) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    stored = user.password_hash if user else None
    if not verify_password(stored, password, password_hasher):
        raise AuthError("wrong username or password")
    if user is None or not user.active:
        raise AuthError("wrong username or password")
    return user


def verify_password(stored: str | None, password: str, h: PasswordHasher | None = None) -> bool:
    """Pure CPU, no database: the server runs it on its own small pool, never the database's.
    An unknown user (`stored` None) costs one verification too, so timing does not tell."""
    h = h or hasher()
    try:
        return bool(h.verify(stored or _dummy_hash(h), password)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, *, user: User, ttl: timedelta, kind: str = "bearer"
) -> tuple[str, AuthToken]:
    token = secrets.token_urlsafe(32)
    assert user.id is not None
    row = AuthToken(
        token_hash=_digest(token),
        user_id=user.id,
        kind=kind,
        csrf_token=secrets.token_urlsafe(24) if kind == "session" else None,
        expires_at=utcnow() + ttl,
    )
    session.add(row)
    session.flush()
    return token, row


def resolve_token(
    session: Session, *, token: str, kind: str, now: datetime | None = None
) -> tuple[User, AuthToken]:
    row = session.exec(
        select(AuthToken).where(AuthToken.token_hash == _digest(token), AuthToken.kind == kind)
    ).first()
    moment = now or utcnow()
    if row is None or row.revoked or row.expires_at <= moment:
        raise AuthError("token is invalid or expired")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise AuthError("token is invalid or expired")
    return user, row


def revoke_token(session: Session, *, token: str) -> None:
    row = session.exec(select(AuthToken).where(AuthToken.token_hash == _digest(token))).first()
    if row is not None:
        row.revoked = True
        session.add(row)


def csrf_matches(given: str | None, expected: str | None) -> bool:
    """Whether a request's CSRF header is its session's token, compared in constant time
    (an `!=` leaks, through its timing, how many leading characters were right)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
