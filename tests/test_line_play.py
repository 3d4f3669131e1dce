"""A line's play address: what `court load` accepts, what the monitor opens, and the
migration that keeps already-loaded lines watched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from streamd import court, sample
from streamd.cli import main
from streamd.play import LinePlay, PlayUrlError, play_kind
from streamd.store import Database, upgrade

LINE = """
[[lines]]
code = "L9"
name = "测试线路"
push_url = "rtmp://ingest.example/live"
"""


def _court(tmp_path: Path, line: str) -> Path:
    folder = tmp_path / "court"
    shutil.copytree(sample.court_dir(), folder)
    path = folder / court.COURT_FILE
    path.write_text(path.read_text(encoding="utf-8") + LINE + line, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("line", "field", "why"),
    [
        ('stream_key = "k9"\nplay_url = "ftp://cdn.example/l9.m3u8"\n', "play_url", "scheme"),
        ('stream_key = "k9"\nplay_url = "https://cdn.example/l9.mp4"\n', "play_url", ".m3u8"),
        ('stream_key = "k9"\n', "play_url", "missing"),
        ('stream_key = "k 9"\nplay_url = "https://cdn.example/l9.m3u8"\n', "stream_key", ""),
    ],
)
def test_court_load_refuses_a_bad_line_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, field: str, why: str
) -> None:
    folder = _court(tmp_path, line)
    with pytest.raises(court.CourtConfigError) as info:
        court.read_structure(folder)
    assert f"lines.4.{field}" in str(info.value) and why in str(info.value), info.value
    # The command exits 2 with the same message and writes nothing.
    assert main(["--data-dir", str(tmp_path), "court", "load", str(folder)]) == 2
    assert f"lines.4.{field}" in capsys.readouterr().err
    assert _lines(tmp_path) == []


def _lines(tmp_path: Path) -> list[str]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'streamd.db'}")
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.text("SELECT code FROM line"))]
    except sa.exc.OperationalError:
        return []
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("line", "play"),
    [
        ('stream_key = "k9"\nplay_url = "https://cdn.example/live/l9.m3u8"\n', "hls"),
        ('stream_key = "k9"\nplay_url = "http://cdn.example/live/l9.flv?t=1"\n', "flv"),
        ('stream_key = "k9"\nplay_url = "rtmp://cdn.example/live/l9"\n', "rtmp"),
        ('stream_key = "k9"\nsame_server = true\n', None),
    ],
)
def test_court_load_takes_each_kind_of_play_address(
    tmp_path: Path, line: str, play: str | None
) -> None:
    spec = court.read_structure(_court(tmp_path, line)).lines[-1]
    assert (play_kind(spec.play_url) if spec.play_url else None) == play


def test_the_monitor_reads_the_play_address_not_the_push_address() -> None:
    template = "/agents/{room}/hls/index.m3u8"
    platform = LinePlay("rtmp://in.example/live", "secret-key", "https://cdn/l1.m3u8", False)
    assert platform.monitored("room-01", template) == "https://cdn/l1.m3u8"
    assert platform.public("room-01") == ("hls", "https://cdn/l1.m3u8")
    same = LinePlay("rtmp://in.example/live/", "secret-key", None, True)
    assert same.monitored("room-01", template) == "rtmp://in.example/live/secret-key"
    assert same.public("room-01") is None  # the push address carries the key: never public
    local = LinePlay("hls", "k", None, False)
    assert local.monitored("room-01", template) == "/agents/room-01/hls/index.m3u8"
    assert local.public("room-01") == ("hls", "/hls/room-01/index.m3u8")
    assert LinePlay("rtmp://in.example/live", "k", None, False).monitored("r", template) is None


def test_the_monitor_reads_hls_as_a_playlist_and_anything_else_as_a_stream() -> None:
    from streamd.play import is_hls

    assert is_hls("https://cdn.example/live/l1.m3u8?token=abc")
    assert is_hls("/srv/agents/room-01/hls/index.m3u8")
    assert not is_hls("https://cdn.example/live/l1.flv")  # HTTP-FLV: PyAV reads it
    assert not is_hls("rtmp://cdn.example/live/l1")


@given(st.text(max_size=40))
def test_a_play_url_is_refused_or_one_of_three_kinds(url: str) -> None:
    try:
        kind = play_kind(url)
    except PlayUrlError:
        return
    assert kind in ("hls", "flv", "rtmp")
    assert not any(c.isspace() for c in url)
    assert url.lower().startswith(("http://", "https://", "rtmp://", "rtmps://"))


@pytest.mark.db
def test_the_migration_keeps_lines_loaded_before_it_watched_where_they_were(
    tmp_path: Path,
) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(db.engine, "0007")
    with db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO court (id, code, name) VALUES (1, 'c', 'c')"))
        for code, url in (("L1", "rtmp://h/live"), ("L2", "hls")):
            conn.execute(
                sa.text(
                    "INSERT INTO line (court_id, code, name, push_url, stream_key, active) "
                    "VALUES (1, :c, :c, :u, 'k', :t)"
                ).bindparams(c=code, u=url, t=True)
            )
    upgrade(db.engine, "0010")
    with db.engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT code, same_server FROM line")).all())
    assert {k: bool(v) for k, v in rows.items()} == {"L1": True, "L2": False}
    db.dispose()


def test_nothing_at_the_play_address_while_the_room_pushes_is_the_platform_s_alert() -> None:
    from streamd.lifecycle import StreamState
    from streamd.monitor.alarms import Limits, active

    limits = Limits(stall_ms=5000)
    silent = active(StreamState.LIVE, 0, None, None, 6000, limits)
    assert set(silent) == {"no_frames"}, "the encoder's (or the network's) fault"
    dropped = active(StreamState.LIVE, 0, None, None, 6000, limits, pushing=True)
    assert set(dropped) == {"platform_not_playing"}
    assert "平台" in dropped["platform_not_playing"].zh
    assert "dropped or refused" in dropped["platform_not_playing"].en
    assert active(StreamState.LIVE, 0, None, None, 4000, limits, pushing=True) == {}


def test_the_push_failure_is_read_from_ffmpeg_s_last_words() -> None:
    from agents.push import classify

    url = "rtmp://127.0.0.1:1935/live/line-key"
    refused = (
        f"[out#0/flv @ 0x5] Error opening output {url}: Input/output error\n"
        f"Error opening output file {url}.\nError opening output files: Input/output error"
    )
    assert classify(refused, target_url=url) == "refused"
    down = "[tcp @ 0x5] Connection to tcp://127.0.0.1:1935 failed: Connection refused"
    assert classify(down + "\n" + refused, target_url=url) == "unreachable"
    assert classify("Broken pipe", target_url=url) is None
    assert classify(refused, target_url=None) is None  # the court's own HLS


def test_segments_without_a_date_time_are_placed_by_when_they_were_listed() -> None:
    import m3u8

    from streamd.monitor.probe import placed

    text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n" + "".join(
        f"#EXTINF:{d},\nk-{i}.ts\n" for i, d in enumerate((2.0, 1.5, 2.5))
    )
    got = [
        (s.uri, start, dur) for s, start, dur in placed(m3u8.loads(text).segments, now_ms=10_000)
    ]
    # the newest ends now; each earlier one ends where the next began
    assert got == [("k-0.ts", 4_000, 2_000), ("k-1.ts", 6_000, 1_500), ("k-2.ts", 7_500, 2_500)]
    dated = "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2026-12-02T06:00:00.000Z\n#EXTINF:2.0,\na.ts\n"
    ((_, start, _),) = placed(m3u8.loads(dated).segments, now_ms=10_000)
    assert start == 1_796_191_200_000  # its own date-time wins over the estimate
