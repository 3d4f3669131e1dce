"""Import throughput and the time the import holds SQLite's write lock.

    .venv/bin/python -m bench.importer [--rows 20000] [--baseline-rows 2000] \
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Writes a CSV of `--rows` distinct hearings of the sample court and imports it into a fresh
SQLite database three ways, in the same run:

- streamd's importer (validate everything outside the transaction, then bulk statements);
- the per-row importer streamd had before (each row through `upsert_hearing` and the
  approval sync inside one transaction; `--baseline-rows` of them, it is slow);
- the peer: a plain `executemany` of the very same column values into the hearing table,
  no validation, no audit (the floor for SQLite on this machine).

For each: rows/s and the seconds the write transaction held the lock. With `--postgres`,
streamd's importer and the plain `executemany` (psycopg's, pipelined) run again on
PostgreSQL, each into a database of its own created for the run and dropped after.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from streamd import approvals, court, sample
from streamd.hearings import upsert_hearing
from streamd.import_read import read_records
from streamd.importer import _columns_of, _Refs, import_file, validate_records
from streamd.planning import Timing
from streamd.policy import load_rules
from streamd.store import Database, upgrade

ZONE = ZoneInfo("Asia/Shanghai")
ROOMS = [("民事审判第一庭", "room-01"), ("民事审判第二庭", "room-03"), ("刑事审判庭", "room-04")]
HEADER = "案号,案由,庭审类型,是否公开,不公开理由,当事人,承办法官,书记员,部门,法庭,开始时间,结束时间"


def write_csv(path: Path, rows: int) -> None:
    start = datetime(2027, 1, 4, 9, 0)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER.split(","))
        for i in range(rows):
            dept, room = ROOMS[i % len(ROOMS)]
            kind = "刑初" if dept == "刑事审判庭" else "民初"
            at = start + timedelta(days=i // 24, minutes=30 * (i % 24))
            w.writerow(
                [
                    f"（2027）粤0111{kind}{i + 1}号",
                    "盗窃罪" if kind == "刑初" else "民间借贷纠纷",
                    "开庭",
                    "是",
                    "",
                    "原告 张伟；被告 李娜",
                    "李明",
                    "王敏",
                    dept,
                    room,
                    f"{at:%Y-%m-%d %H:%M}",
                    f"{at + timedelta(minutes=25):%Y-%m-%d %H:%M}",
                ]
            )


def fresh_db(folder: Path, name: str, postgres: str | None = None) -> Database:
    db = Database.from_url(
        _pg_database(postgres, name) if postgres else f"sqlite:///{folder / name}"
    )
    upgrade(db.engine)
    db.call(
        court.apply_structure,
        structure=court.read_structure(sample.court_dir()),
        actor="bench",
    )
    return db


def _pg_database(url: str, name: str) -> str:
    """A new, empty PostgreSQL database for one measurement (dropped by `_pg_drop`)."""
    import psycopg

    name = "bench_" + name.replace(".", "_")
    admin = sa.make_url(url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def _pg_drop(url: str) -> None:
    import psycopg

    target = sa.make_url(url)
    admin = target.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target.database}"')


def ours(
    folder: Path, csv_path: Path, rows: int, postgres: str | None = None
) -> tuple[float, float]:
    db = fresh_db(folder, "ours.db", postgres)
    started = time.perf_counter()
    result = import_file(
        db=db, path=csv_path, zone=ZONE, actor="bench", rules=load_rules(None), timing=TIMING
    )
    total = time.perf_counter() - started
    assert result.created == rows, result
    db.dispose()
    if postgres:
        _pg_drop(db.engine.url.render_as_string(hide_password=False))
    return rows / total, result.write_seconds


def per_row(folder: Path, csv_path: Path, rows: int) -> tuple[float, float]:
    """The importer as it was: validation, then every row upserted with the ORM, all in
    the one transaction that holds the lock."""
    db = fresh_db(folder, "per_row.db")
    rules = load_rules(None)
    records = list(read_records(csv_path))[:rows]
    started = time.perf_counter()
    valid, errors = validate_records(records, zone=ZONE)
    assert not errors

    def work(session: object) -> None:
        for _, data in valid:
            row, _ = upsert_hearing(session=session, data=data, actor="bench")  # type: ignore[arg-type]
            approvals.sync_rule_records(session=session, hearing=row, rules=rules, actor="bench")  # type: ignore[arg-type]

    locked = time.perf_counter()
    db.call(work)
    done = time.perf_counter()
    db.dispose()
    return rows / (done - started), done - locked


def executemany(folder: Path, csv_path: Path, rows: int) -> tuple[float, float]:
    """The peer: the same rows' columns, one plain sqlite3 executemany, nothing else."""
    db = fresh_db(folder, "plain.db")
    valid, errors = validate_records(list(read_records(csv_path)), zone=ZONE)
    assert not errors
    values, _ = _columns_of(valid, db.call(_Refs.read))
    db.dispose()
    now = datetime.now(ZONE).isoformat()
    cols = [*values[0].keys(), "status", "created_at", "updated_at"]

    def cell(v: dict[str, object], c: str) -> object:
        value = v[c]
        if isinstance(value, datetime):
            return value.isoformat()
        return json.dumps(value, ensure_ascii=False) if c == "parties" else value

    params = [(*(cell(v, c) for c in cols[:-3]), "scheduled", now, now) for v in values]
    conn = sqlite3.connect(folder / "plain.db", isolation_level=None)
    sql = f"INSERT INTO hearing ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(sql, params)
    conn.execute("COMMIT")
    took = time.perf_counter() - started
    conn.close()
    return rows / took, took


def executemany_pg(folder: Path, csv_path: Path, postgres: str) -> tuple[float, float]:
    """The peer on PostgreSQL: the same rows' columns, one psycopg executemany."""
    import psycopg
    from psycopg.types.json import Json

    db = fresh_db(folder, "plain.db", postgres)
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    valid, errors = validate_records(list(read_records(csv_path)), zone=ZONE)
    assert not errors
    values, _ = _columns_of(valid, db.call(_Refs.read))
    db.dispose()
    now = datetime.now(ZONE)
    cols = [*values[0].keys(), "status", "created_at", "updated_at"]
    params = [
        (*(Json(v[c]) if c == "parties" else v[c] for c in cols[:-3]), "scheduled", now, now)
        for v in values
    ]
    sql = f"INSERT INTO hearing ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(sql, params)
        conn.commit()
        took = time.perf_counter() - started
    _pg_drop(url)
    return len(values) / took, took


TIMING = Timing(
    preroll=timedelta(minutes=5), postroll=timedelta(minutes=5), announce=timedelta(days=3)
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--baseline-rows", type=int, default=2_000)
    parser.add_argument("--postgres", metavar="URL", help="also measure on this PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / "schedule.csv"
        write_csv(csv_path, args.rows)
        rate, lock = ours(folder, csv_path, args.rows)
        old_rate, old_lock = per_row(folder, csv_path, args.baseline_rows)
        peer_rate, peer_lock = executemany(folder, csv_path, args.rows)
        if args.postgres:
            pg_rate, pg_write = ours(folder, csv_path, args.rows, args.postgres)
            pg_peer, pg_peer_write = executemany_pg(folder, csv_path, args.postgres)
    scale = args.rows / args.baseline_rows
    print(f"rows: {args.rows} (per-row importer: {args.baseline_rows}, lock scaled to {args.rows})")
    print(f"streamd importer     {rate:10.0f} rows/s   write lock {lock:7.2f} s")
    print(
        f"per-row (before)     {old_rate:10.0f} rows/s   write lock {old_lock * scale:7.2f} s"
        f" (measured {old_lock:.2f} s for {args.baseline_rows})"
    )
    print(f"plain executemany    {peer_rate:10.0f} rows/s   write lock {peer_lock:7.2f} s")
    print(f"ratio ours/executemany rows/s: {rate / peer_rate:.3f}")
    print(f"ratio ours/per-row rows/s: {rate / old_rate:.1f}")
    if args.postgres:
        print(f"PostgreSQL: streamd importer {pg_rate:10.0f} rows/s   write {pg_write:7.2f} s")
        print(f"PostgreSQL: plain executemany {pg_peer:9.0f} rows/s   write {pg_peer_write:7.2f} s")
        print(f"PostgreSQL: ratio ours/executemany rows/s: {pg_rate / pg_peer:.3f}")


if __name__ == "__main__":
    main()
