"""Users, passwords and tokens.

Passwords are hashed with argon2id (memory-hard). Tokens are random and only their SHA-256
is stored, so a leaked database does not hand out working sessions.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from streamd.domain import Role
from streamd.models import AuthToken, Department, User, utcnow

USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]{2,64}$"
MIN_PASSWORD_LENGTH = 8
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# A real hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _HASHER.hash("streamd-timing-equaliser")


class AuthError(Exception):
    """Credentials or token rejected; the message is safe to show."""


class UserExistsError(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    roles: Iterable[Role],
    display_name: str = "",
    department: str | None = None,
) -> User:
    """`department` is a department code; department heads decide for that department only."""
    if session.exec(select(User).where(User.username == username)).first():
        raise UserExistsError(f"user {username!r} already exists")
    department_id = None
    if department is not None:
        dept = session.exec(select(Department).where(Department.code == department)).first()
        if dept is None:
            raise ValueError(f"unknown department {department!r}")
        department_id = dept.id
    role_list = sorted({Role(r).value for r in roles})
    if not role_list:
        raise ValueError("a user needs at least one role")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        roles=role_list,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(*, session: Session, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise AuthError("wrong username or password") from None
    if user is None or not user.active:
        raise AuthError("wrong username or password")
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    *, session: Session, user: User, ttl: timedelta, kind: str = "bearer"
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
    *, session: Session, token: str, kind: str, now: datetime | None = None
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


def revoke_token(*, session: Session, token: str) -> None:
    row = session.exec(select(AuthToken).where(AuthToken.token_hash == _digest(token))).first()
    if row is not None:
        row.revoked = True
        session.add(row)
