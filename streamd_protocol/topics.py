"""The topic tree: `court/{court}/room/{room}/{leaf}`.

One subtree per courtroom so that a broker ACL can confine each agent to its own room
(`streamd mqtt-acl`), and so that streamd subscribes to every room with one wildcard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_SEGMENT = re.compile(r"^[^/#+\s]{1,64}$")


class Leaf(StrEnum):
    CMD = "cmd"  # streamd → agent, QoS 1
    ACK = "ack"  # agent → streamd, QoS 1
    STATE = "state"  # agent → streamd, QoS 1, retained; the last will writes "offline" here
    EVENTS = "events"  # agent → streamd, QoS 1
    TELEMETRY = "telemetry"  # agent → streamd, QoS 0, about once a second
    TRANSCRIPT = "transcript"  # streamd → agent, QoS 1
    SELFTEST = "selftest"  # agent → streamd, QoS 1, retained: the latest pre-hearing self-test


@dataclass(frozen=True, slots=True)
class Topics:
    court: str
    room: str

    def __post_init__(self) -> None:
        for name in ("court", "room"):
            value = getattr(self, name)
            if not _SEGMENT.match(value):
                raise ValueError(f"{name} {value!r} cannot be a topic level")

    @property
    def base(self) -> str:
        return f"court/{self.court}/room/{self.room}"

    def __getitem__(self, leaf: Leaf) -> str:
        return f"{self.base}/{leaf.value}"

    @property
    def cmd(self) -> str:
        return self[Leaf.CMD]

    @property
    def ack(self) -> str:
        return self[Leaf.ACK]

    @property
    def state(self) -> str:
        return self[Leaf.STATE]

    @property
    def events(self) -> str:
        return self[Leaf.EVENTS]

    @property
    def telemetry(self) -> str:
        return self[Leaf.TELEMETRY]

    @property
    def transcript(self) -> str:
        return self[Leaf.TRANSCRIPT]

    @staticmethod
    def every_room(court: str, leaf: Leaf) -> str:
        """The subscription streamd uses to hear one leaf of every room."""
        return f"court/{court}/room/+/{leaf.value}"


def parse_topic(topic: str) -> tuple[Topics, Leaf] | None:
    """`court/X/room/Y/leaf` → (Topics(X, Y), leaf); anything else → None."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "court" or parts[2] != "room":
        return None
    try:
        return Topics(parts[1], parts[3]), Leaf(parts[4])
    except ValueError:
        return None
