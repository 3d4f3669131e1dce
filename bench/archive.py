"""Archive ingest benchmark: streamd's upload path against `cp` + `sha256sum`, same files.

    .venv/bin/python -m bench.archive                     # 120 segments of 3.1 MB
    .venv/bin/python -m bench.archive --segments 300 --concurrency 32

The files are what 100 rooms at 2.5 Mb/s produce in 10 s segments: 3.125 MB each, and 10
of them per second across the court (31.25 MB/s). Ours: streamd's real HTTP server in its
own process (SQLite, archive root and backup root in the temp dir) takes every file as the
agents send it: signed PUT, hash while receiving, fsync, link, a DB row and an audit
entry, then the verified copy to the backup root (hashed again as written and re-read).
The peer, in the same run on the same files: `cp` to one folder, `sha256sum` there, `cp`
to a second folder, `sha256sum` there, then `sync` (the same bytes moved and hashed, with
nothing of the protocol, database or fsync-per-file). CPU is user+system seconds: of the
server process for ours (psutil), of the child processes for the peer (getrusage).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

ROOMS, MBIT, SEGMENT_S = 100, 2.5, 10
SEGMENT_BYTES = int(MBIT * 1e6 / 8 * SEGMENT_S)  # 3.125 MB
NEED_MB_S = ROOMS * MBIT / 8  # 31.25 MB/s
NEED_SEG_S = ROOMS / SEGMENT_S  # 10 segments/s
CORES = 2


def _serve(port: int, db_url: str, archive: str, backup: str, secret: str) -> None:
    """The server process: streamd's app factory on a port, nothing else."""
    from aiohttp import web

    from streamd.config import load_settings
    from streamd.store import Database
    from streamd.web import create_app

    for root in (archive, backup):  # archive roots are never created by streamd itself
        Path(root).mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        environ={},
        data_dir=str(Path(archive).parent / "data"),
        database_url=db_url,
        command_secret=secret,
        archive_dir=archive,
        archive_backup_dir=backup,
        log_level="WARNING",
    )
    app = create_app(settings=settings, db=Database.from_url(db_url))
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _prepare(tmp: Path, n: int) -> tuple[str, list[tuple[int, str, Path, str]]]:
    from streamd import court, sample
    from streamd.store import Database, upgrade
    from tests.archive_support import add_hearing

    db_url = f"sqlite:///{tmp / 'streamd.db'}"
    db = Database.from_url(db_url)
    upgrade(db.engine)
    structure = court.read_structure(sample.court_dir())
    db.call(court.apply_structure, structure=structure, actor="bench")
    rooms = [r.code for r in structure.rooms]
    hearings = {room: add_hearing(db, room, case=i + 1) for i, room in enumerate(rooms)}
    db.dispose()
    src = tmp / "src"
    src.mkdir()
    files = []
    for i in range(n):
        room = rooms[i % len(rooms)]
        path = src / f"{room}-v000_{i:05d}.ts"
        data = os.urandom(SEGMENT_BYTES)
        path.write_bytes(data)
        files.append((hearings[room], room, path, hashlib.sha256(data).hexdigest()))
    return db_url, files


async def _ours(url: str, files: list[tuple[int, str, Path, str]], concurrency: int) -> float:
    from streamd_protocol.archive import Claim, authorization
    from tests.archive_support import key_of

    gate = asyncio.Semaphore(concurrency)

    async def one(
        http: aiohttp.ClientSession, i: int, hid: int, room: str, p: Path, sha: str
    ) -> None:
        name = f"video/v000_{i:05d}.ts"
        claim = Claim(room, hid, "20261202T090000Z", name, sha, SEGMENT_BYTES)
        headers = {
            "Authorization": authorization(key_of(room), claim),
            "X-Streamd-SHA256": sha,
            "Content-Length": str(claim.size),
        }
        async with gate:
            with p.open("rb") as fh:
                async with http.put(
                    f"{url}/archive/v1/files/{hid}/{claim.session}/{name}", data=fh, headers=headers
                ) as r:
                    assert r.status == 201, await r.text()

    started = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(one(http, i, *f) for i, f in enumerate(files)))
    return time.perf_counter() - started


def _peer(tmp: Path, files: list[Path]) -> tuple[float, float]:
    a, b = tmp / "peer-a", tmp / "peer-b"
    a.mkdir()
    b.mkdir()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(["cp", *map(str, files), str(a)], check=True)
    subprocess.run(
        ["sha256sum", *map(str, sorted(a.iterdir()))], check=True, stdout=subprocess.DEVNULL
    )
    subprocess.run(["cp", *map(str, sorted(a.iterdir())), str(b)], check=True)
    subprocess.run(
        ["sha256sum", *map(str, sorted(b.iterdir()))], check=True, stdout=subprocess.DEVNULL
    )
    subprocess.run(["sync"], check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _row(name: str, n: int, wall: float, cpu: float) -> str:
    mb = n * SEGMENT_BYTES / 1e6
    return f"{name:<28} {n / wall:>9.1f} {mb / wall:>9.1f} {cpu:>8.2f} {cpu / mb * 1000:>10.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--segments", type=int, default=120)
    ap.add_argument("--concurrency", type=int, default=16, help="uploads in flight (rooms at once)")
    ap.add_argument("--serve", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        port, db_url, archive, backup, secret = args.serve
        _serve(int(port), db_url, archive, backup, secret)
        return
    from tests.archive_support import COURT_SECRET, free_port

    with tempfile.TemporaryDirectory(prefix="bench-archive-", dir=os.environ.get("TMPDIR")) as t:
        tmp = Path(t)
        db_url, files = _prepare(tmp, args.segments)
        port = free_port()
        argv = [sys.executable, "-m", "bench.archive", "--serve", str(port), db_url,
                str(tmp / "archive"), str(tmp / "archive-backup"), COURT_SECRET]  # fmt: skip
        server = subprocess.Popen(argv)
        try:
            url = f"http://127.0.0.1:{port}"
            asyncio.run(_wait(url))
            proc = psutil.Process(server.pid)
            c0, me0 = proc.cpu_times(), psutil.Process().cpu_times()
            wall = asyncio.run(_ours(url, files, args.concurrency))
            c1, me1 = proc.cpu_times(), psutil.Process().cpu_times()
            cpu = (c1.user - c0.user) + (c1.system - c0.system)
            client_cpu = (me1.user - me0.user) + (me1.system - me0.system)
        finally:
            server.terminate()
            server.wait(10)
        subprocess.run(["sync"], check=True)
        p_wall, p_cpu = _peer(tmp, [f[2] for f in files])
    n = args.segments
    print(f"{n} segments of {SEGMENT_BYTES / 1e6:.3f} MB, {args.concurrency} uploads in flight")
    print(f"{'':<28} {'seg/s':>9} {'MB/s':>9} {'CPU s':>8} {'CPU ms/MB':>10}")
    print(_row("streamd archive (server)", n, wall, cpu))
    print(_row("cp + sha256sum, 2 copies", n, p_wall, p_cpu))
    cpu_ratio = cpu / p_cpu if p_cpu else float("nan")
    print(f"ratio (ours / peer): throughput {p_wall / wall:.2f}x, CPU per MB {cpu_ratio:.2f}x")
    print(_row("  (senders, this process)", n, wall, client_cpu))
    need_cores = cpu / (n * SEGMENT_BYTES / 1e6) * NEED_MB_S
    ok = n / wall >= NEED_SEG_S and need_cores <= CORES
    print(
        f"100 rooms x 2.5 Mb/s = {NEED_MB_S:.2f} MB/s, {NEED_SEG_S:.0f} segments/s: ours runs at "
        f"{n * SEGMENT_BYTES / 1e6 / wall / NEED_MB_S:.1f}x that rate and would use "
        f"{need_cores:.2f} of {CORES} cores at it -> {'sustained' if ok else 'NOT sustained'}"
    )


async def _wait(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"{url}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not come up")


if __name__ == "__main__":
    main()
