"""The generated Mosquitto files on a real Mosquitto: an agent may use only its own room."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiomqtt
import pytest

from streamd import court, sample
from streamd.cli import main
from streamd.mqtt_acl import STREAMD_USER, mqtt_password
from streamd.orchestrator.intake import DIGEST_FILTER, digest_topic
from streamd_protocol import Leaf, Topics
from tests.mqtt_support import _port_open, free_port

pytestmark = [pytest.mark.broker]
SECRET = "court-secret-for-the-acl-test-0123456789"


def mosquitto() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    assert found, "this test needs Mosquitto itself: apt-get install mosquitto (.ci/run does)"
    return found


def minimal_conf(folder: Path, port: int) -> str:
    return (
        f"listener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {folder / 'passwd'}\nacl_file {folder / 'acl'}\n"
    )


@contextlib.asynccontextmanager
async def secured_broker(
    folder: Path, conf_for: Callable[[Path, int], str] = minimal_conf
) -> AsyncIterator[int]:
    """Mosquitto on a free port with the password and ACL files in `folder`."""
    port = free_port()
    conf = folder / "mosquitto.conf"
    # As root, Mosquitto drops to its own user, which may not read our 0600 files; a
    # deployment chowns them to it instead (docs/operations.md).
    as_root = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(as_root + conf_for(folder, port), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        mosquitto(), "-c", str(conf), stderr=asyncio.subprocess.PIPE
    )
    try:
        for _ in range(200):
            if _port_open("127.0.0.1", port):
                break
            if proc.returncode is not None:
                assert proc.stderr is not None
                raise AssertionError((await proc.stderr.read()).decode())
            await asyncio.sleep(0.05)
        yield port
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def client(port: int, user: str, password: str) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, username=user, password=password, timeout=5)


async def test_each_agent_may_publish_only_under_its_own_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAMD_COMMAND_SECRET", SECRET)
    monkeypatch.setenv("STREAMD_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "broker"
    assert main(["mqtt-acl", "--out", str(out)]) == 0  # the sample court, Chinese code and all
    said = capsys.readouterr().out
    assert f"mqtt://{STREAMD_USER}:{mqtt_password(SECRET, STREAMD_USER)}@" in said
    assert (out / "passwd").stat().st_mode & 0o077 == 0  # secrets are not world-readable
    code = court.read_structure(sample.court_dir()).court.code
    base = f"court/{code}/room"
    assert main(["agent-key", "room-01", "--mqtt"]) == 0
    room1_password = capsys.readouterr().out.strip()
    assert room1_password == mqtt_password(SECRET, "room-01")

    async with secured_broker(out) as port:
        with pytest.raises(aiomqtt.MqttError):
            async with client(port, "room-01", "wrong password"):
                pass
        got: list[str] = []
        async with client(port, STREAMD_USER, mqtt_password(SECRET, STREAMD_USER)) as streamd:
            await streamd.subscribe(f"court/{code}/#", qos=1)

            async def collect() -> None:
                async for message in streamd.messages:
                    got.append(f"{message.topic.value} {message.payload!r}")

            reader = asyncio.create_task(collect())
            async with client(port, "room-01", room1_password) as room1:
                await room1.subscribe(f"{base}/room-02/#", qos=1)  # eavesdrop: refused
                await room1.publish(f"{base}/room-01/telemetry", b"own", qos=1)
                await room1.publish(f"{base}/room-02/state", b"forged", qos=1, retain=True)
                await room1.publish(f"{base}/room-02/ack", b"forged", qos=1)
                await room1.publish("court/other/room/room-01/events", b"elsewhere", qos=1)
                await streamd.publish(f"{base}/room-02/cmd", b"for room 2", qos=1)
                await streamd.publish(f"{base}/room-01/cmd", b"for room 1", qos=1)
                await asyncio.sleep(1.0)
                heard: list[str] = []
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        async for message in room1.messages:
                            heard.append(message.topic.value)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    assert f"{base}/room-01/telemetry b'own'" in got
    assert not [g for g in got if "forged" in g or "elsewhere" in g], got
    assert heard == [], heard  # room-01 heard nothing of room-02's commands


async def _heard(c: aiomqtt.Client, seconds: float = 0.7) -> list[str]:
    got: list[str] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for message in c.messages:
                got.append(f"{message.topic.value} {message.payload!r}")
    return got


async def test_replicas_share_telemetry_and_only_streamd_writes_their_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under the generated ACL: streamd's shared subscription gets the rooms' beats, its
    digest topic carries what a replica sends, and an agent cannot forge a digest."""
    monkeypatch.setenv("STREAMD_COMMAND_SECRET", SECRET)
    monkeypatch.setenv("STREAMD_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "broker"
    assert main(["mqtt-acl", "--out", str(out)]) == 0
    capsys.readouterr()
    code = court.read_structure(sample.court_dir()).court.code
    password = mqtt_password(SECRET, STREAMD_USER)
    async with (
        secured_broker(out) as port,
        client(port, STREAMD_USER, password) as share,
        client(port, STREAMD_USER, password) as leader,
    ):
        await share.subscribe(f"$share/streamd/{Topics.every_room(code, Leaf.TELEMETRY)}", qos=0)
        await leader.subscribe(DIGEST_FILTER, qos=0)
        async with client(port, "room-01", mqtt_password(SECRET, "room-01")) as room1:
            await room1.publish(Topics(code, "room-01").telemetry, b"beat", qos=1)
            await room1.publish(digest_topic("forged"), b"forged", qos=1)
        await share.publish(digest_topic("b"), b"digest", qos=1)
        beats, digests = await asyncio.gather(_heard(share), _heard(leader))
    assert beats == [f"court/{code}/room/room-01/telemetry b'beat'"], beats
    assert digests == ["streamd/replica/b/telemetry b'digest'"], digests
