"""The monitor's rooms over the replicas: each room exactly one watcher, and a replica
leaving moves only its own rooms."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from streamd.monitor.share import Share, owner

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
