"""The monitor's rooms over the replicas: each room exactly one watcher, and a replica
leaving moves only its own rooms."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from streamd.models import Alert
from streamd.monitor.share import Share, owner
from streamd.orchestrator import AlertDesk, Feed, Worker
from streamd.store import Database

names = st.text(alphabet="abcdefgh0123456789-", min_size=1, max_size=8)
members_st = st.lists(names, min_size=1, max_size=6, unique=True)
rooms_st = st.lists(names, min_size=1, max_size=60, unique=True)


@given(members_st, rooms_st)
def test_every_room_has_exactly_one_watcher(members: list[str], rooms: list[str]) -> None:
    shares = [Share(m) for m in members]
    for s in shares:
        s.update(members)
    for room in rooms:
        assert sum(s.owns(room) for s in shares) == 1


@given(members_st, rooms_st, st.data())
def test_a_replica_leaving_moves_only_its_own_rooms(
    members: list[str], rooms: list[str], data: st.DataObject
) -> None:
    gone = data.draw(st.sampled_from(members))
    rest = [m for m in members if m != gone]
    for room in rooms:
        before = owner(room, members)
        after = owner(room, rest)
        if before != gone:
            assert after == before
        else:
            assert after in rest or not rest


def test_rooms_spread_over_the_replicas_and_a_lone_replica_watches_all() -> None:
    rooms = [f"room-{n:03d}" for n in range(400)]
    load = Counter(owner(r, ["a", "b"]) for r in rooms)
    assert 150 < load["a"] < 250 and load["a"] + load["b"] == 400
    alone = Share("a")
    assert all(alone.owns(r) for r in rooms)  # before it has heard of anyone
    alone.update(["b"])  # it always counts itself
    assert alone.members == ("a", "b")


def _alert(key: str) -> Alert:
    kind, room, _ = key.split(":")
    return Alert(
        key=key,
        kind=kind,
        severity="critical",
        room=room,
        message_zh="甲",
        message_en="a",
        raised_at=datetime.now(UTC),
    )


async def test_the_leaders_feed_carries_what_the_other_replicas_monitors_raised(
    database: Database,
) -> None:
    feed = Feed()
    desk = AlertDesk(feed, Worker(database))
    heard: list[tuple[str, str]] = []
    listening = feed.listen()

    async def take(n: int) -> None:
        for _ in range(n):
            msg = await anext(listening)
            assert msg is not None
            heard.append((msg.type, msg.data["key"]))

    taking = asyncio.create_task(take(4))
    for _ in range(3):
        await asyncio.sleep(0)  # the listener subscribes
    desk.raise_("encoder_down", "critical", "room-01", None, "本院", "ours")
    desk.merge([_alert("encoder_down:room-01:-"), _alert("hls_stalled:b-room-01:-")])
    desk.merge([_alert("encoder_down:room-01:-"), _alert("hls_stalled:b-room-01:-")])
    # Ours cleared here while the database still shows it open: not raised again.
    desk.clear("encoder_down", "room-01", None)
    desk.merge([_alert("encoder_down:room-01:-"), _alert("hls_stalled:b-room-01:-")])
    desk.merge([])  # the other replica cleared its own
    await asyncio.wait_for(taking, 5)
    await desk.work.drain()
    await listening.aclose()  # type: ignore[attr-defined]
    assert heard == [
        ("alert", "encoder_down:room-01:-"),
        ("alert", "hls_stalled:b-room-01:-"),
        ("alert_cleared", "encoder_down:room-01:-"),
        ("alert_cleared", "hls_stalled:b-room-01:-"),
    ]
