"""The embedded broker serves what the agents rely on: QoS 1, retained state, last wills."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest

from streamd.broker import EmbeddedBroker, broker_url

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
