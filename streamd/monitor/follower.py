"""The monitor's work over the replicas: every replica watches its share of the rooms.

The leader's monitor runs beside its orchestrator (its alerts on the live feed at once);
a follower runs one of its own for its share, with its own alert desk writing to the
database, which the leader's wall reads and relays (streamd.orchestrator.alerts). The
members are the replicas that renewed their row within one lease; when one goes away,
its rooms pass to the others within a lease, and the HLS window the new watcher reads
first covers the handover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from streamd.config import Settings
from streamd.monitor.service import Monitor
from streamd.monitor.share import Share
from streamd.orchestrator import AlertDesk, Feed, Leadership, Worker
from streamd.store import Database

log = logging.getLogger(__name__)


async def keep_members(leadership: Leadership, share: Share) -> None:
    """Renew this replica's row and learn the others', every renew interval, until
    cancelled. A failed round keeps the last list (a replica cut from the database stops
    leading, and the others take its rooms once its row is older than a lease)."""
    while True:
        try:
            share.update(await leadership.members())
        except Exception as exc:
            log.warning("replica members: %s", exc)
        await asyncio.sleep(leadership.poll)


async def follow(
    *,
    leadership: Leadership,
    share: Share,
    db: Database,
    settings: Settings,
    court_names: Mapping[str, str],
    on_change: Callable[[Monitor | None], None] = lambda _: None,
) -> None:
    """While this replica does not lead, a monitor for its share of the rooms; stopped the
    moment it leads (the leader's own monitor takes over its share). Until cancelled."""
    task: asyncio.Task[None] | None = None
    try:
        while True:
            if not leadership.leading and task is None:
                work = Worker(db)
                monitor = Monitor(
                    work=work,
                    alerts=AlertDesk(Feed(), work),
                    settings=settings,
                    court_names=court_names,
                    owns=share.owns,
                )
                task = asyncio.create_task(monitor.run(), name="monitor (follower)")
                on_change(monitor)
            elif leadership.leading and task is not None:
                await _stop(task)
                task = None
                on_change(None)
            await asyncio.sleep(min(1.0, leadership.poll))
    finally:
        if task is not None:
            await _stop(task)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
