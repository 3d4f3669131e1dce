"""The embedded MQTT broker: amqtt in-process on 127.0.0.1, for the demo and a laptop.

With `STREAMD_MQTT_URL` set, streamd uses that broker (Mosquitto in CI and production) and
this module starts nothing. amqtt is enough for a demo court (measured on this machine
kind: about 700 QoS 1 messages a second, round trip p99 about 2 ms), not for production.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import tempfile
import warnings
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from amqtt.broker import Broker
from argon2 import PasswordHasher

from streamd.court import CourtStructure, redact_url
from streamd.mqtt_acl import STREAMD_USER, mqtt_password
from streamd.orchestrator import REPLICAS_TREE
from streamd_protocol import Topics

log = logging.getLogger(__name__)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Account:
    """A broker login and the topic filters it may publish and subscribe to."""

    password: str
    topics: tuple[str, ...]


def court_accounts(courts: Sequence[CourtStructure], secret: str) -> dict[str, Account]:
    """The production broker's logins and ACL (streamd.mqtt_acl): streamd every court's
    tree, each agent its own room's. Passwords derive from the court secret."""
    trees = (*(f"court/{c.court.code}/#" for c in courts), REPLICAS_TREE)
    accounts = {STREAMD_USER: Account(mqtt_password(secret, STREAMD_USER), trees)}
    for structure in courts:
        for room in structure.rooms:
            base = Topics(structure.court.code, room.code).base
            accounts[room.code] = Account(mqtt_password(secret, room.code), (f"{base}/#",))
    return accounts


class EmbeddedBroker:
    """Listens on loopback. With `accounts`, as production's Mosquitto: no anonymous
    client, each login limited to its topics; without, open (tests of the broker alone)."""

    def __init__(
        self, port: int = 0, host: str = "127.0.0.1", accounts: dict[str, Account] | None = None
    ) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self.accounts = accounts
        self._broker: Broker | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def url_for(self, user: str) -> str:
        """The URL with `user`'s login, as STREAMD_MQTT_URL carries it in production."""
        assert self.accounts is not None
        password = quote(self.accounts[user].password, safe="")
        return f"mqtt://{quote(user, safe='')}:{password}@{self.host}:{self.port}"

    def _config(self) -> dict[str, Any]:
        listeners = {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}}
        if self.accounts is None:
            return {
                "listeners": listeners,
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            }
        self._folder = tempfile.TemporaryDirectory(prefix="streamd-broker-")
        passwd = Path(self._folder.name) / "passwd"
        # The passwords are 256-bit HMACs of the court secret: a slow hash adds nothing to
        # them and would hold up every start (one per room).
        hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        passwd.write_text(
            "".join(f"{u}:{hasher.hash(a.password)}\n" for u, a in self.accounts.items()),
            encoding="utf-8",
        )
        passwd.chmod(0o600)
        acl = {u: list(a.topics) for u, a in self.accounts.items()}
        return {
            "listeners": listeners,
            "plugins": {
                "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(passwd)},
                "amqtt.plugins.topic_checking.TopicAccessControlListPlugin": {
                    "publish_acl": acl,
                    "acl": acl,
                },
            },
        }

    async def start(self) -> str:
        with warnings.catch_warnings():
            # amqtt 0.12 calls its subscribe ACL option `acl` and warns that it is deprecated
            # while offering no other name in the plugin's config.
            warnings.simplefilter("ignore", DeprecationWarning)
            self._broker = Broker(self._config())
        await self._broker.start()
        log.info("embedded MQTT broker on %s", redact_url(self.url))
        return self.url

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


@contextlib.asynccontextmanager
async def broker_url(
    configured: str | None, accounts: dict[str, Account] | None = None
) -> AsyncIterator[str]:
    """The configured broker's URL, or an embedded broker's for as long as the block runs
    (with `accounts`, the URL carries streamd's own login)."""
    if configured is not None:
        yield configured
        return
    embedded = EmbeddedBroker(accounts=accounts)
    await embedded.start()
    try:
        yield embedded.url_for(STREAMD_USER) if accounts else embedded.url
    finally:
        await embedded.stop()
