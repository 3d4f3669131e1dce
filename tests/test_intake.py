"""The telemetry shared among replicas: each takes a share over `$share`, a follower
forwards its beats to the leader in digests, and the leader's wall keeps them in order."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamd.config import Settings
from streamd.orchestrator.intake import DIGEST_FILTER, Intake, digest_topic, parse_digest
from streamd.orchestrator.liveness import place
from streamd_protocol import AgentPhase, Telemetry, Topics
from tests.conftest import ROOT
from tests.mqtt_support import broker_for

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def beat(room: str, second: int, phase: AgentPhase = AgentPhase.LIVE) -> Telemetry:
    return Telemetry(room=room, at=T0 + timedelta(seconds=second), phase=phase)


@given(st.permutations(range(40)), st.integers(min_value=1, max_value=12))
def test_the_history_keeps_the_newest_beats_in_order_whatever_order_they_arrive_in(
    order: list[int], size: int
) -> None:
    history: deque[Telemetry] = deque(maxlen=size)
    latest = -1
    for n, second in enumerate(order):
        newest = place(history, beat("r", second))
        assert newest == (second > latest)
        latest = max(latest, second)
        seen = sorted(order[: n + 1])
        assert [int((t.at - T0).total_seconds()) for t in history] == seen[-size:]


def intake(court: str = "c1", *, replica: str = "b") -> Intake:
    return Intake(courts=[court], mqtt_url="mqtt://127.0.0.1:1", replica=replica, shared=True)


def test_a_follower_holds_each_rooms_latest_beat_and_forwards_it_with_its_age() -> None:
    i = intake()
    assert i.filters() == ["$share/streamd/court/c1/room/+/telemetry"]
    i.take("court/c1/room/r1/telemetry", beat("r1", 1).to_bytes())
    i.take("court/c1/room/r1/telemetry", beat("r1", 2).to_bytes())
    i.take("court/c1/room/r2/telemetry", beat("r2", 2).to_bytes())
    time.sleep(0.02)
    body = i.digest()
    assert body is not None
    digest = parse_digest(body)
    got = {b.room: b for b in digest.beats}
    assert digest.replica == "b" and set(got) == {"r1", "r2"}
    assert got["r1"].telemetry.at == T0 + timedelta(seconds=2)  # its latest only
    assert all(0.02 <= b.age < 5 for b in digest.beats)
    assert (i.stats.taken, i.stats.forwarded, i.stats.digests) == (3, 2, 1)
    assert i.digest() is None  # sent once


def test_bad_telemetry_and_other_courts_are_refused_and_held_nowhere() -> None:
    i = intake()
    i.take("court/c1/room/r1/telemetry", b"{not json")
    i.take("court/c1/room/r1/telemetry", b'{"room": "r1"}')
    i.take("court/c2/room/r9/telemetry", beat("r9", 1).to_bytes())  # not this deployment's
    i.take("court/c1/room/r1/state", beat("r1", 1).to_bytes())  # not a telemetry topic
    assert (i.stats.malformed, i.stats.taken) == (2, 0)
    assert i.digest() is None


def test_the_leaders_share_goes_straight_to_its_watch() -> None:
    i = intake()
    got: list[tuple[str, Telemetry, float]] = []
    i.sink = lambda room, t, heard: got.append((room, t, heard))
    i.take("court/c1/room/r1/telemetry", beat("r1", 1).to_bytes())
    assert [(room, t.room) for room, t, _ in got] == [("r1", "r1")]
    assert abs(got[0][2] - time.monotonic()) < 1
    assert i.digest() is None  # nothing forwarded by the leader


def test_a_replica_name_becomes_one_topic_level() -> None:
    assert digest_topic("host:8080") == "streamd/replica/host:8080/telemetry"
    assert digest_topic("a/b+#c d") == "streamd/replica/a_b__c_d/telemetry"


@pytest.mark.broker
async def test_two_replicas_share_the_beats_and_the_leader_hears_every_room(
    tmp_path: Path,
) -> None:
    """On Mosquitto: each beat is dealt to one of the two intakes; the follower's reach the
    digest topic, so between its own and the digests the leader hears every room."""
    court = f"t{uuid.uuid4().hex[:8]}"
    rooms = [f"r{n}" for n in range(10)]
    async with broker_for(tmp_path) as (host, port):
        url = f"mqtt://{host}:{port}"
        leader = Intake(courts=[court], mqtt_url=url, replica="a", shared=True, flush=0.1)
        follower = Intake(courts=[court], mqtt_url=url, replica="b", shared=True, flush=0.1)
        direct: list[str] = []
        leader.sink = lambda room, t, heard: direct.append(room)
        forwarded: list[str] = []
        async with aiomqtt.Client(host, port) as listener:
            await listener.subscribe(DIGEST_FILTER)

            async def hear() -> None:
                async for message in listener.messages:
                    body = message.payload
                    assert isinstance(body, bytes)
                    forwarded.extend(b.room for b in parse_digest(body).beats)

            tasks = [asyncio.create_task(x) for x in (leader.run(), follower.run(), hear())]
            try:
                await asyncio.sleep(0.5)  # both subscribed
                async with aiomqtt.Client(host, port) as room:
                    for second in range(4):
                        for code in rooms:
                            topic = Topics(court, code).telemetry
                            await room.publish(topic, beat(code, second).to_bytes(), qos=0)
                deadline = time.monotonic() + 10
                while leader.stats.taken + follower.stats.taken < 40 or follower._held:
                    assert time.monotonic() < deadline, (leader.stats, follower.stats)
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)  # the last digest
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    assert leader.stats.taken + follower.stats.taken == 40  # each beat to one of them
    assert leader.stats.taken > 0 and follower.stats.taken > 0
    assert set(direct) | set(forwarded) == set(rooms)
    assert leader.stats.forwarded == 0 and len(forwarded) == follower.stats.forwarded


FOLLOWER = """
import asyncio, sys
from streamd.orchestrator.intake import Intake
asyncio.run(Intake(courts=[sys.argv[1]], mqtt_url=sys.argv[2], replica="b", shared=True).run())
"""


@pytest.mark.broker
@pytest.mark.slow
async def test_a_follower_that_hangs_stops_being_dealt_beats_within_the_silence_limit(
    tmp_path: Path,
) -> None:
    """A follower frozen or cut off (SIGSTOP: its socket stays open, no DISCONNECT, no FIN;
    a killed process's socket the kernel closes at once): the broker keeps dealing it beats
    until its keepalive runs out. The leader must take every room's beats again well
    before the silence limit (8 s) would call a room silent that is not. Mosquitto 2.0
    notices later than its 1.5 keepalives: 1.1 to 6.0 s with a 1 s keepalive."""
    court = f"t{uuid.uuid4().hex[:8]}"
    rooms = [f"r{n}" for n in range(10)]
    async with broker_for(tmp_path) as (host, port):
        url = f"mqtt://{host}:{port}"
        leader = Intake(courts=[court], mqtt_url=url, replica="a", shared=True)
        heard: set[tuple[str, datetime]] = set()
        leader.sink = lambda room, t, _: heard.add((room, t.at))
        sent: list[tuple[float, str, datetime]] = []
        taking = asyncio.create_task(leader.run())
        follower = await asyncio.create_subprocess_exec(
            sys.executable, "-c", FOLLOWER, court, url, cwd=ROOT
        )
        try:
            async with (
                aiomqtt.Client(host, port) as room,
                aiomqtt.Client(host, port) as listener,
            ):
                await listener.subscribe(DIGEST_FILTER)

                async def publish(until: float, done: asyncio.Future[Any] | None = None) -> None:
                    n = len(sent) // len(rooms)  # the next tick: every beat a new time
                    while time.monotonic() < until and not (done and done.done()):
                        for code in rooms:
                            t = beat(code, n)
                            await room.publish(Topics(court, code).telemetry, t.to_bytes())
                            sent.append((time.monotonic(), code, t.at))
                        n += 1
                        await asyncio.sleep(0.1)

                first = asyncio.create_task(anext(aiter(listener.messages)))
                await publish(time.monotonic() + 30, first)  # until the follower has a share
                await asyncio.wait_for(first, 1)
                follower.send_signal(signal.SIGSTOP)
                frozen = time.monotonic()
                await publish(frozen + 12)
        finally:
            if follower.returncode is None:
                follower.kill()
            await follower.wait()
            taking.cancel()
            await asyncio.gather(taking, return_exceptions=True)
    missed = [at for at, code, t in sent if at > frozen and (code, t) not in heard]
    back = max(missed, default=frozen) - frozen  # the last beat lost to the hung follower
    print(f"hung follower: its share lost for {back:.1f} s, {len(missed)} beats")
    limit = Settings.model_fields["agent_silence_seconds"].default
    assert back < limit, f"beats still dealt to the hung follower {back:.1f} s after it hung"
    assert missed, "lost nothing: the follower was never dealt a share"
