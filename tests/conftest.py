"""Shared fixtures. Every test gets its own database: a SQLite file in its temp dir, or a
fresh PostgreSQL schema when STREAMD_TEST_POSTGRES_URL is set (CI sets it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient

from streamd import court, sample
from streamd.auth import create_user, hasher_for
from streamd.config import Settings, load_settings
from streamd.domain import Role
from streamd.store import Database, upgrade
from streamd.web import create_app
from tests.archive_support import archive_settings

pytest_plugins = ["tests.court_support"]  # the `court_` fixture: streamd on a real broker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under two workers (`make test`), the tests that load the machine longest (a whole
    demo day, a browser beside a court) share one xdist group, so no two of them run at
    once and their real-time checks see the machine they would see alone."""
    for item in items:
        if item.get_closest_marker("heavy") or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("heavy"))


ROOT = Path(__file__).resolve().parent.parent
COURT_DIR = sample.court_dir()
SAMPLE_CSV = sample.schedule()
PG_URL = os.environ.get("STREAMD_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
PASSWORD = "correct-horse-battery"
DEPARTMENT_ROLES = frozenset({Role.CLERK, Role.JUDGE, Role.DEPARTMENT_HEAD})
# argon2 at its lowest cost: the suite hashes and verifies thousands of passwords.
FAST_HASHING = {"password_hash_time_cost": 1, "password_hash_memory_kib": 8}
# A clerk acts for their own department only: one per department of the sample court.
CLERK_OF = {
    "civil-1": "clerk",
    "civil-2": "clerk-civil-2",
    "criminal": "clerk-criminal",
    "admin": "clerk-admin",
    "family": "clerk-family",
}
Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[web.Application], Awaitable[Client]]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'streamd.db'}"
        return
    assert PG_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return load_settings(
        environ={},
        data_dir=str(tmp_path / "data"),
        database_url=db_url,
        court_config_dir=str(COURT_DIR),
        **FAST_HASHING,
    )


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """A migrated database holding the sample court's structure."""
    db = Database.from_url(settings.effective_database_url)
    upgrade(db.engine)
    db.call(court.apply_structure, structure=court.read_structure(COURT_DIR), actor="test")
    yield db
    db.dispose()


@pytest.fixture
def users(database: Database, settings: Settings) -> dict[str, str]:
    """One user per role, named after it; all share PASSWORD. The department-scoped roles
    (clerk, judge, department head) belong to civil-1, where `hearing_body` files hearings."""
    for role in Role:
        dept = "civil-1" if role in DEPARTMENT_ROLES else None
        database.call(
            create_user,
            username=role.value,
            password=PASSWORD,
            roles=[role],
            department=dept,
            password_hasher=hasher_for(settings),
        )
    for dept, name in CLERK_OF.items():
        if name != Role.CLERK.value:
            database.call(
                create_user,
                username=name,
                password=PASSWORD,
                roles=[Role.CLERK],
                department=dept,
                password_hasher=hasher_for(settings),
            )
    return {role.value: PASSWORD for role in Role} | {n: PASSWORD for n in CLERK_OF.values()}


def future(days: int = 7, hour: int = 9) -> datetime:
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    return base.replace(hour=hour)


def hearing_body(**overrides: Any) -> dict[str, Any]:
    start = future()
    body: dict[str, Any] = {
        "case_number": "（2026）粤0111民初1234号",
        "cause": "民间借贷纠纷",
        "session_kind": "hearing",
        "public": True,
        "parties": ["原告 张伟", "被告 李娜"],
        "handler_judge": "李明",
        "clerk": "王敏",
        "department": "civil-1",
        "courtroom": "room-01",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
    }
    body.update(overrides)
    return body


@pytest.fixture
def arch(settings: Settings, tmp_path: Path) -> Settings:
    """Settings with both archive roots (tests/archive_support.py)."""
    return archive_settings(settings, tmp_path)


@pytest.fixture
async def rclient(
    database: Database, arch: Settings, users: dict[str, str], aiohttp_client: MakeClient
) -> Client:
    """A client of an app with the archive configured: the record's tests."""
    return await aiohttp_client(create_app(settings=arch, db=database))


@pytest.fixture
async def client(
    aiohttp_client: MakeClient, settings: Settings, database: Database, users: dict[str, str]
) -> Client:
    return await aiohttp_client(create_app(settings=settings, db=database))


async def token(client: Client, username: str) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
    )
    assert resp.status == 200, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def make_hearing(client: Client, **overrides: Any) -> dict[str, Any]:
    body = hearing_body(**overrides)
    clerk = CLERK_OF.get(body["department"], "clerk")
    resp = await client.post("/api/v1/hearings", json=body, headers=await token(client, clerk))
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated, empty PostgreSQL schema of its own (the PostgreSQL-only tests)."""
    if PG_URL is None:
        pytest.skip("needs STREAMD_TEST_POSTGRES_URL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    db = Database.from_url(url)
    upgrade(db.engine)
    db.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
