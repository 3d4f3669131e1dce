"""Login throttling: growing delays per account and per address, and an account lockout
only an administrator lifts.

Each login attempt is counted as a failure *before* the password is checked (and forgiven
when it was right), so a burst of parallel guesses is throttled as surely as a series. After
`free` failures in a row each further attempt waits `base * 2**(n - free)` seconds (capped);
an account reaching `lockout` failures is locked until an administrator unlocks it. The
address's counter only delays: one office's NAT must not lock out a whole department.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from streamd.config import Settings
from streamd.models import LoginThrottle, utcnow


@dataclass(frozen=True, slots=True)
class Policy:
    free: int = 3  # failures in a row before any delay
    base_seconds: float = 1.0
    max_seconds: float = 900.0
    lockout: int = 20  # account failures in a row that lock it
    address_free: int = 10

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            free=settings.login_free_failures,
            base_seconds=settings.login_delay_seconds,
            max_seconds=settings.login_max_delay_seconds,
            lockout=settings.login_lockout_failures,
            address_free=settings.login_address_free_failures,
        )


def delay(failures: int, *, free: int, base: float, cap: float) -> float:
    """Seconds the next attempt waits after `failures` failures in a row (pure)."""
    if failures < free:
        return 0.0
    return min(cap, base * 2.0 ** min(failures - free, 60))


class Throttled(Exception):
    def __init__(self, retry_after: float, *, locked: bool) -> None:
        self.retry_after = retry_after
        self.locked = locked
        super().__init__(
            "the account is locked after too many wrong passwords: an administrator must unlock it"
            if locked
            else f"too many wrong passwords: try again in {retry_after:.0f} s"
        )


def account_key(username: str) -> str:
    return f"user:{username.lower()}"


def address_key(address: str) -> str:
    return f"addr:{address}"


def _row(session: Session, key: str) -> LoginThrottle:
    """The key's row, created if missing, locked for the rest of the transaction."""
    table = LoginThrottle.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    session.execute(
        insert(table).values(key=key, failures=0, locked=False).on_conflict_do_nothing()
    )
    stmt = select(LoginThrottle).where(LoginThrottle.key == key)
    if dialect == "postgresql":
        stmt = stmt.with_for_update()
    return session.exec(stmt).one()


def begin_attempt(
    *, session: Session, username: str, address: str, policy: Policy, now: datetime | None = None
) -> None:
    """Count the attempt, or refuse it (`Throttled`) without counting."""
    now = now or utcnow()
    rows = [
        (_row(session, account_key(username)), policy.free, True),
        (_row(session, address_key(address)), policy.address_free, False),
    ]
    for row, _, is_account in rows:
        if is_account and row.locked:
            raise Throttled(0.0, locked=True)
        if row.next_allowed_at is not None and row.next_allowed_at > now:
            raise Throttled((row.next_allowed_at - now).total_seconds(), locked=False)
    for row, free, is_account in rows:
        row.failures += 1
        row.last_failure_at = now
        wait = delay(row.failures, free=free, base=policy.base_seconds, cap=policy.max_seconds)
        row.next_allowed_at = now + timedelta(seconds=wait) if wait else None
        if is_account and row.failures >= policy.lockout:
            row.locked = True
        session.add(row)


def succeeded(*, session: Session, username: str, address: str) -> None:
    """The password was right: forgive this attempt and the ones before."""
    session.execute(
        sa.update(LoginThrottle)
        .where(col(LoginThrottle.key).in_([account_key(username), address_key(address)]))
        .values(failures=0, next_allowed_at=None, locked=False)
    )


def unlock(*, session: Session, username: str) -> bool:
    """Lift the account's lockout and delays; whether it was locked."""
    key = account_key(username)
    row = session.exec(select(LoginThrottle).where(LoginThrottle.key == key)).first()
    if row is None:
        return False
    was_locked = row.locked
    row.failures, row.next_allowed_at, row.locked = 0, None, False
    session.add(row)
    return was_locked
