"""SQLite's retries: a stale snapshot (SQLITE_BUSY_SNAPSHOT) is run again a bounded number
of times; a refused lock upgrade (plain SQLITE_BUSY) is run again until the busy timeout is
spent, then reported."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from streamd.store import STALE_RETRIES, Database


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Any:
    path = tmp_path / "retry.db"
    db = Database.from_url(f"sqlite:///{path}")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield db, path
    db.dispose()


def _other_writer(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, timeout=0)


def test_a_stale_snapshot_is_run_again(sqlite_db: Any) -> None:
    db, path = sqlite_db
    calls = 0

    def work(session: Session) -> int:
        nonlocal calls
        calls += 1
        session.execute(sa.text("SELECT count(*) FROM t")).one()  # the snapshot begins
        if calls == 1:
            other = _other_writer(path)
            other.execute("INSERT INTO t VALUES (1)")  # commits after our read
            other.close()
        session.execute(sa.text("INSERT INTO t VALUES (2)"))
        return calls

    assert db.call(work) == 2
    with db.engine.connect() as conn:
        assert sorted(conn.exec_driver_sql("SELECT n FROM t").scalars()) == [1, 2]


def test_a_stale_snapshot_is_retried_only_so_often(sqlite_db: Any) -> None:
    db, path = sqlite_db
    calls = 0

    def always_stale(session: Session) -> None:
        nonlocal calls
        calls += 1
        session.execute(sa.text("SELECT count(*) FROM t")).one()
        other = _other_writer(path)
        other.execute("INSERT INTO t VALUES (1)")
        other.close()
        session.execute(sa.text("INSERT INTO t VALUES (2)"))

    with pytest.raises(sa.exc.OperationalError) as caught:
        db.call(always_stale)
    assert calls == STALE_RETRIES + 1
    assert caught.value.orig.sqlite_errorcode == sqlite3.SQLITE_BUSY_SNAPSHOT  # type: ignore[union-attr]


def test_a_lock_upgrade_refused_while_another_writes_is_run_again(sqlite_db: Any) -> None:
    """A unit that read, then writes while another connection holds the write lock, is
    refused at once with plain SQLITE_BUSY (no busy handler for an upgrade): it must wait
    for the other writer as a unit waiting at BEGIN would, not fail with "locked"."""
    db, path = sqlite_db
    holder = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    calls = 0

    def read_then_write(session: Session) -> int:
        nonlocal calls
        calls += 1
        session.execute(sa.text("SELECT count(*) FROM t")).one()
        session.execute(sa.text("INSERT INTO t VALUES (4)"))
        return calls

    release.start()
    try:
        assert db.call(read_then_write) > 1
    finally:
        release.join()
        holder.close()
    with db.engine.connect() as conn:
        assert list(conn.exec_driver_sql("SELECT n FROM t").scalars()) == [4]


def test_a_held_lock_is_reported_once_the_busy_timeout_is_spent(sqlite_db: Any) -> None:
    db, path = sqlite_db
    db.busy_seconds = 0.3
    holder = _other_writer(path)
    holder.execute("BEGIN IMMEDIATE")

    def write(session: Session) -> None:
        session.execute(sa.text("PRAGMA busy_timeout=0"))  # refused at once, not after 5 s
        session.execute(sa.text("INSERT INTO t VALUES (3)"))

    started = time.monotonic()
    try:
        with pytest.raises(sa.exc.OperationalError) as caught:
            db.call(write)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert caught.value.orig.sqlite_errorcode == sqlite3.SQLITE_BUSY  # type: ignore[union-attr]
    assert 0.3 <= time.monotonic() - started < 3
