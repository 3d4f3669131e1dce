"""The rooms' telemetry, shared among the replicas by an MQTT shared subscription.

Telemetry is the bulk of what the rooms say (one beat a second from every room), and
parsing it is most of what the leader would spend on the broker. Every replica takes a
share: each subscribes `$share/streamd/court/{court}/room/+/telemetry`, and Mosquitto
deals each beat to one of them. The leader needs every room's beats (silence, the push
alerts, the wall's lines), so a follower validates its share and forwards each room's
latest beat, twice a second, in one *digest* on `streamd/replica/{replica}/telemetry`,
which the leader's link hears like any other topic. The leader's own share goes straight
into its watch. A digest carries each beat's age on the sender's clock, so the leader
knows when the room last spoke without trusting anyone's wall clock.

Only telemetry goes this way. Commands, acks, state and events stay on the leader's own
persistent session (streamd.orchestrator.link): a broker drops the QoS 1 messages in
flight to a shared subscriber that leaves, which telemetry (QoS 0, sent again within a
second) can afford and a command cannot. A follower that dies loses at most the beats
dealt to it until the broker notices. A killed process's socket is closed by the kernel
and the broker stops at once; a hung or cut-off one is noticed only when its keepalive runs
out, and Mosquitto 2.0 checks that coarsely: with a 1 s keepalive, 1.1 to 6.0 s in twelve runs
(4.4 to 7.9 s with 2 s, too near the 8 s silence limit), measured by
`.venv/bin/pytest -q -s tests/test_intake.py -k hangs`.

The embedded broker (amqtt, one process) has no shared subscriptions: there the one
replica subscribes to the plain filter, and everything else is the same.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streamd_protocol import Leaf, Telemetry, Topics, no_delay, parse_topic

log = logging.getLogger(__name__)
SHARE_GROUP = "streamd"
DIGEST_PREFIX = "streamd/replica"
DIGEST_FILTER = f"{DIGEST_PREFIX}/+/telemetry"
REPLICAS_TREE = f"{DIGEST_PREFIX}/#"  # the broker ACL's: streamd's alone, never an agent's
FLUSH_SECONDS = 0.5  # a follower's beats reach the leader at most this much later
KEEPALIVE_SECONDS = 1  # a hung replica is dealt beats for at most ~6 s (see above)

# What the leader's watch takes: the room, its beat, and when it was heard (monotonic).
Sink = Callable[[str, Telemetry, float], None]


def digest_topic(replica: str) -> str:
    """The replica's digest topic; a name is any text, a topic level may not hold these."""
    level = re.sub(r"[/+#\s\x00]", "_", replica) or "_"
    return f"{DIGEST_PREFIX}/{level}/telemetry"


def is_digest(topic: str) -> bool:
    return topic.startswith(DIGEST_PREFIX + "/") and topic.endswith("/telemetry")


class Beat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    court: str
    room: str
    age: float = Field(ge=0, le=3600, description="Seconds between hearing it and sending")
    telemetry: Telemetry


class Digest(BaseModel):
    """A follower's share of the beats since its last digest: each room's latest."""

    model_config = ConfigDict(extra="forbid")

    replica: str = Field(min_length=1, max_length=128)
    beats: list[Beat]


@dataclass(slots=True)
class IntakeStats:
    taken: int = 0  # beats this replica parsed from the rooms
    forwarded: int = 0  # of those, sent on to the leader in a digest
    digests: int = 0
    malformed: int = 0


class Intake:
    """This replica's share of the telemetry: into `sink` while set (the leader's watch),
    otherwise held and forwarded in digests. Runs for the replica's whole life."""

    def __init__(
        self,
        *,
        courts: Sequence[str],
        mqtt_url: str,
        replica: str,
        shared: bool,
        flush: float = FLUSH_SECONDS,
    ) -> None:
        self.courts = frozenset(courts)
        self.replica = replica
        self.shared = shared
        self.sink: Sink | None = None
        self.stats = IntakeStats()
        self._url = urlsplit(mqtt_url)
        self._flush = flush
        # (court, beat, heard at) per room since the last digest: its latest only.
        self._held: dict[str, tuple[str, Telemetry, float]] = {}

    def filters(self) -> list[str]:
        plain = [Topics.every_room(court, Leaf.TELEMETRY) for court in sorted(self.courts)]
        return [f"$share/{SHARE_GROUP}/{f}" for f in plain] if self.shared else plain

    def take(self, topic: str, payload: Any) -> None:
        """One beat from a room: parsed here, whoever ends up using it."""
        parsed = parse_topic(topic)
        if parsed is None or parsed[1] is not Leaf.TELEMETRY or parsed[0].court not in self.courts:
            return
        raw = payload if isinstance(payload, bytes | str) else bytes(payload or b"")
        try:
            beat = Telemetry.model_validate_json(raw)
        except (ValidationError, ValueError) as exc:
            self.stats.malformed += 1
            log.warning("ignoring malformed telemetry on %s: %s", topic, str(exc)[:200])
            return
        self.stats.taken += 1
        room, now = parsed[0].room, time.monotonic()
        sink = self.sink
        if sink is not None:
            sink(room, beat, now)
        else:
            self._held[room] = (parsed[0].court, beat, now)

    def digest(self) -> bytes | None:
        """The held beats as one digest, emptied; None when there are none or this
        replica leads (its beats went to its own watch)."""
        if not self._held or self.sink is not None:
            self._held.clear()
            return None
        now = time.monotonic()
        beats = [
            Beat(court=court, room=room, age=max(0.0, now - heard), telemetry=t)
            for room, (court, t, heard) in self._held.items()
        ]
        self._held.clear()
        self.stats.forwarded += len(beats)
        self.stats.digests += 1
        return Digest(replica=self.replica, beats=beats).model_dump_json().encode()

    def _client_args(self) -> dict[str, Any]:
        url = self._url
        args: dict[str, Any] = {
            "hostname": url.hostname or "127.0.0.1",
            "port": url.port or 1883,
            # Its own connection with a clean session: nothing of telemetry is worth
            # keeping for a replica that is away, and the leader's session stays apart.
            "identifier": f"streamd-telemetry-{self.replica}-{uuid.uuid4().hex[:8]}",
            "clean_session": True,
            "keepalive": KEEPALIVE_SECONDS,
            "timeout": 5.0,
        }
        if url.username:
            args["username"], args["password"] = unquote(url.username), unquote(url.password or "")
        if url.scheme == "mqtts":
            import ssl

            args["tls_context"] = ssl.create_default_context()
        return args

    async def run(self) -> None:
        """Stay connected until cancelled: take this replica's share, forward digests."""
        delay = 0.2
        while True:
            try:
                async with aiomqtt.Client(**self._client_args()) as client:
                    no_delay(client)
                    await client.subscribe([(f, 0) for f in self.filters()])
                    delay = 0.2
                    flusher = asyncio.create_task(self._forward(client))
                    try:
                        async for message in client.messages:
                            self.take(str(message.topic), message.payload)
                    finally:
                        flusher.cancel()
            except aiomqtt.MqttError as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from exc
                log.warning("telemetry connection lost: %s", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _forward(self, client: aiomqtt.Client) -> None:
        topic = digest_topic(self.replica)
        while True:
            await asyncio.sleep(self._flush)
            body = self.digest()
            if body is not None:
                try:
                    await client.publish(topic, body, qos=0)
                except aiomqtt.MqttError as exc:
                    log.warning("digest not sent: %s", exc)


def parse_digest(raw: bytes | str) -> Digest:
    return Digest.model_validate_json(raw)
