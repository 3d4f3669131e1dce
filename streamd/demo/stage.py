"""The demo's folder: a court configuration of three rooms, their agents' configs, settings.

Everything the demo writes lives under one data directory, marked as the demo's, so a rerun
can start a fresh day there without ever deleting a folder it did not make.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from streamd.config import Settings
from streamd.demo.day import LINES, ROOMS
from streamd.mqtt_acl import mqtt_password
from streamd.orchestrator import court_secret, room_key
from streamd.play import HLS_LINE
from streamd_protocol import COURT_FILE, Topics, ffmpeg_exe

MARKER = ".streamd-demo"
# Small pictures keep six live x264 encodes (a recorder and a publisher per room) inside
# two cores with room to spare for the monitor and streamd.
VIDEO_SIZE = "640x360"
RECORDING_SEGMENT_SECONDS = 4


class StageError(Exception):
    """The data directory cannot hold the demo; the message says why."""


@dataclass(frozen=True, slots=True)
class Stage:
    data_dir: Path

    @property
    def court_dir(self) -> Path:
        return self.data_dir / "court"

    @property
    def agents_dir(self) -> Path:
        return self.data_dir / "agents"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def room_config(self, room: str) -> Path:
        return self.court_dir / f"{room}.toml"

    def hls_playlist(self) -> str:
        return str(self.agents_dir / "{room}" / "hls" / "index.m3u8")


def claim(data_dir: Path) -> Stage:
    """An empty folder, or one an earlier demo made (its day is cleared); never another."""
    data_dir = data_dir.resolve()
    if data_dir.exists() and any(data_dir.iterdir()) and not (data_dir / MARKER).exists():
        raise StageError(
            f"{data_dir} is not empty and was not made by `streamd demo`; "
            "give an empty or new folder with --data-dir"
        )
    if (data_dir / MARKER).exists():
        for child in data_dir.iterdir():
            if child.name != MARKER:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("made by streamd demo; rerunning the demo clears it\n")
    stage = Stage(data_dir)
    stage.logs_dir.mkdir()
    for name in ("archive", "archive-backup"):  # the demo's own roots, fresh each run
        (data_dir / name).mkdir()
    return stage


def settings_for(base: Settings, stage: Stage, *, mqtt_url: str, speed: float) -> Settings:
    """The demo's own settings: SQLite and the embedded broker whatever the environment
    says, and a court whose minutes are seconds (no pre-roll, recording at the start, an
    overrun or a late start assumed to go on five court minutes at a time)."""
    return base.model_copy(
        update={
            "data_dir": stage.data_dir,
            "database_url": None,
            "mqtt_url": mqtt_url,
            "mqtt_share_telemetry": False,  # amqtt has no $share
            "court_config_dir": stage.court_dir,
            "monitor_hls": stage.hls_playlist(),
            "prepare_minutes": 0,
            "line_preroll_minutes": 0,
            "line_postroll_minutes": 0,
            "scheduler_seconds": 0.5,
            "repair_step_seconds": max(1.0, 5 * 60 / speed),
            "command_secret": None,
            # The archive (streamd.archive): DIR/archive and DIR/archive-backup by default.
            "archive_dir": base.archive_dir or stage.data_dir / "archive",
            "archive_backup_dir": base.archive_backup_dir or stage.data_dir / "archive-backup",
        }
    )


# Each demo room is a courtroom host: its seats as small generated views (each its own
# test pattern) and microphones (each its own tone, sounding in turns so the large tile
# follows the speaker), composed on a small canvas so two cores carry three rooms.
_SEATS = {
    "bench": ("审判席", "testsrc2", 300),
    "plaintiff": ("原告席", "smptebars", 700),
    "defendant": ("被告席", "rgbtestsrc", 1100),
    "witness": ("证人席", "pal75bars", 1500),
    "gallery": ("旁听席", "testsrc", 0),
    "evidence": ("证物展台", "mandelbrot", 0),
}
ROOM_SEATS = {
    "room-01": (
        ["bench", "plaintiff", "defendant", "witness"],
        "2x2",
        ["bench", "plaintiff", "defendant"],
    ),
    "room-03": (["bench", "plaintiff", "defendant"], "1+5", ["bench", "defendant"]),
    "room-04": (list(_SEATS), "1+5", ["bench", "plaintiff", "defendant", "witness"]),
}
VIEW_SIZE = "160x90"
# room-04's evidence presenter (证物展台) is a camera that gives this many seconds of
# picture and then nothing, in every hearing there: its tile shows the signal-lost card,
# the technicians get an alert naming it, its track a gap; the rest records on.
LOST_ROOM, LOST_VIEW, LOST_AFTER_SECONDS = "room-04", "evidence", 6
TURN_SECONDS = 6.0  # each microphone speaks for this long in turn


def room_views(room: str, failing_camera: Path | None = None) -> dict[str, Any]:
    """The `[agent]` keys that make `room` a multi-view courtroom host; `failing_camera`,
    if given, is the clip room-04's evidence presenter plays once."""
    seats, layout, mics = ROOM_SEATS.get(room, ROOM_SEATS["room-03"])
    views: list[dict[str, Any]] = [
        {"name": n, "label": _SEATS[n][0], "pattern": _SEATS[n][1], "video_size": VIEW_SIZE}
        for n in seats
    ]
    if failing_camera is not None and room == LOST_ROOM:
        for v in views:
            if v["name"] == LOST_VIEW:
                v.update(kind="file", url=str(failing_camera), loop=False)
    return {
        "views": views,
        "channels": [
            {
                "name": n,
                "label": _SEATS[n][0],
                "tone": _SEATS[n][2],
                "view": n,
                # Speaks in its turn of the first cycle only: after that the voice-led
                # picker holds the last speaker (a lavfi tone cannot repeat a window).
                "speaks": f"{i * TURN_SECONDS:g}-{i * TURN_SECONDS + TURN_SECONDS - 0.5:g}",
            }
            for i, n in enumerate(mics)
        ],
        "composition": {"size": VIDEO_SIZE, "fps": 15, "layout": layout, "hold_seconds": 2.0},
    }


def write_court(stage: Stage, sample_dir: Path, settings: Settings) -> None:
    """The sample court with three of its rooms and `LINES` lines that air each room's own
    HLS output (served by streamd), and one agent config per room pointing at the demo's
    broker with the room's command key."""
    sample = _toml(sample_dir / COURT_FILE)
    sample["lines"] = [
        {"code": f"L{i}", "name": f"演示线路{i}", "push_url": HLS_LINE, "stream_key": f"demo-{i}"}
        for i in range(1, LINES + 1)
    ]
    stage.court_dir.mkdir(parents=True)
    (stage.court_dir / COURT_FILE).write_bytes(tomli_w.dumps(sample).encode())
    secret = court_secret(settings)
    code = sample["court"]["code"]
    assert settings.mqtt_url is not None
    failing_camera = _failing_camera(stage.agents_dir / "evidence-camera.ts")
    for room in ROOMS:
        spec = _toml(sample_dir / f"{room}.toml")["room"]
        agent_dir = stage.agents_dir / room
        config = {
            "room": spec,
            "agent": {
                "data_dir": str(agent_dir),
                "segment_seconds": RECORDING_SEGMENT_SECONDS,
                "command_secret": room_key(secret, Topics(code, room)),
                # Its own login, as production's ACL has it (streamd.broker.court_accounts).
                "broker": {
                    "url": _without_login(settings.mqtt_url),
                    "username": room,
                    "password": mqtt_password(secret, room),
                },
                "source": {"kind": "lavfi", "video_size": VIDEO_SIZE, "fps": 25},
                "archive": {"url": f"http://{_reach(settings.host)}:{settings.port}"},
                **room_views(room, failing_camera),
            },
        }
        stage.room_config(room).write_bytes(tomli_w.dumps(config).encode())


def _failing_camera(out: Path) -> Path:
    """A short H.264 clip: the camera that stops after LOST_AFTER_SECONDS."""
    out.parent.mkdir(parents=True, exist_ok=True)
    w, h = VIEW_SIZE.split("x")
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi",
         "-i", f"mandelbrot=size={w}x{h}:rate=15", "-t", str(LOST_AFTER_SECONDS),
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "15", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


def _reach(host: str) -> str:
    """Where the agents reach streamd: a wildcard bind is reached on loopback."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _without_login(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def _toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StageError(f"{path}: {exc}") from None
