"""Login throttling: growing delays per account and address, a lockout an administrator
lifts, failed logins in the audit log, and argon2 off the database's threads."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from streamd.config import Settings
from streamd.models import User
from streamd.store import Database
from streamd.throttle import Policy, Throttled, begin_attempt, delay, unlock
from streamd.web import create_app
from tests.conftest import PASSWORD, Client, MakeClient, token

pytestmark = pytest.mark.db


@given(st.integers(0, 10_000), st.integers(1, 20), st.floats(0.01, 10), st.floats(1, 3600))
def test_delays_grow_and_stay_capped(n: int, free: int, base: float, cap: float) -> None:
    now, after = (
        delay(n, free=free, base=base, cap=cap),
        delay(n + 1, free=free, base=base, cap=cap),
    )
    assert 0 <= now <= after <= cap or (now == 0 and n < free)
    assert (now == 0) == (n < free)


async def _client(
    aiohttp_client: MakeClient, settings: Settings, db: Database, **kw: Any
) -> Client:
    return await aiohttp_client(create_app(settings=settings.model_copy(update=kw), db=db))


async def _try(client: Client, user: str, password: str) -> tuple[int, dict[str, str]]:
    resp = await client.post("/api/v1/auth/token", json={"username": user, "password": password})
    return resp.status, dict(resp.headers)


async def test_wrong_passwords_slow_the_account_down_even_for_the_right_one(
    aiohttp_client: MakeClient, settings: Settings, database: Database, users: dict[str, str]
) -> None:
    client = await _client(aiohttp_client, settings, database)  # the production defaults
    for _ in range(3):
        assert (await _try(client, "clerk", "wrong-password"))[0] == 401
    status, headers = await _try(client, "clerk", PASSWORD)
    assert status == 429 and int(headers["Retry-After"]) >= 1  # not even checked
    resp = await client.get(
        "/api/v1/audit?object_type=login_throttle", headers=await token(client, "admin")
    )
    failed = [e for e in (await resp.json())["items"] if e["action"] == "auth.login_failed"]
    assert len(failed) == 3 and {e["actor"] for e in failed} == {"clerk"}


async def test_a_locked_account_waits_for_an_administrator(
    aiohttp_client: MakeClient, settings: Settings, database: Database, users: dict[str, str]
) -> None:
    client = await _client(
        aiohttp_client, settings, database, login_delay_seconds=0, login_lockout_failures=4
    )
    admin = await token(client, "admin")
    for _ in range(4):
        assert (await _try(client, "judge", "wrong-password"))[0] == 401
    assert (await _try(client, "judge", PASSWORD))[0] == 423
    with database.session() as s:
        judge = s.exec(select(User).where(User.username == "judge")).one().id
    resp = await client.post(f"/api/v1/users/{judge}/unlock", json={}, headers=admin)
    assert resp.status == 200, await resp.text()
    assert (await resp.json()) == {"username": "judge", "was_locked": True}
    assert (await _try(client, "judge", PASSWORD))[0] == 200
    resp = await client.post(
        f"/api/v1/users/{judge}/unlock", json={}, headers=await token(client, "judge")
    )
    assert resp.status == 403


async def test_one_address_guessing_many_accounts_is_slowed_down(
    aiohttp_client: MakeClient, settings: Settings, database: Database, users: dict[str, str]
) -> None:
    client = await _client(
        aiohttp_client, settings, database, login_address_free_failures=3, login_delay_seconds=30
    )
    for name in ("clerk", "judge", "nobody"):
        assert (await _try(client, name, "wrong-password"))[0] == 401
    assert (await _try(client, "technician", PASSWORD))[0] == 429


def _attempt(db: Database, user: str, address: str, policy: Policy) -> str:
    """One wrong password through the throttle: 'counted', 'delayed' or 'locked'."""
    try:
        db.call(begin_attempt, username=user, address=address, policy=policy)
    except Throttled as exc:
        return "locked" if exc.locked else "delayed"
    return "counted"


def test_an_attacker_locks_out_only_their_own_address(database: Database) -> None:
    policy = Policy(free=3, base_seconds=0, lockout=5, address_free=3)
    outcomes = [_attempt(database, "clerk", "203.0.113.9", policy) for _ in range(6)]
    assert outcomes == ["counted"] * 5 + ["locked"]
    # The clerk at her desk is neither locked out nor slowed down.
    assert _attempt(database, "Clerk", "10.1.2.3", policy) == "counted"


def test_a_guess_from_everywhere_meets_the_accounts_brake(database: Database) -> None:
    policy = Policy(free=3, base_seconds=60, lockout=20, address_free=3, account_free=4)
    outcomes = [_attempt(database, "judge", f"198.51.100.{i}", policy) for i in range(6)]
    assert outcomes[:4] == ["counted"] * 4 and outcomes[4:] == ["delayed", "delayed"]


def test_unlocking_lifts_the_lockout_from_every_address(database: Database) -> None:
    policy = Policy(free=2, base_seconds=0, lockout=2, account_free=50)
    for address in ("192.0.2.1", "192.0.2.2"):
        for _ in range(2):
            _attempt(database, "ju_dge%", address, policy)
        assert _attempt(database, "ju_dge%", address, policy) == "locked"
    _attempt(database, "judge", "192.0.2.1", policy)  # another name, alike under LIKE
    _attempt(database, "judge", "192.0.2.1", policy)
    assert database.call(unlock, username="ju_dge%") is True
    for address in ("192.0.2.1", "192.0.2.2"):
        assert _attempt(database, "ju_dge%", address, policy) == "counted"
    assert _attempt(database, "judge", "192.0.2.1", policy) == "locked"
