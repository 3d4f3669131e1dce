"""The embedded MQTT broker: amqtt in-process on 127.0.0.1, for the demo and a laptop.

With `STREAMD_MQTT_URL` set, streamd uses that broker (Mosquitto in CI and production) and
this module starts nothing. amqtt is enough for a demo court (measured on this machine
kind: about 700 QoS 1 messages a second, round trip p99 about 2 ms), not for production.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

from amqtt.broker import Broker

log = logging.getLogger(__name__)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    """Listens on loopback only: the embedded broker has no authentication."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or _free_port(host)
        self._broker: Broker | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }

    async def start(self) -> str:
        self._broker = Broker(self._config())
        await self._broker.start()
        log.info("embedded MQTT broker on %s", self.url)
        return self.url

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


@contextlib.asynccontextmanager
async def broker_url(configured: str | None) -> AsyncIterator[str]:
    """The configured broker's URL, or an embedded broker's for as long as the block runs."""
    if configured is not None:
        yield configured
        return
    embedded = EmbeddedBroker()
    await embedded.start()
    try:
        yield embedded.url
    finally:
        await embedded.stop()
