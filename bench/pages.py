"""Web page benchmark: server time per page against the JSON API read of the same data.

    .venv/bin/python -m bench.pages                # 50 requests per page
    .venv/bin/python -m bench.pages --requests 200

A court of the sample structure with the sample fortnight imported (81 sessions) and all of
one day's hearings booked, on SQLite, served by the real application in this process and
read over HTTP on loopback with a logged-in session. The peer is the JSON API's list of
the same day's hearings: the ratio is what rendering HTML (and reading the policy, the
bookings and the streams per row) costs on top of the plain read.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime

import aiohttp
from aiohttp import web

from streamd import court, importer, sample
from streamd.auth import create_user
from streamd.config import load_settings
from streamd.policy import load_rules
from streamd.store import Database, upgrade
from streamd.web import create_app

PASSWORD = "bench-password-123"


async def timed(http: aiohttp.ClientSession, url: str, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        async with http.get(url) as resp:
            await resp.read()
            assert resp.status == 200, (url, resp.status)
        times.append(time.perf_counter() - began)
    times.sort()
    return statistics.median(times) * 1000, times[int(0.95 * (len(times) - 1))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={}, data_dir=tmp, court_config_dir=str(sample.court_dir()))
        db = Database.from_url(settings.effective_database_url)
        upgrade(db.engine)
        db.call(
            court.apply_structure,
            structure=court.read_structure(sample.court_dir()),
            actor="bench",
        )
        result = importer.import_file(
            db=db,
            path=sample.schedule(),
            zone=settings.zone,
            actor="bench",
            rules=load_rules(None),
        )
        for name, role in (("clerk", "clerk"), ("admin", "admin"), ("tech", "technician")):
            db.call(create_user, username=name, password=PASSWORD, roles=[role])
        runner = web.AppRunner(create_app(settings=settings, db=db))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        day = "2026-11-30"  # the sample fortnight's first Monday
        print(f"court: {result.total} sessions imported; {args.requests} requests per row")
        print(f"{'page':>32} | {'median ms':>9} {'p95 ms':>8} | {'ratio to API':>12}")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(
                f"{base}/api/v1/auth/session", json={"username": "admin", "password": PASSWORD}
            ) as resp:
                csrf = (await resp.json())["csrf_token"]
            listed = await (await http.get(f"{base}/api/v1/hearings?on={day}&limit=500")).json()
            for h in listed["items"]:
                await http.post(
                    f"{base}/api/v1/bookings",
                    json={"hearing_id": h["id"], "late_reason": "bench"},
                    headers={"X-CSRF-Token": csrf},
                )
            peer, _ = await timed(http, f"{base}/api/v1/hearings?on={day}&limit=500", args.requests)
            print(f"{'GET /api/v1/hearings (peer)':>32} | {peer:9.2f} {'':>8} | {1.0:12.2f}")
            first = listed["items"][0]["id"]
            month = datetime(2026, 11, 1).strftime("%Y-%m")
            for path in (
                f"/clerk?day={day}",
                f"/console/{first}",
                "/wall",
                "/approvals",
                f"/admin?month={month}",
                f"/console/{first}?part=now",
            ):
                median, p95 = await timed(http, base + path, args.requests)
                print(f"{path:>32} | {median:9.2f} {p95:8.2f} | {median / peer:12.2f}")
        await runner.cleanup()
        db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
