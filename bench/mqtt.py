"""MQTT benchmark: the orchestrator's command round trip and telemetry ingest, against a
bare aiomqtt client doing the same on the same broker in the same run.

    .venv/bin/python -m bench.mqtt                    # a private Mosquitto, set_tcp_nodelay on
    .venv/bin/python -m bench.mqtt --broker system    # the machine's Mosquitto as installed
    .venv/bin/python -m bench.mqtt --broker embedded  # amqtt, what the demo uses
    .venv/bin/python -m bench.mqtt --agents 200 --rooms 2000 --seconds 10
    .venv/bin/python -m bench.mqtt --agents 2000 --burst 200     # 2,000 agents connected

Round trip: 200 simulated agents (tests/simagent.py: the real protocol and decision logic,
one connection each) answer commands. "ours" is Delivery.deliver (sign, publish QoS 1,
the ack parsed and matched to its command); "bare" is one aiomqtt client publishing the
same signed bytes and matching ack ids by a substring search, the least a client can do.
Both run one command at a time (latency), then 200 at once (a burst, one per room).

Ingest: 2,000 rooms send telemetry at 1 Hz from a separate process. "ours" is the
orchestrator (parse, update the room's view, publish to the live feed); "bare" is an
aiomqtt subscriber that only counts. Each runs alone for the same time; the figure is the
messages received per second and the CPU the receiving process spent per 1,000 messages.

Shared: the same telemetry as `streamd serve` takes it with replicas, over the shared
subscription (`$share/streamd/...`): one replica alone (a real Orchestrator and its
intake), then a leader and a follower in two processes, the follower forwarding its share
to the leader in digests. Per replica: messages taken, CPU as a share of a core, and how
many rooms the leader's watch had heard from in the last 2 s half-way through.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt

from streamd.broker import broker_url
from streamd.config import load_settings
from streamd.court import CourtStructure, DepartmentSpec
from streamd.lifecycle import StreamState
from streamd.orchestrator import Intake, Orchestrator
from streamd.orchestrator.records import StreamView
from streamd.orchestrator.rooms import room_key
from streamd.policy import load_rules
from streamd.store import Database, upgrade
from streamd_protocol import AgentPhase, Pause, Telemetry, Topics, signed
from streamd_protocol.courtfile import CourtSpec, RoomSpec
from streamd_protocol.transport import no_delay
from tests.mqtt_support import PrivateBroker
from tests.simagent import SimulatedAgent

SECRET = "bench-court-secret-0123456789abcdef"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def show(name: str, ours: list[float], bare: list[float]) -> None:
    o50, o99 = statistics.median(ours) * 1000, pct(ours, 0.99) * 1000
    b50, b99 = statistics.median(bare) * 1000, pct(bare, 0.99) * 1000
    print(
        f"  {name:<22} ours p50 {o50:6.2f} ms  p99 {o99:6.2f} ms | "
        f"bare p50 {b50:6.2f} ms  p99 {b99:6.2f} ms | ratio p50 {o50 / b50:4.2f}  "
        f"p99 {o99 / b99:4.2f}"
    )


def structure(court: str, rooms: int) -> CourtStructure:
    return CourtStructure(
        court=CourtSpec(code=court, name="基准法院"),
        departments=[DepartmentSpec(code="d", name="d")],
        lines=[],
        rooms=[RoomSpec(code=f"r{n:04d}", name=f"r{n}") for n in range(rooms)],
    )


@contextlib.asynccontextmanager
async def orchestrator(
    url: str, court: str, rooms: int, folder: Path, *, intake: Intake | None = None
) -> AsyncIterator[Any]:
    settings = load_settings(
        environ={},
        data_dir=str(folder),
        command_secret=SECRET,
        mqtt_url=url,
        agent_silence_seconds=300,
        scheduler_seconds=300,
    )
    db = Database.from_url(settings.effective_database_url)
    upgrade(db.engine)
    orch = Orchestrator(
        db=db,
        settings=settings,
        courts=[structure(court, rooms)],
        rules=load_rules(None),
        mqtt_url=url,
        intake=intake,
    )
    task = asyncio.create_task(orch.run())
    await asyncio.wait_for(orch.started.wait(), 20)
    try:
        yield orch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        orch.close()
        db.dispose()


def pause_for(topics: Topics, n: int) -> Pause:
    now = datetime.now(UTC)
    return Pause(
        id=f"b-{uuid.uuid4().hex[:16]}",
        room=topics.room,
        hearing_id=n + 1,
        issued_at=now,
        expires_at=now.replace(year=now.year + 1),
        reason="bench",
    )


async def round_trips(url: str, agents: int, commands: int, burst: int) -> None:
    host, _, port = url[len("mqtt://") :].rpartition(":")
    court = f"b{uuid.uuid4().hex[:8]}"
    rooms = [Topics(court, f"r{n:04d}") for n in range(agents)]
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    agents_proc = ctx.Process(target=_run_agents, args=(url, court, agents, ready, done))
    agents_proc.start()  # the rooms are other machines: not on our event loop or core time
    await asyncio.to_thread(ready.wait, 60)
    with tempfile.TemporaryDirectory() as tmp:
        async with orchestrator(url, court, agents, Path(tmp)) as orch:
            await asyncio.sleep(1.0)  # retained states in
            views = [StreamView(n, n + 1, t.room, StreamState.BOOKED) for n, t in enumerate(rooms)]

            async def ours_one(n: int) -> float:
                view = views[n % agents]
                cmd = pause_for(rooms[n % agents], n)
                t0 = time.perf_counter()
                ack = await orch.delivery.deliver(view, cmd, fast=True)
                assert ack is not None and ack.ok
                return time.perf_counter() - t0

            ours_seq = [await ours_one(n) for n in range(commands)]
            t0 = time.perf_counter()
            ours_burst = await asyncio.gather(*(ours_one(n) for n in range(burst)))
            ours_burst_wall = time.perf_counter() - t0

    # The peer: a bare client on the same broker and the same agents.
    waiting: dict[str, asyncio.Future[None]] = {}
    async with aiomqtt.Client(host, int(port)) as bare:
        no_delay(bare)  # a fair peer: the same socket setting as ours
        await bare.subscribe(f"court/{court}/room/+/ack", qos=1)

        async def reader() -> None:
            async for message in bare.messages:
                raw = bytes(message.payload)  # type: ignore[arg-type]
                start = raw.find(b'"command_id":"') + 14
                cid = raw[start : raw.find(b'"', start)].decode()
                fut = waiting.pop(cid, None)
                if fut is not None and not fut.done():
                    fut.set_result(None)

        task = asyncio.create_task(reader())

        async def bare_one(n: int) -> float:
            topics = rooms[n % agents]
            cmd = pause_for(topics, n)
            payload = signed(cmd, room_key(SECRET, topics))
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiting[cmd.id] = fut
            t0 = time.perf_counter()
            await bare.publish(topics.cmd, payload, qos=1)
            await asyncio.wait_for(fut, 10)
            return time.perf_counter() - t0

        bare_seq = [await bare_one(n) for n in range(commands)]
        t0 = time.perf_counter()
        bare_burst = await asyncio.gather(*(bare_one(n) for n in range(burst)))
        bare_burst_wall = time.perf_counter() - t0
        task.cancel()
    done.set()
    await asyncio.to_thread(agents_proc.join, 30)
    print(f"command -> ack, {agents} agents, {commands} sequential commands + a burst of {burst}:")
    show("one at a time", ours_seq, bare_seq)
    show(f"burst of {burst}", list(ours_burst), list(bare_burst))
    print(
        f"  burst wall time        ours {ours_burst_wall * 1000:.0f} ms | "
        f"bare {bare_burst_wall * 1000:.0f} ms"
    )


def _run_agents(url: str, court: str, agents: int, ready: Any, done: Any) -> None:
    """Child process: `agents` simulated rooms, one connection each, until `done`."""

    async def main() -> None:
        host, _, port = url[len("mqtt://") :].rpartition(":")
        sims = []
        for n in range(agents):
            topics = Topics(court, f"r{n:04d}")
            sims.append(
                SimulatedAgent(
                    host, int(port), topics, room_key(SECRET, topics), telemetry_every=None
                )
            )
        await asyncio.gather(*(s.start() for s in sims))
        ready.set()
        await asyncio.to_thread(done.wait)
        await asyncio.gather(*(s.stop() for s in sims))

    logging.getLogger("mqtt").setLevel(logging.ERROR)
    asyncio.run(main())


def _publish_telemetry(url: str, court: str, rooms: int, seconds: float, go: Any) -> None:
    """Child process: `rooms` rooms at 1 Hz over 4 connections."""

    async def main() -> None:
        host, _, port = url[len("mqtt://") :].rpartition(":")
        clients = [aiomqtt.Client(host, int(port)) for _ in range(4)]
        async with contextlib.AsyncExitStack() as stack:
            for c in clients:
                await stack.enter_async_context(c)
            payloads = []
            for n in range(rooms):
                tele = Telemetry(
                    room=f"r{n:04d}", at=datetime.now(UTC), phase=AgentPhase.LIVE, hearing_id=n + 1
                )
                payloads.append((f"court/{court}/room/r{n:04d}/telemetry", tele.to_bytes()))
            go.wait()
            end = time.monotonic() + seconds
            tick = time.monotonic()
            while time.monotonic() < end:
                for i, (topic, payload) in enumerate(payloads):
                    await clients[i % 4].publish(topic, payload, qos=0)
                    if i % 200 == 199:  # spread the second's messages evenly
                        await asyncio.sleep(max(0.0, tick + (i + 1) / rooms - time.monotonic()))
                tick += 1.0
                await asyncio.sleep(max(0.0, tick - time.monotonic()))

    asyncio.run(main())


async def ingest(url: str, rooms: int, seconds: float) -> None:
    results: dict[str, tuple[float, float]] = {}
    for who in ("ours", "bare"):
        court = f"b{uuid.uuid4().hex[:8]}"
        ctx = multiprocessing.get_context("spawn")
        go = ctx.Event()
        proc = ctx.Process(target=_publish_telemetry, args=(url, court, rooms, seconds, go))
        proc.start()
        with tempfile.TemporaryDirectory() as tmp:
            if who == "ours":
                async with orchestrator(url, court, rooms, Path(tmp)) as orch:
                    listener = orch.feed.listen(["telemetry"])  # a page watching the wall
                    drain = asyncio.create_task(_drain(listener))
                    count0, cpu0 = orch.stats.received["telemetry"], time.process_time()
                    go.set()
                    await asyncio.to_thread(proc.join)
                    await asyncio.sleep(0.5)
                    got = orch.stats.received["telemetry"] - count0
                    cpu = time.process_time() - cpu0
                    drain.cancel()
            else:
                host, _, port = url[len("mqtt://") :].rpartition(":")
                async with aiomqtt.Client(host, int(port)) as client:
                    no_delay(client)
                    await client.subscribe(f"court/{court}/room/+/telemetry", qos=0)
                    counter = {"n": 0}
                    task = asyncio.create_task(_count(client, counter))
                    cpu0 = time.process_time()
                    go.set()
                    await asyncio.to_thread(proc.join)
                    await asyncio.sleep(0.5)
                    got = counter["n"]
                    cpu = time.process_time() - cpu0
                    task.cancel()
        results[who] = (got / seconds, cpu / max(got, 1) * 1000)
    (o_rate, o_cpu), (b_rate, b_cpu) = results["ours"], results["bare"]
    print(f"telemetry ingest, {rooms} rooms at 1 Hz for {seconds:g} s (offered {rooms}/s):")
    print(
        f"  received           ours {o_rate:7.0f} msg/s | bare {b_rate:7.0f} msg/s | "
        f"ratio {o_rate / b_rate:4.2f}"
    )
    print(
        f"  CPU per 1000 msgs  ours {o_cpu * 1000:7.1f} ms    | bare {b_cpu * 1000:7.1f} ms    | "
        f"ratio {o_cpu / b_cpu:4.2f}  (ours at {rooms}/s: {o_cpu * rooms / 1000:.2f} of a core)"
    )


def _leader(
    url: str, court: str, rooms: int, seconds: float, ready: Any, go: Any, out: Any
) -> None:
    """Child process: the leading replica, a real Orchestrator fed by its own shared intake
    and by any follower's digests, for `seconds` after `go`."""

    async def main() -> None:
        intake = Intake(courts=[court], mqtt_url=url, replica="leader", shared=True)
        taking = asyncio.create_task(intake.run())
        with tempfile.TemporaryDirectory() as tmp:
            async with orchestrator(url, court, rooms, Path(tmp), intake=intake) as orch:
                await asyncio.sleep(1.0)  # the intake's subscription in place
                ready.set()
                await asyncio.to_thread(go.wait)
                cpu0, t0 = time.process_time(), time.monotonic()
                await asyncio.sleep(seconds / 2)
                now = time.monotonic()
                fresh = sum(1 for a in orch.agents.values() if now - a.last_seen < 2.0)
                await asyncio.sleep(seconds / 2 + 1.0)
                cpu = time.process_time() - cpu0
                out.put(
                    {
                        "who": "leader",
                        "taken": intake.stats.taken,
                        "beats": orch.stats.received["telemetry"],
                        "digests": orch.stats.received["digest"],
                        "fresh": fresh,
                        "cpu": cpu,
                        "wall": time.monotonic() - t0,
                    }
                )
        taking.cancel()

    logging.getLogger("mqtt").setLevel(logging.ERROR)
    asyncio.run(main())


def _follower(url: str, court: str, seconds: float, ready: Any, go: Any, out: Any) -> None:
    """Child process: a following replica's intake, forwarding its share in digests."""

    async def main() -> None:
        intake = Intake(courts=[court], mqtt_url=url, replica="follower", shared=True)
        taking = asyncio.create_task(intake.run())
        await asyncio.sleep(1.0)
        ready.set()
        await asyncio.to_thread(go.wait)
        cpu0, t0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds + 1.0)
        out.put(
            {
                "who": "follower",
                "taken": intake.stats.taken,
                "forwarded": intake.stats.forwarded,
                "digests": intake.stats.digests,
                "cpu": time.process_time() - cpu0,
                "wall": time.monotonic() - t0,
            }
        )
        taking.cancel()

    asyncio.run(main())


async def shared(url: str, rooms: int, seconds: float) -> None:
    """Telemetry over the shared subscription ($share/streamd/...), as `streamd serve`
    takes it: one replica alone against a leader and a follower, in the same run."""
    print(f"telemetry over $share, {rooms} rooms at 1 Hz for {seconds:g} s (offered {rooms}/s):")
    alone: float | None = None
    for n in (1, 2):
        court = f"b{uuid.uuid4().hex[:8]}"
        ctx = multiprocessing.get_context("spawn")
        go, out = ctx.Event(), ctx.Queue()
        children = []
        for target, args in [
            (_leader, (url, court, rooms, seconds)),
            (_follower, (url, court, seconds)),
        ][:n]:
            ready = ctx.Event()
            child = ctx.Process(target=target, args=(*args, ready, go, out))
            child.start()
            if not await asyncio.to_thread(ready.wait, 60):
                raise RuntimeError(f"{target.__name__} did not start")
            children.append(child)
        pub = ctx.Process(target=_publish_telemetry, args=(url, court, rooms, seconds, go))
        pub.start()
        go.set()
        await asyncio.to_thread(pub.join)
        got = {r["who"]: r for r in [await asyncio.to_thread(out.get, True, 60) for _ in children]}
        for child in children:
            child.join(10)
        lead = got["leader"]
        core = lead["cpu"] / lead["wall"]
        alone = core if alone is None else alone
        print(
            f"  {n} replica(s): leader took {lead['taken'] / seconds:5.0f} msg/s itself, "
            f"{lead['digests'] / seconds:4.1f} digests/s, {lead['beats'] / seconds:5.0f} beats/s "
            f"in its watch; {core:.3f} of a core (x{core / alone:.2f} of one replica alone); "
            f"rooms fresh mid-run {lead['fresh']}/{rooms}"
        )
        if "follower" in got:
            f = got["follower"]
            print(
                f"               follower took {f['taken'] / seconds:5.0f} msg/s, forwarded "
                f"{f['forwarded'] / seconds:5.0f} beats/s in {f['digests'] / seconds:4.1f} "
                f"digests/s; {f['cpu'] / f['wall']:.3f} of a core"
            )


async def _count(client: aiomqtt.Client, counter: dict[str, int]) -> None:
    async for _ in client.messages:
        counter["n"] += 1


async def _drain(listener: Any) -> None:
    async for _ in listener:
        pass


@contextlib.asynccontextmanager
async def broker(which: str) -> AsyncIterator[str]:
    """tuned: a private Mosquitto with set_tcp_nodelay (as docs/ recommend for production);
    system: the machine's Mosquitto as installed; embedded: amqtt; or a URL."""
    if which == "tuned":
        with tempfile.TemporaryDirectory() as tmp:
            private = PrivateBroker(Path(tmp))
            private.start()
            try:
                yield f"mqtt://127.0.0.1:{private.port}"
            finally:
                private.kill()
        return
    url = {"system": "mqtt://127.0.0.1:1883", "embedded": None}.get(which, which)
    async with broker_url(url) as resolved:
        yield resolved


async def run(args: argparse.Namespace) -> None:
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # paho's "pending publish calls"
    async with broker(args.broker) as url:
        print(f"broker {args.broker}: {url}")
        burst = args.burst or args.agents
        await round_trips(url, args.agents, args.commands, min(burst, args.agents))
        await ingest(url, args.rooms, args.seconds)
        await shared(url, args.rooms, args.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--broker", default="tuned", help="tuned (default), system, embedded, or a URL"
    )
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--commands", type=int, default=1000)
    # The simulated rooms share one process: 2,000 connected answer one at a time fine,
    # but not all at once within the 10 s a command waits; burst a part of them.
    parser.add_argument("--burst", type=int, default=0, help="commands at once (default: all)")
    parser.add_argument("--rooms", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
