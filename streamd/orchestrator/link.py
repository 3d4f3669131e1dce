"""streamd's one connection to the court's broker: subscribe, reconnect, publish.

A persistent session (clean_session off, a client id derived from the court's code) keeps
the acks and events the agents send while streamd restarts. Publishing refuses while this
replica does not lead, checked at every send, so a replica that lost its lease stops at
once; otherwise it waits for the connection at most one ack timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt

from streamd.orchestrator.intake import DIGEST_FILTER
from streamd_protocol import Leaf, Topics, no_delay

log = logging.getLogger(__name__)

# Every room's leaves the leader listens to, with their QoS. Telemetry is not among them:
# every replica takes a share of it (streamd.orchestrator.intake), and the followers'
# digests arrive here at QoS 0, which a persistent session does not keep while away.
LISTENS = (
    (Leaf.STATE, 1),
    (Leaf.ACK, 1),
    (Leaf.EVENTS, 1),
    (Leaf.SELFTEST, 1),
)


class Link:
    def __init__(
        self,
        *,
        courts: Sequence[str],
        mqtt_url: str,
        timeout: float,
        may_send: Callable[[], bool] | None = None,
    ) -> None:
        self.courts = tuple(courts)
        url = urlsplit(mqtt_url)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 1883
        self._tls = url.scheme == "mqtts"
        # mqtt://streamd:PASSWORD@host: the broker user `streamd mqtt-acl` writes
        self._auth = (unquote(url.username), unquote(url.password or "")) if url.username else None
        self._timeout = timeout
        self._may_send = may_send
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()

    def _client_args(self) -> dict[str, Any]:
        # The same on every replica: a new leader resumes the session the last one had.
        digest = hashlib.sha256(",".join(self.courts).encode()).hexdigest()[:12]
        args: dict[str, Any] = {
            "hostname": self._host,
            "port": self._port,
            "identifier": f"streamd-{digest}",
            "clean_session": False,  # acks and events sent while we restart are kept
            "keepalive": 5,
            "timeout": 5.0,
        }
        if self._auth is not None:
            args["username"], args["password"] = self._auth
        if self._tls:
            import ssl

            args["tls_context"] = ssl.create_default_context()
        return args

    async def run(
        self,
        on_message: Callable[[str, Any], None],
        on_connect: Callable[[], None],
    ) -> None:
        """Stay connected until cancelled, handing every message to `on_message`."""
        delay = 0.2
        while True:
            try:
                async with aiomqtt.Client(**self._client_args()) as client:
                    no_delay(client)
                    await client.subscribe(
                        [
                            *(
                                (Topics.every_room(court, leaf), qos)
                                for court in self.courts
                                for leaf, qos in LISTENS
                            ),
                            (DIGEST_FILTER, 0),
                        ]
                    )
                    # A session kept from a release that took every beat here keeps that
                    # subscription on the broker: drop it, the intake takes them now.
                    await client.unsubscribe(
                        [Topics.every_room(court, Leaf.TELEMETRY) for court in self.courts]
                    )
                    self._client = client
                    self.connected.set()
                    delay = 0.2
                    on_connect()
                    async for message in client.messages:
                        on_message(str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # aiomqtt's exit can turn our cancellation into a disconnect error.
                    raise asyncio.CancelledError from exc
                log.warning("broker connection lost: %s", exc)
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        if self._may_send is not None and not self._may_send():
            raise aiomqtt.MqttError("this replica does not lead: nothing is sent")
        if not self.connected.is_set():
            await asyncio.wait_for(self.connected.wait(), self._timeout)
        client = self._client
        if client is None:
            raise aiomqtt.MqttError("not connected")
        await client.publish(topic, payload, qos=qos, timeout=self._timeout)
