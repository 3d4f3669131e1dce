"""Database work off the event loop, and the background tasks that do it.

Shared by the orchestrator and the monitor: both must never block the loop that carries
pauses, and both must leave nothing half-written when streamd stops.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlmodel import Session

from streamd.orchestrator import records
from streamd.store import Database

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")


class Worker:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inflight: set[asyncio.Future[Any]] = set()

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def call(
        self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """One unit of work in a worker thread. A cancelled caller does not stop the thread,
        so each one is tracked until it ends: shutdown waits for them, never leaves a
        transaction half-way or a connection behind."""
        work = asyncio.get_running_loop().run_in_executor(
            None, functools.partial(self.db.call, fn, *args, **kwargs)
        )
        self._inflight.add(work)
        work.add_done_callback(self._inflight.discard)
        return await asyncio.shield(work)

    async def later(
        self, fn: Callable[Concatenate[Session, P], Any], /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """A database write nobody waits for; retried until it lands."""
        delay = 0.2
        while True:
            try:
                await self.call(fn, *args, **kwargs)
                return
            except records.StaleState as exc:
                log.warning("dropping a stale write: %s", exc)
                return
            except Exception:
                log.exception("database write %s failed; retrying", fn.__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def write(
        self, fn: Callable[Concatenate[Session, P], Any], /, *args: P.args, **kwargs: P.kwargs
    ) -> None:
        self.spawn(self.later(fn, *args, **kwargs))

    async def drain(self) -> None:
        """Cancel background tasks, then wait for the threads already running."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=10)
