"""Which replica runs the single-instance work: a lease row in PostgreSQL with an epoch.

Several `streamd serve` processes share one database and one broker. HTTP is served by
all; the orchestrator's command delivery, the scheduler and the monitor run on one only,
the holder of the lease row `leader_lease('orchestrator')`.

Why a lease row and not `pg_advisory_lock`: an advisory lock lives as long as its
session, and a replica cut from the database cannot tell when the server ends that
session (TCP keepalives, minutes) — it would keep sending commands while another replica
already holds the lock. A lease has an expiry the holder can reason about on its own
clock: it stops leading `margin` seconds before the lease can run out for anyone else,
whether or not it still hears from the database. The epoch grows with every new holder,
so a renewal can only extend the holder's own lease, never a later one.

The safety argument, in the holder's monotonic clock: a renewal sent at `t` reaches the
database no earlier than `t`, which sets the expiry to at least `t + lease` in its own
clock. Leading ends at `t + lease - margin`, so with clocks that run at the same rate
(NTP slews, it never jumps monotonic time) the old leader has stopped before the
database lets another one in. On SQLite there is one process: it always leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)
LEASE_NAME = "orchestrator"
# A renewal that cannot reach the database must fail well inside the lease, or a hung
# socket would hold the loop: libpq's connect and TCP timeouts, and the server's own.
DB_TIMEOUT_SECONDS = 2


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """The lease's three numbers; pure, so its arithmetic is tested without a database."""

    lease: float
    renew: float
    margin: float

    def __post_init__(self) -> None:
        if not 0 < self.renew * 3 < self.lease:
            raise ValueError("the renew interval must be under a third of the lease")
        if not 0 < self.margin < self.lease - self.renew:
            raise ValueError("the margin must leave room for one renew interval")

    def leading_until(self, sent_at: float) -> float:
        """Leading ends here, for a renewal (or acquisition) *sent* at `sent_at`."""
        return sent_at + self.lease - self.margin


@dataclass(frozen=True, slots=True)
class Holder:
    """The lease row as a follower last read it."""

    holder: str | None
    address: str | None
    epoch: int
    alive: bool


class Lease:
    """The lease row's three statements. Blocking: run them in a thread."""

    def __init__(self, url: str, *, holder: str, address: str, timing: LeaseTiming) -> None:
        self.holder, self.address, self.timing = holder, address, timing
        # Its own connections, opened for every statement: a pool would hand back a socket
        # that the partition has silently cut, and the statement would hang on it.
        parsed = sa.engine.make_url(url)
        given = parsed.query.get("options", "")  # e.g. a search_path; kept
        options = " ".join([*([given] if isinstance(given, str) else given)])
        self.engine: Engine = sa.create_engine(
            parsed,
            poolclass=NullPool,
            connect_args={
                "connect_timeout": DB_TIMEOUT_SECONDS,
                "tcp_user_timeout": DB_TIMEOUT_SECONDS * 1000,
                "options": f"{options} -c statement_timeout={DB_TIMEOUT_SECONDS * 1000}".strip(),
            },
        )

    def _params(self, **kw: Any) -> dict[str, Any]:
        return {"name": LEASE_NAME, "holder": self.holder, "lease": self.timing.lease, **kw}

    def acquire(self) -> tuple[int | None, Holder]:
        """Take the lease if nobody holds it; the epoch won (or None), and the row."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO leader_lease (name, epoch) VALUES (:name, 0) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                {"name": LEASE_NAME},
            )
            won = conn.execute(
                sa.text(
                    "UPDATE leader_lease SET holder = :holder, address = :address, "
                    "epoch = epoch + 1, expires_at = now() + make_interval(secs => :lease) "
                    "WHERE name = :name AND (expires_at IS NULL OR expires_at <= now()) "
                    "RETURNING epoch"
                ),
                self._params(address=self.address),
            ).scalar()
            row = conn.execute(
                sa.text(
                    "SELECT holder, address, epoch, expires_at > now() FROM leader_lease "
                    "WHERE name = :name"
                ),
                {"name": LEASE_NAME},
            ).one()
        return (int(won) if won is not None else None), Holder(
            row[0], row[1], int(row[2]), bool(row[3])
        )

    def renew(self, epoch: int) -> bool:
        """Extend our own, unexpired lease; False once it is not ours any more."""
        with self.engine.begin() as conn:
            got = conn.execute(
                sa.text(
                    "UPDATE leader_lease SET expires_at = now() + make_interval(secs => :lease) "
                    "WHERE name = :name AND holder = :holder AND epoch = :epoch "
                    "AND expires_at > now() RETURNING epoch"
                ),
                self._params(epoch=epoch),
            ).scalar()
        return got is not None

    def beat(self, member: str) -> list[str]:
        """Say this replica is alive and read who else is: the replicas seen within one
        lease (the monitor shares its rooms among them, streamd.monitor.share)."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO replica_member (name, seen_at) VALUES (:member, now()) "
                    "ON CONFLICT (name) DO UPDATE SET seen_at = now()"
                ),
                {"member": member},
            )
            rows = conn.execute(
                sa.text(
                    "SELECT name FROM replica_member "
                    "WHERE seen_at > now() - make_interval(secs => :lease) ORDER BY name"
                ),
                {"lease": self.timing.lease},
            ).scalars()
            return [str(r) for r in rows]

    def release(self, epoch: int) -> None:
        """A clean stop hands over at once instead of after the lease."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE leader_lease SET expires_at = now() "
                    "WHERE name = :name AND holder = :holder AND epoch = :epoch"
                ),
                self._params(epoch=epoch),
            )

    def close(self) -> None:
        self.engine.dispose()


class Leadership:
    """This replica's standing: `leading` is read before every command is sent.

    Without a lease (SQLite, one process) it always leads."""

    def __init__(self, replica: str, lease: Lease | None, *, poll: float = 1.0) -> None:
        self.replica = replica
        self.lease = lease
        self.poll = lease.timing.renew if lease is not None else poll
        self.epoch = 0
        self.leader: Holder | None = None  # the row as last read, while following
        self.changes = 0  # times this replica took the lead
        self._until: float | None = None  # monotonic; None: not leading

    @property
    def leading(self) -> bool:
        if self.lease is None:
            return True
        return self._until is not None and time.monotonic() < self._until

    def leader_address(self) -> str | None:
        """Where the leader takes forwarded requests, if another replica leads now."""
        if self.leading:
            return None
        row = self.leader
        if row is None or not row.alive or row.address is None:
            return None
        if self.lease is not None and row.holder == self.lease.holder:
            return None
        return row.address

    async def _db(self, fn: Callable[[], Any], within: float) -> Any:
        """One lease statement, abandoned after `within` seconds (its thread then ends on
        the database timeouts)."""
        return await asyncio.wait_for(asyncio.to_thread(fn), max(within, 0.01))

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Follow until the lease is free, lead until it is lost, forever."""
        if self.lease is None:
            self.changes += 1
            await lead()
            return
        while True:
            epoch = await self._acquire()
            if epoch is None:
                await asyncio.sleep(self.poll)
                continue
            log.info("replica %s leads (epoch %d)", self.replica, epoch)
            self.changes += 1
            work = asyncio.create_task(lead(), name=f"leader[{self.replica}]")
            try:
                await self._hold(epoch, work)
            finally:
                self._until = None
                work.cancel()
                (ended,) = await asyncio.gather(work, return_exceptions=True)
            log.warning("replica %s stopped leading (epoch %d)", self.replica, epoch)
            if isinstance(ended, Exception):
                # The work died while we led: hand over now rather than after the lease.
                log.error("leader work failed", exc_info=ended)
                with contextlib.suppress(Exception):
                    await self._db(functools.partial(self.lease.release, epoch), self.poll)
                await asyncio.sleep(self.poll)

    async def members(self) -> list[str]:
        """The live replicas, this one included (alone without a lease); on a database
        error, this one alone is not assumed: the caller keeps what it had."""
        if self.lease is None:
            return [self.replica]
        return list(await self._db(functools.partial(self.lease.beat, self.replica), self.poll))

    async def _acquire(self) -> int | None:
        assert self.lease is not None
        sent = time.monotonic()
        try:
            won, row = await self._db(self.lease.acquire, self.lease.timing.renew)
        except Exception as exc:  # the database away: follow, and try again
            log.warning("lease: cannot reach the database: %s", exc)
            self.leader = None
            return None
        self.leader = row
        if won is None:
            return None
        self.epoch = won
        self._until = self.lease.timing.leading_until(sent)
        return int(won)

    async def _hold(self, epoch: int, work: asyncio.Task[None]) -> None:
        """Renew every `renew` seconds; return when the lease is lost, is about to run
        out unrenewed, or the work ends."""
        assert self.lease is not None
        timing = self.lease.timing
        while True:
            assert self._until is not None
            left = self._until - time.monotonic()
            if left <= 0:
                return
            done, _ = await asyncio.wait({work}, timeout=min(timing.renew, left))
            if done:
                return
            sent = time.monotonic()
            left = self._until - sent
            if left <= 0:
                return
            try:
                ok = await self._db(lambda: self.lease.renew(epoch), left)  # type: ignore[union-attr]
            except Exception as exc:
                log.warning("lease: renew failed, %.1f s of leading left: %s", left, exc)
                continue
            if not ok:
                return
            self._until = timing.leading_until(sent)

    async def release(self) -> None:
        """On a clean stop: stop leading at once and let the others in."""
        if self.lease is None:
            return
        was, self._until = self.leading, None
        if was:
            with contextlib.suppress(Exception):
                await self._db(lambda: self.lease.release(self.epoch), 2.0)  # type: ignore[union-attr]
        self.lease.close()


def replica_name(configured: str | None, host: str, port: int) -> str:
    return configured or f"{host}:{port}"


def instance_holder(replica: str) -> str:
    """The lease holder: the replica's name and this run, so a restarted replica with the
    same name never mistakes its predecessor's lease for its own."""
    return f"{replica}#{uuid.uuid4().hex[:8]}"
