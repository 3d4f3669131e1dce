"""Database engine, sessions and schema migrations.

Sessions are synchronous on purpose (SQLModel is); the web layer runs each unit of work in
a worker thread through `Database.run`, so the event loop never waits on SQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from sqlmodel.sql.expression import SelectOfScalar

T = TypeVar("T")
P = ParamSpec("P")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000  # writers queue briefly instead of failing with "locked"
STALE_RETRIES = 5  # a stale snapshot is retried this often, then reported
IN_LIST = 500  # ids per IN (...) list: well inside every database's parameter limit


def in_batches(ids: Sequence[T]) -> Iterator[Sequence[T]]:
    """`ids` in slices small enough for one IN (...) list each."""
    for start in range(0, len(ids), IN_LIST):
        yield ids[start : start + IN_LIST]


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 5}, **kwargs
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling begins late and commits a SAVEPOINT on
            # RELEASE, so `begin_nested()` rolled nothing back. SQLAlchemy's documented
            # recipe: the driver does nothing, SQLAlchemy emits BEGIN itself (`_begin`).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            # Deferred: readers never wait for a writer (WAL), so a login or a pause is not
            # held up by an import. A unit of work that read and then finds its snapshot
            # made stale by another writer fails at once with "locked"; `Database.call`
            # runs it again on a fresh snapshot.
            conn.exec_driver_sql("BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def _alembic_config(connection: sa.Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (default: the newest)."""
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)


def head_revision() -> str | None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def sqlite_code(exc: sa.exc.OperationalError) -> int | None:
    """SQLite's extended result code for a refused statement, not its message: "database is
    locked" reads the same for a held lock, a refused lock upgrade (plain SQLITE_BUSY, which
    SQLite returns at once: it never runs the busy handler for an upgrade, as that could
    deadlock) and a stale snapshot (SQLITE_BUSY_SNAPSHOT)."""
    orig = exc.orig
    return (
        getattr(orig, "sqlite_errorcode", None)
        if isinstance(orig, sqlite3.OperationalError)
        else None
    )


class Database:
    """Owns the engine; hands out sessions for one unit of work each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.busy_seconds = SQLITE_BUSY_TIMEOUT_MS / 1000  # lock upgrades retried this long

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def call(
        self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """One unit of work, in one transaction. On SQLite, a unit refused because another
        writer committed after it read (SQLITE_BUSY_SNAPSHOT) is rolled back and run again,
        at most STALE_RETRIES times; one refused a lock upgrade (plain SQLITE_BUSY, no busy
        handler) is run again until it has spent the busy timeout in all, as a writer
        waiting at BEGIN would. Any other error is raised at once."""
        started = time.monotonic()
        stale = 0
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.session() as session:
                    return fn(session, *args, **kwargs)
            except sa.exc.OperationalError as exc:
                code = sqlite_code(exc)
                if code == sqlite3.SQLITE_BUSY_SNAPSHOT:
                    stale += 1
                    if stale > STALE_RETRIES:
                        raise
                elif code != sqlite3.SQLITE_BUSY or time.monotonic() - started >= self.busy_seconds:
                    raise
                time.sleep(min(0.005 * attempt, 0.05))

    async def run(
        self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(session=..., **kwargs)` in a worker thread inside one transaction."""
        return await asyncio.to_thread(self.call, fn, *args, **kwargs)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def paged(
    session: Session, stmt: SelectOfScalar[T], *order: Any, offset: int, limit: int
) -> tuple[list[T], int]:
    """One page of `stmt` in `order`, and how many rows the whole query has."""
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(stmt.order_by(*order).offset(offset).limit(limit)).all()
    return list(rows), int(total)
