"""docker/: what can be checked without a Docker engine. Prometheus's config, alert rules
and their unit tests (promtool); the compose file (docker-compose's own validation, and
that everything it mounts or reads exists once generate.sh has run); Mosquitto started
with the deployment's own config and generated files, refusing cross-room publishing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import aiomqtt
import pytest
import yaml

from streamd.mqtt_acl import STREAMD_USER
from tests.conftest import COURT_DIR as SAMPLE
from tests.conftest import ROOT
from tests.test_mqtt_acl import client, secured_broker

DOCKER = ROOT / "docker"
SECRET = "a-court-secret-for-the-deployment-test-0123456789"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        assert os.environ.get("CI") != "true", f".ci/run installs {name}"
        pytest.skip(f"{name} is not installed (apt-get install, as .ci/run does)")
    return found


def run(*argv: str, cwd: Path = DOCKER, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    """A copy of the repository's docker/ (and what it mounts) with generate.sh run."""
    root = tmp_path / "repo"
    shutil.copytree(DOCKER, root / "docker", ignore=shutil.ignore_patterns("generated", ".env"))
    shutil.copytree(SAMPLE, root / "streamd" / "sample" / "courtroom_configs")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, root / name)
    (root / "docker" / ".env").write_text(
        f"STREAMD_COMMAND_SECRET={SECRET}\nPOSTGRES_PASSWORD=pg-pw\nGRAFANA_ADMIN_PASSWORD=gf-pw\n"
        "COMPOSE_PROJECT_NAME=streamd\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMD_")}
    env["STREAMD"] = str(Path(sys.executable).parent / "streamd")
    env["STREAMD_DATA_DIR"] = str(tmp_path / "data")
    said = run("sh", "docker/generate.sh", cwd=root, env=env)
    assert "room-01.env" in said, said
    return root / "docker"


def test_prometheus_config_and_rules_are_valid_and_the_alerts_fire_when_they_must() -> None:
    promtool = tool("promtool")
    run(promtool, "check", "config", "prometheus/prometheus.yml")
    assert "SUCCESS" in run(promtool, "test", "rules", "prometheus/alerts.test.yml")


def test_the_compose_file_is_valid_and_everything_it_reads_exists(deployment: Path) -> None:
    spec = yaml.safe_load((deployment / "compose.yaml").read_text(encoding="utf-8"))
    services = spec["services"]
    assert {
        "postgres", "mosquitto", "rtmp", "prometheus", "grafana", "streamd-a", "streamd-b",
        "proxy", "agent-room-01", "agent-room-02",
    } <= set(services)  # fmt: skip
    for name, svc in services.items():
        for env_file in svc.get("env_file", []):
            path = deployment / env_file
            assert path.is_file() and path.stat().st_mode & 0o077 == 0, (name, env_file)
        for mount in svc.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (deployment / source).exists(), (name, source)
            else:
                assert source in spec["volumes"], (name, source)
        build = svc.get("build")
        if build:
            dockerfile = (deployment / build["context"] / build["dockerfile"]).read_text()
            for source in re.findall(r"^COPY (\S+)", dockerfile, re.M):
                assert (ROOT / source).exists(), (name, source)  # the build context
    # Each agent gets only its own room's key; streamd gets the broker login.
    room1 = (deployment / "generated/env/room-01.env").read_text()
    assert "STREAMD_AGENT_MQTT_URL=mqtt://mosquitto:1883" in room1
    assert SECRET not in room1
    # Two replicas, each its own name and disk, on the same database, behind the proxy.
    a, b = services["streamd-a"], services["streamd-b"]
    assert (a["environment"]["STREAMD_REPLICA"], b["environment"]["STREAMD_REPLICA"]) == ("a", "b")
    assert a["environment"]["STREAMD_DATABASE_URL"] == b["environment"]["STREAMD_DATABASE_URL"]
    assert {v.split(":")[0] for v in a["volumes"]} ^ {v.split(":")[0] for v in b["volumes"]} == {
        "streamd-a",
        "streamd-b",
    }
    proxied = (deployment / "nginx/streamd.conf").read_text()
    assert "server streamd-a:8080" in proxied and "server streamd-b:8080" in proxied
    streamd = (deployment / "generated/env/streamd.env").read_text()
    assert f"STREAMD_MQTT_URL=mqtt://{STREAMD_USER}:" in streamd and "@mosquitto:1883" in streamd
    compose = shutil.which("docker-compose")
    assert compose or os.environ.get("CI") != "true", ".ci/run installs docker-compose"
    if compose:
        run(compose, "-f", "compose.yaml", "config", "-q", cwd=deployment)


async def test_mosquitto_starts_with_the_deployment_config_and_keeps_rooms_apart(
    deployment: Path, tmp_path: Path
) -> None:
    generated = deployment / "generated" / "mosquitto"
    conf = (deployment / "mosquitto" / "mosquitto.conf").read_text(encoding="utf-8")
    data = tmp_path / "mosquitto-data"
    data.mkdir()

    def conf_for(folder: Path, port: int) -> str:
        return (
            conf.replace("listener 1883", f"listener {port} 127.0.0.1")
            .replace("/mosquitto/config/generated/", f"{folder}/")
            .replace("/mosquitto/data/", f"{data}/")
        )

    env = dict(
        line.split("=", 1)
        for name in ("room-01", "streamd")
        for line in (deployment / f"generated/env/{name}.env").read_text().splitlines()
    )
    room1_password = env["STREAMD_AGENT_MQTT_PASSWORD"]
    streamd_password = env["STREAMD_MQTT_URL"].split("//", 1)[1].split("@")[0].split(":")[1]
    base = "court/粤0111/room"
    async with secured_broker(generated, conf_for) as port:
        with pytest.raises(aiomqtt.MqttError):
            async with client(port, "room-02", room1_password):
                pass
        got: list[str] = []
        async with client(port, STREAMD_USER, streamd_password) as streamd:
            await streamd.subscribe("court/#", qos=1)
            async with client(port, "room-01", room1_password) as room1:
                await room1.publish(f"{base}/room-01/telemetry", b"own", qos=1)
                await room1.publish(f"{base}/room-02/state", b"forged", qos=1)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.5):
                    async for message in streamd.messages:
                        got.append(f"{message.topic.value} {message.payload!r}")
    assert got == [f"{base}/room-01/telemetry b'own'"], got
