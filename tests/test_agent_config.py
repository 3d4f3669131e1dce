"""An agent's config from its room file and, in a container, its environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.config import AgentConfigError, load
from streamd import sample

ROOM = sample.court_dir() / "room-01.toml"


def test_the_room_file_alone() -> None:
    cfg = load(ROOM, environ={})
    assert cfg.room.code == "room-01" and cfg.court == "粤0111"
    assert (
        cfg.agent.broker.url == "mqtt://127.0.0.1:1883" and cfg.agent.broker.username == "room-01"
    )
    assert cfg.data_dir == Path("var/agents/room-01") and cfg.secret is None


def test_the_environment_gives_a_container_its_broker_key_and_password() -> None:
    cfg = load(
        ROOM,
        environ={
            "STREAMD_AGENT_MQTT_URL": "mqtts://mosquitto:8883",
            "STREAMD_AGENT_SECRET": "k" * 64,
            "STREAMD_AGENT_MQTT_PASSWORD": "pw",
        },
    )
    broker = cfg.agent.broker
    assert (broker.host, broker.port, broker.tls) == ("mosquitto", 8883, True)
    assert broker.username == "room-01"  # the rest of [agent.broker] stays
    assert cfg.secret == "k" * 64 and cfg.password == "pw"


def test_a_bad_broker_address_in_the_environment_is_named() -> None:
    with pytest.raises(AgentConfigError, match=r"STREAMD_AGENT_MQTT_URL: .*url"):
        load(ROOM, environ={"STREAMD_AGENT_MQTT_URL": "http://mosquitto"})
