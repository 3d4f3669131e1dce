"""A pause through the follower, and through the compose file's nginx proxy in front of
both, against the same pause through the leader (the peer in the same run): the HTTP round
trip of POST .../stream/pause until the room's ack, two `streamd serve` on PostgreSQL and
Mosquitto, one simulated room.

    STREAMD_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m bench.replicas --rounds 40
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from streamd_protocol import AgentPhase
from tests.test_replicas import Platform, _phase, prepare, proxy_in_front

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def schema(pg: str) -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{pg}{'&' if '?' in pg else '?'}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


async def timed_press(p: Platform, base: str, hearing: int, action: str, auth: Any) -> float:
    body = {"reason": "bench"} if action == "pause" else {}
    started = time.perf_counter()
    async with p.http.post(
        f"{base}/api/v1/hearings/{hearing}/stream/{action}", json=body, headers=auth
    ) as resp:
        out = await resp.json()
    took = time.perf_counter() - started
    assert resp.status == 200 and out["delivery"] == "acked", out
    return took


async def main(rounds: int) -> None:
    pg = os.environ.get("STREAMD_TEST_POSTGRES_URL")
    if not pg:
        sys.exit("set STREAMD_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory() as tmp, schema(pg) as url:
        folder = Path(tmp)
        env, code, host, port, private = prepare(url, folder)
        env = env | {"STREAMD_LOG_LEVEL": "WARNING"}
        async with aiohttp.ClientSession() as http:
            p = Platform(env, code, host, port, http, folder, {})
            try:
                a = p.start("a")
                await p.until_ready(a, leader=True)
                b = p.start("b")
                await p.until_ready(b, leader=False)
                async with p.agent() as room:
                    hearing = await p.hearing(b)
                    await _phase(room, AgentPhase.READY, 20)
                    await timed_press(p, a.base, hearing, "discipline-announced", await p.auth(a))
                    times: dict[str, list[float]] = {"leader": [], "follower": [], "proxy": []}
                    auth = await p.auth(a)
                    with proxy_in_front(folder, a, b) as front:
                        bases = {"leader": a.base, "follower": b.base, "proxy": front}
                        for _ in range(rounds):
                            for via, base in bases.items():
                                times[via].append(
                                    await timed_press(p, base, hearing, "pause", auth)
                                )
                                await timed_press(p, base, hearing, "resume", auth)
            finally:
                for replica in p.replicas.values():
                    replica.proc.kill()
                    replica.proc.wait()
                    replica.log.close()
        if private:
            private.kill()
    for via, xs in times.items():
        xs.sort()
        print(
            f"pause via {via:8s}: median {statistics.median(xs) * 1000:6.2f} ms, "
            f"p95 {xs[int(len(xs) * 0.95) - 1] * 1000:6.2f} ms  (n={len(xs)})"
        )
    for via in ("follower", "proxy"):
        ratio = statistics.median(times[via]) / statistics.median(times["leader"])
        print(f"{via} / leader median: {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    asyncio.run(main(parser.parse_args().rounds))
