"""Party access to one hearing's record (SPC 2017 provisions on court recording, Art. 10, 11).

A judge or clerk of the hearing's department grants a named party access for a period;
streamd gives out a one-time code once and keeps only its hash. The first redemption
consumes the code and opens a party session (again only its hash is kept) scoped to that
one hearing; a replayed, forged, expired or revoked code, or a session after expiry or
revocation, is refused alike, with nothing said about which. Every view, seek-heavy
minute, download and refusal is written to the record's access log.

The rules are pure functions (`check`, `SeekCounter`); the units of work below them only
read and write rows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from streamd import audit
from streamd.models import Hearing, RecordAccess, RecordGrant, utcnow

MAX_GRANT = timedelta(days=90)
# A party session fetching more segments than this in one minute is seeking through the
# record rather than watching it (a 2 s segment plays 30 a minute): logged once a minute.
SEEK_HEAVY_PER_MINUTE = 60


class AccessKind(StrEnum):
    VIEW = "view"
    SEEK_HEAVY = "seek_heavy"
    DOWNLOAD_AUDIO = "download_audio"
    DOWNLOAD_TRANSCRIPT = "download_transcript"
    DENIED = "denied"


class Refusal(StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    NON_PUBLIC = "non_public"


class GrantRefused(ValueError):
    """A grant the rules refuse to create (the period, a non-public hearing)."""


def new_secret() -> str:
    """A code or session token: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def check(grant: RecordGrant, hearing_public: bool, now: datetime) -> Refusal | None:
    """Why `grant` may not be used now, or None: revoked and expired win over everything,
    and a non-public hearing opens only for a grant that says so."""
    if grant.revoked_at is not None:
        return Refusal.REVOKED
    if now >= grant.expires_at:
        return Refusal.EXPIRED
    if not hearing_public and not grant.allow_non_public:
        return Refusal.NON_PUBLIC
    return None


@dataclass(slots=True)
class SeekCounter:
    """Segment fetches per party session per minute; says when a minute turns seek-heavy
    (once per minute, so a scrubbing party is one log line a minute, not hundreds)."""

    limit: int = SEEK_HEAVY_PER_MINUTE
    _minutes: dict[int, tuple[int, int]] = field(default_factory=dict)

    def fetched(self, grant_id: int, now: datetime) -> bool:
        minute = int(now.timestamp() // 60)
        at, count = self._minutes.get(grant_id, (minute, 0))
        if at != minute:
            at, count = minute, 0
        count += 1
        self._minutes[grant_id] = (at, count)
        return count == self.limit + 1


# ---- units of work --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issued:
    grant: RecordGrant
    code: str


def create(
    session: Session,
    *,
    hearing: Hearing,
    party_name: str,
    days: int,
    allow_audio: bool,
    allow_transcript: bool,
    allow_non_public: bool,
    by: str,
    now: datetime | None = None,
) -> Issued:
    now = now or utcnow()
    period = timedelta(days=days)
    if not timedelta(0) < period <= MAX_GRANT:
        raise GrantRefused(f"a grant lasts 1 to {MAX_GRANT.days} days / 授权期限须为1至90天")
    if not hearing.is_public and not allow_non_public:
        raise GrantRefused(
            "不公开审理案件须明确授权查阅 / a non-public hearing needs allow_non_public"
        )
    code = new_secret()
    assert hearing.id is not None
    row = RecordGrant(
        hearing_id=hearing.id,
        party_name=party_name,
        created_by=by,
        created_at=now,
        expires_at=now + period,
        allow_audio=allow_audio,
        allow_transcript=allow_transcript,
        allow_non_public=allow_non_public,
        code_hash=digest(code),
    )
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=by,
        action="record.grant",
        obj=row,
        after=audit.snapshot(row),
    )
    return Issued(row, code)


def revoke(session: Session, *, grant_id: int, hearing_id: int, by: str) -> RecordGrant | None:
    row = session.get(RecordGrant, grant_id)
    if row is None or row.hearing_id != hearing_id:
        return None
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = utcnow(), by
        session.add(row)
        audit.record(session=session, actor=by, action="record.revoke", obj=row)
    return row


def grants(session: Session, *, hearing_id: int) -> list[RecordGrant]:
    stmt = select(RecordGrant).where(RecordGrant.hearing_id == hearing_id)
    return list(session.exec(stmt.order_by(col(RecordGrant.id))).all())


def redeem(session: Session, *, code: str, now: datetime | None = None) -> tuple[RecordGrant, str]:
    """Consume a code: the grant and a fresh party session token, or `Refusal` raised as
    LookupError(refusal). The code is spent in the same transaction that opens the session,
    so two redemptions of one code cannot both succeed."""
    now = now or utcnow()
    row = session.exec(select(RecordGrant).where(RecordGrant.code_hash == digest(code))).first()
    if row is None:
        raise LookupError(Refusal.UNKNOWN)
    hearing = session.get(Hearing, row.hearing_id)
    refusal = check(row, bool(hearing and hearing.is_public), now)
    if refusal is None and row.redeemed_at is not None:
        refusal = Refusal.USED
    if refusal is not None:
        raise LookupError(refusal)
    token = new_secret()
    row.redeemed_at, row.session_hash = now, digest(token)
    session.add(row)
    return row, token


def by_session(
    session: Session, *, token: str, now: datetime | None = None
) -> tuple[RecordGrant | None, Refusal | None]:
    """The grant a party session belongs to, and why it may not be used now (if so)."""
    row = session.exec(select(RecordGrant).where(RecordGrant.session_hash == digest(token))).first()
    if row is None:
        return None, Refusal.UNKNOWN
    hearing = session.get(Hearing, row.hearing_id)
    return row, check(row, bool(hearing and hearing.is_public), now or utcnow())


def log(
    session: Session,
    *,
    kind: AccessKind,
    hearing_id: int | None,
    remote: str,
    user_agent: str,
    grant_id: int | None = None,
    username: str | None = None,
) -> None:
    session.add(
        RecordAccess(
            hearing_id=hearing_id,
            grant_id=grant_id,
            username=username,
            kind=kind.value,
            remote=remote[:64],
            user_agent=user_agent[:256],
        )
    )


def access_log(session: Session, *, hearing_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The newest entries first, each naming the staff user or the party of the grant."""
    rows = session.exec(
        select(RecordAccess, RecordGrant)
        .outerjoin(RecordGrant, col(RecordGrant.id) == col(RecordAccess.grant_id))
        .where(RecordAccess.hearing_id == hearing_id)
        .order_by(col(RecordAccess.id).desc())
        .limit(limit)
    ).all()
    return [
        {
            "at": a.at.isoformat(),
            "kind": a.kind,
            "who": a.username or (g.party_name if g else "?"),
            "party": a.username is None,
            "grant_id": a.grant_id,
            "remote": a.remote,
            "user_agent": a.user_agent,
        }
        for a, g in rows
    ]
