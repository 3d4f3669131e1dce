"""Password guesses the server lets through per account, with the production throttle.

    .venv/bin/python -m bench.login [--seconds 20] [--clients 4]

Serves streamd (SQLite, the sample court, production argon2 and throttle settings) and
has `--clients` concurrent clients send wrong passwords for one account for `--seconds`;
prints how many were actually checked (answered 401) and how many were turned away
unchecked (429, 423), beside the same run against the account with the throttle off
(the peer: what the server allowed before).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from streamd import court, sample
from streamd.auth import create_user, hasher_for
from streamd.config import load_settings
from streamd.store import Database, upgrade
from streamd.web import create_app


async def attack(base: str, seconds: float, clients: int) -> Counter[int]:
    answers: Counter[int] = Counter()
    deadline = time.monotonic() + seconds

    async def one(http: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            async with http.post(
                f"{base}/api/v1/auth/token", json={"username": "clerk", "password": "guess-123"}
            ) as resp:
                answers[resp.status] += 1

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(one(http) for _ in range(clients)))
    return answers


async def run(seconds: float, clients: int, throttle: bool) -> Counter[int]:
    with tempfile.TemporaryDirectory() as tmp:
        overrides = (
            {} if throttle else {"login_free_failures": 100, "login_lockout_failures": 10000}
        )
        settings = load_settings(
            environ={},
            data_dir=tmp,
            database_url=f"sqlite:///{Path(tmp) / 'streamd.db'}",
            court_config_dir=str(sample.court_dir()),
            login_address_free_failures=10000,  # one account's budget, not the address's
            **overrides,
        )
        db = Database.from_url(settings.effective_database_url)
        upgrade(db.engine)
        db.call(
            court.apply_structure,
            structure=court.read_structure(sample.court_dir()),
            actor="bench",
        )
        db.call(
            create_user,
            username="clerk",
            password="the-real-password",
            roles=["clerk"],
            password_hasher=hasher_for(settings),
        )
        runner = web.AppRunner(create_app(settings=settings, db=db))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            return await attack(f"http://127.0.0.1:{port}", seconds, clients)
        finally:
            await runner.cleanup()
            db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    for throttle in (True, False):
        answers = asyncio.run(run(args.seconds, args.clients, throttle))
        checked = answers[401]
        label = "throttled" if throttle else "no throttle (peer)"
        print(
            f"{label:20} checked {checked:6} guesses in {args.seconds:.0f} s = "
            f"{checked / args.seconds:7.2f}/s; refused unchecked: 429 x{answers[429]}, "
            f"423 x{answers[423]}"
        )


if __name__ == "__main__":
    main()
