"""The shared MQTT payloads: what an agent accepts, and the precise reason it refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamd_protocol import (
    CommandKind,
    ErrorCode,
    GoLive,
    Leaf,
    Pause,
    ProtocolError,
    Topics,
    parse_command,
    parse_topic,
    parse_transcript,
    sign,
    signed,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECRET = "room-secret"


def command(kind: str = "pause", **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "v": 1,
        "id": "c-1",
        "kind": kind,
        "room": "room-01",
        "hearing_id": 42,
        "issued_at": NOW.isoformat(),
        "expires_at": (NOW + timedelta(seconds=30)).isoformat(),
    }
    if kind == "pause":
        data["reason"] = "证人情绪失控"
    if kind == "go_live":
        data["target"] = {"kind": "rtmp", "url": "rtmp://platform/live/key"}
    data.update(over)
    return data


def raw(data: dict[str, Any], secret: str | None = SECRET) -> bytes:
    if secret is not None:
        data = {**data, "sig": sign(data, secret)}
    return json.dumps(data, ensure_ascii=False).encode()


def refused(payload: bytes | str, secret: str | None = SECRET) -> ProtocolError:
    with pytest.raises(ProtocolError) as err:
        parse_command(payload, now=NOW, secret=secret)
    return err.value


def test_every_command_kind_parses_and_round_trips_signed() -> None:
    for kind in CommandKind:
        data = command(kind.value)
        if kind is CommandKind.SHUTDOWN:
            del data["hearing_id"]
        cmd = parse_command(raw(data), now=NOW, secret=SECRET)
        assert cmd.kind is kind and cmd.id == "c-1"
        again = parse_command(signed(cmd, SECRET), now=NOW, secret=SECRET)
        assert again.model_copy(update={"sig": None}) == cmd.model_copy(update={"sig": None})


def test_refusals_say_what_is_wrong_and_keep_the_id_when_readable() -> None:
    assert refused(b"{nope").code is ErrorCode.MALFORMED
    assert refused(b"[1, 2]").code is ErrorCode.MALFORMED
    err = refused(raw(command(v=2)))
    assert err.code is ErrorCode.UNSUPPORTED_VERSION and err.command_id == "c-1"
    err = refused(raw(command(), secret=None))
    assert err.code is ErrorCode.UNAUTHORISED and "sig" in err.message
    err = refused(raw(command(), secret="another room's secret"))
    assert err.code is ErrorCode.UNAUTHORISED
    tampered = json.loads(raw(command()))
    tampered["hearing_id"] = 43
    assert refused(json.dumps(tampered)).code is ErrorCode.UNAUTHORISED
    err = refused(raw(command(reason="")))
    assert err.code is ErrorCode.MALFORMED and err.message.startswith("reason:")
    err = refused(raw(command("go_live", target={"kind": "rtmp"})))
    assert err.code is ErrorCode.MALFORMED and "url" in err.message
    err = refused(raw(command(kind="explode")))
    assert err.code is ErrorCode.MALFORMED and "explode" in err.message
    stale = command(
        expires_at=(NOW - timedelta(seconds=1)).isoformat(),
        issued_at=(NOW - timedelta(seconds=31)).isoformat(),
    )
    err = refused(raw(stale))
    assert err.code is ErrorCode.EXPIRED and err.command_id == "c-1"
    naive = command(issued_at="2026-11-23T09:00:00")
    assert refused(raw(naive)).code is ErrorCode.MALFORMED


def test_without_a_room_secret_unsigned_commands_are_accepted() -> None:
    cmd = parse_command(raw(command(), secret=None), now=NOW, secret=None)
    assert isinstance(cmd, Pause) and cmd.reason == "证人情绪失控"


def test_masks_and_regions_are_checked() -> None:
    region = {"x": 0.5, "y": 0.5, "w": 0.6, "h": 0.1}
    err = refused(raw(command("go_live", mask={"regions": [region]})))
    assert err.code is ErrorCode.MALFORMED and "inside the picture" in err.message
    ok = command("go_live", target={"kind": "hls"}, mask={"voice": True})
    cmd = parse_command(raw(ok), now=NOW, secret=SECRET)
    assert isinstance(cmd, GoLive) and cmd.mask.voice and cmd.target.url is None


@given(reason=st.text(min_size=1, max_size=500), hearing=st.integers(1, 2**31))
def test_any_signed_pause_survives_the_wire(reason: str, hearing: int) -> None:
    data = command(reason=reason, hearing_id=hearing)
    cmd = parse_command(raw(data), now=NOW, secret=SECRET)
    assert isinstance(cmd, Pause) and cmd.reason == reason and cmd.hearing_id == hearing


def test_topics_and_transcript_lines() -> None:
    t = Topics("粤0111", "room-01")
    assert t.cmd == "court/粤0111/room/room-01/cmd"
    assert parse_topic(t.telemetry) == (t, Leaf.TELEMETRY)
    assert parse_topic("court/x/room/y/unknown") is None
    assert parse_topic("court/x/room/y") is None
    assert Topics.every_room("x", Leaf.STATE) == "court/x/room/+/state"
    with pytest.raises(ValueError, match="topic level"):
        Topics("a/b", "room")
    line = parse_transcript('{"v":1,"hearing_id":3,"seq":0,"speaker":"审判长","text":"开庭"}')
    assert line.text == "开庭"
    with pytest.raises(ProtocolError, match="text"):
        parse_transcript('{"v":1,"hearing_id":3,"seq":0,"speaker":"审判长","text":""}')
