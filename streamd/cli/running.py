"""The commands that run the court: `serve` (HTTP, the orchestrator, the monitor) and `demo`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from streamd import sample
from streamd.cli.common import DEMO_DATA_DIR, CliError, _db, log

if TYPE_CHECKING:
    from streamd.config import Settings
    from streamd.store import Database


def serve(settings: Settings, db: Database) -> None:
    from aiohttp import web

    from streamd.web import create_app

    app = create_app(settings=settings, db=db, orchestrate=True)
    # run_app handles SIGINT and SIGTERM: stop accepting, let requests finish, clean up.
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_grace_seconds,
        print=None,
    )


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    log.info("serving on http://%s:%d", settings.host, settings.port)
    serve(settings, _db(settings))


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    """A compressed court day on this machine; see streamd/demo/run.py."""
    import asyncio

    from streamd.demo import run as demo_run
    from streamd.demo import stage

    if not args.speed > 0:
        raise CliError("--speed must be positive")
    options = demo_run.Options(
        data_dir=Path(args.data_dir or DEMO_DATA_DIR),
        sample_dir=sample.court_dir(),  # the demo takes three of its rooms
        speed=args.speed,
        once=args.once,
    )
    try:
        status = asyncio.run(demo_run.run(settings, options))
    except stage.StageError as exc:
        raise CliError(str(exc)) from None
    if status:
        raise SystemExit(status)
