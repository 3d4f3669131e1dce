"""The leadership lease: its arithmetic (pure), and the row on a real PostgreSQL, with a
TCP proxy between one replica and the database that the test cuts (the partition)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from streamd.orchestrator.leadership import Leadership, Lease, LeaseTiming

FAST = LeaseTiming(lease=1.2, renew=0.3, margin=0.3)


@given(
    lease=st.floats(0.1, 60),
    renew_share=st.floats(0.01, 0.33),
    margin_share=st.floats(0.01, 0.99),
    sent=st.floats(0, 1e6),
)
def test_a_leader_stops_before_its_lease_can_run_out(
    lease: float, renew_share: float, margin_share: float, sent: float
) -> None:
    renew = lease * renew_share
    margin = (lease - renew) * margin_share
    timing = LeaseTiming(lease, renew, margin)
    # The database sets the expiry no earlier than the send: at least sent + lease.
    assert timing.leading_until(sent) < sent + lease
    # ...and one renew interval after a renewal, the leader still leads.
    assert timing.leading_until(sent) > sent + renew


@pytest.mark.parametrize(("lease", "renew", "margin"), [(3, 1, 0.5), (3, 0.5, 2.5), (3, 0, 1)])
def test_unsafe_timings_are_refused(lease: float, renew: float, margin: float) -> None:
    with pytest.raises(ValueError, match=r"renew|margin"):
        LeaseTiming(lease, renew, margin)


def lease(url: str, name: str, timing: LeaseTiming = FAST) -> Lease:
    return Lease(url, holder=name, address=f"http://{name}", timing=timing)


@pytest.mark.db
@pytest.mark.postgres_only
def test_one_holder_at_a_time_and_every_holder_a_new_epoch(pg_url: str) -> None:
    a, b = lease(pg_url, "a"), lease(pg_url, "b")
    won, row = a.acquire()
    assert won == 1 and row.holder == "a" and row.alive
    won, row = b.acquire()
    assert won is None and row.holder == "a" and row.address == "http://a"
    assert a.renew(1) and not b.renew(1)
    a.release(1)
    won, _ = b.acquire()
    assert won == 2
    assert not a.renew(1)  # the old epoch can never extend the new holder's lease
    a.close(), b.close()


class Blackhole:
    """A TCP proxy to PostgreSQL that can be cut: afterwards it swallows every byte and
    answers nothing (what a partition looks like from the replica)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.cut = False
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                if not self.cut:
                    writer.write(data)
                    await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        writer.close()
        up_writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[int]:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        try:
            yield int(self.server.sockets[0].getsockname()[1])
        finally:
            self.server.close()
            for writer in self.writers:
                writer.close()
            await asyncio.sleep(0.05)  # the pipes see their ends and finish


@pytest.mark.db
@pytest.mark.postgres_only
@pytest.mark.slow
async def test_a_replica_cut_from_the_database_stops_leading_before_another_can(
    pg_url: str,
) -> None:
    url = sa.engine.make_url(pg_url)
    proxy = Blackhole(url.port or 5432)
    sends: dict[str, list[float]] = {"a": [], "b": []}

    def work(name: str, me: Leadership) -> Callable[[], Coroutine[Any, Any, None]]:
        async def lead() -> None:
            while True:  # what the orchestrator does: a send only while leading
                if me.leading:
                    sends[name].append(time.monotonic())
                await asyncio.sleep(0.005)

        return lead

    async with proxy.running() as port:
        cut_url = url.set(port=port).render_as_string(hide_password=False)
        a = Leadership("a", lease(cut_url, "a"))
        b = Leadership("b", lease(pg_url, "b"))
        runs = [asyncio.create_task(a.run(work("a", a)))]
        await _until(lambda: a.leading, 5)
        runs.append(asyncio.create_task(b.run(work("b", b))))
        await asyncio.sleep(1.0)
        assert a.leading and not b.leading and b.leader_address() == "http://a"
        proxy.cut = True
        cut_at = time.monotonic()
        await _until(lambda: not a.leading, 5)
        await _until(lambda: bool(sends["b"]), 5)
        for task in runs:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for one in (a, b):
            assert one.lease is not None
            one.lease.close()
    last_a, first_b = max(sends["a"]), min(sends["b"])
    # A stopped on its own clock, with the database unreachable, before B got the lease.
    assert last_a < first_b, (last_a - cut_at, first_b - cut_at)
    assert last_a - cut_at <= FAST.lease - FAST.margin + 0.05
    assert first_b - cut_at <= FAST.lease + FAST.renew + 1.0


async def _until(check: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)
