"""The embedded broker serves what the agents rely on: QoS 1, retained state, last wills."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest

from streamd.broker import Account, EmbeddedBroker, broker_url

pytestmark = pytest.mark.broker


async def test_embedded_broker_keeps_retained_state_and_delivers_the_last_will() -> None:
    broker = EmbeddedBroker()
    await broker.start()
    try:
        will = aiomqtt.Will("court/x/room/r/state", b'{"phase":"offline"}', qos=1, retain=True)
        agent = aiomqtt.Client(broker.host, broker.port, identifier="agent-r", will=will)
        await agent.__aenter__()
        await agent.publish("court/x/room/r/state", b'{"phase":"idle"}', qos=1, retain=True)
        async with aiomqtt.Client(broker.host, broker.port) as watcher:
            await watcher.subscribe("court/x/room/+/state", qos=1)
            first = await asyncio.wait_for(anext(aiter(watcher.messages)), 5)
            assert json.loads(first.payload)["phase"] == "idle" and first.retain
            # An agent that vanishes without DISCONNECT: the broker publishes its will.
            agent._client.socket().close()  # type: ignore[union-attr]
            second = await asyncio.wait_for(anext(aiter(watcher.messages)), 10)
            assert json.loads(second.payload)["phase"] == "offline"
    finally:
        await broker.stop()


async def test_a_configured_broker_is_used_as_is() -> None:
    async with broker_url("mqtt://127.0.0.1:1883") as url:
        assert url == "mqtt://127.0.0.1:1883"
    async with broker_url(None) as url:
        host, port = url.removeprefix("mqtt://").split(":")
        async with aiomqtt.Client(host, int(port)) as client:
            await client.publish("ping", b"1", qos=1)


async def test_the_embedded_broker_has_productions_logins_and_acl() -> None:
    """No anonymous client, no wrong password, and an agent only under its own room."""
    accounts = {
        "streamd": Account("s-pass-1234", ("court/c1/#",)),
        "room-01": Account("r1-pass-1234", ("court/c1/room/room-01/#",)),
    }
    broker = EmbeddedBroker(accounts=accounts)
    await broker.start()
    try:
        for login in ({}, {"username": "room-01", "password": "wrong"}):
            with pytest.raises(aiomqtt.MqttError):
                async with aiomqtt.Client(broker.host, broker.port, **login):
                    pass
        async with aiomqtt.Client(
            broker.host, broker.port, username="streamd", password="s-pass-1234"
        ) as streamd:
            await streamd.subscribe("court/c1/#", qos=1)
            async with aiomqtt.Client(
                broker.host, broker.port, username="room-01", password="r1-pass-1234"
            ) as room:
                await room.publish("court/c1/room/room-02/telemetry", b"fake", qos=1)
                await room.publish("court/c1/room/room-01/telemetry", b"real", qos=1)
            got = await asyncio.wait_for(anext(aiter(streamd.messages)), 5)
            assert (str(got.topic), got.payload) == ("court/c1/room/room-01/telemetry", b"real")
        assert (
            broker.url_for("streamd") == f"mqtt://streamd:s-pass-1234@{broker.host}:{broker.port}"
        )
    finally:
        await broker.stop()
