"""Login throttling: growing delays per account *from an address* and per address, a
lockout only an administrator lifts, and a looser account-wide brake.

Each login attempt is counted as a failure *before* the password is checked (and forgiven
when it was right), so a burst of parallel guesses is throttled as surely as a series. After
`free` failures in a row each further attempt waits `base * 2**(n - free)` seconds (capped).

The delay and the lockout are kept per account and address together: an attacker guessing
a clerk's password from one machine slows down and locks out that machine, not the clerk at
her desk. The address's counter only delays (one office's NAT must not lock out a whole
department). The account's own counter, over every address, delays only past
`account_free` failures, far more than one address can make before its lockout: that is a
distributed guess, and the brake holds it to a few dozen a day.
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
    account_free: int = 100  # failures over every address before the account slows down

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            free=settings.login_free_failures,
            base_seconds=settings.login_delay_seconds,
            max_seconds=settings.login_max_delay_seconds,
            lockout=settings.login_lockout_failures,
            address_free=settings.login_address_free_failures,
            account_free=settings.login_account_free_failures,
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


def pair_key(username: str, address: str) -> str:
    """The account from one address; the name's length first, so that no name and address
    make another pair's key and an account's pairs share a prefix (`pairs_prefix`)."""
    return f"{pairs_prefix(username)}{address}"


def pairs_prefix(username: str) -> str:
    name = username.lower()
    return f"pair:{len(name)}:{name}|"


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
    session: Session, *, username: str, address: str, policy: Policy, now: datetime | None = None
) -> None:
    """Count the attempt, or refuse it (`Throttled`) without counting."""
    now = now or utcnow()
    # (row, failures allowed before delays, whether reaching the lockout locks it)
    rows = [
        (_row(session, pair_key(username, address)), policy.free, True),
        (_row(session, address_key(address)), policy.address_free, False),
        (_row(session, account_key(username)), policy.account_free, False),
    ]
    for row, _, locks in rows:
        if locks and row.locked:
            raise Throttled(0.0, locked=True)
        if row.next_allowed_at is not None and row.next_allowed_at > now:
            raise Throttled((row.next_allowed_at - now).total_seconds(), locked=False)
    for row, free, locks in rows:
        row.failures += 1
        row.last_failure_at = now
        wait = delay(row.failures, free=free, base=policy.base_seconds, cap=policy.max_seconds)
        row.next_allowed_at = now + timedelta(seconds=wait) if wait else None
        if locks and row.failures >= policy.lockout:
            row.locked = True
        session.add(row)


def succeeded(session: Session, *, username: str, address: str) -> None:
    """The password was right: forgive this attempt and the ones before."""
    session.execute(
        sa.update(LoginThrottle)
        .where(
            col(LoginThrottle.key).in_(
                [account_key(username), address_key(address), pair_key(username, address)]
            )
        )
        .values(failures=0, next_allowed_at=None, locked=False)
    )


def _account_rows(session: Session, username: str) -> list[LoginThrottle]:
    """The account's own row and its rows from every address."""
    return list(
        session.exec(
            select(LoginThrottle).where(
                sa.or_(
                    col(LoginThrottle.key) == account_key(username),
                    col(LoginThrottle.key).startswith(pairs_prefix(username), autoescape=True),
                )
            )
        ).all()
    )


def failures(session: Session, *, username: str, address: str) -> tuple[int, bool]:
    """Failures in a row of the account over every address, and whether it is locked
    from this one (what the audit records of a failed login)."""
    rows = {r.key: r for r in _account_rows(session, username)}
    account, pair = rows.get(account_key(username)), rows.get(pair_key(username, address))
    return (account.failures if account else 0), bool(pair and pair.locked)


def unlock(session: Session, *, username: str) -> bool:
    """Lift the account's lockouts and delays from every address; whether it was locked."""
    was_locked = False
    for row in _account_rows(session, username):
        was_locked = was_locked or row.locked
        row.failures, row.next_allowed_at, row.locked = 0, None, False
        session.add(row)
    return was_locked
