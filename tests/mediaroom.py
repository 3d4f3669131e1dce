"""A courtroom's public output made by the agent's own ffmpeg pipelines, driven by a test.

The monitor must judge what went out, so its tests need outputs that misbehave on cue: an
encoder that dies for 20 s, a slate that never comes, a black camera. `MediaRoom` runs
the real `agents.pipelines` commands (HLS, program date-time, the clock overlay, the
slate) and lets the test choose when each one runs.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agents import pipelines
from agents.config import AgentConfig, load
from streamd_protocol import Command, CommandKind, Mask, PublishTarget
from streamd_protocol.media import ffmpeg_exe
from streamd_protocol.slate import render
from tests.court_support import Court
from tests.mqtt_support import room_config

K = CommandKind

HLS = PublishTarget(kind="hls")


def clip(folder: Path, picture: str = "color=black", size: str = "320x180") -> Path:
    """Ten seconds of a lavfi picture with a tone. `color=black`: a camera with its lens cap
    on; `smptebars`: a camera whose picture froze (a still, but not black)."""
    path = folder / f"{picture.split('=')[0]}.ts"
    sep = ":" if "=" in picture else "="
    subprocess.run(
        [
            *(ffmpeg_exe(), "-v", "error", "-y"),
            *("-f", "lavfi", "-i", f"{picture}{sep}s={size}:r=25:d=10"),
            *("-f", "lavfi", "-i", "sine=frequency=300:duration=10"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path)),
        ],
        check=True,
    )
    return path


class MediaRoom:
    def __init__(
        self, folder: Path, *, size: str = "320x180", source: dict[str, Any] | None = None
    ):
        src = {"video_size": size, "fps": 25, "video_bitrate": "400k", **(source or {})}
        path, _ = room_config(folder, 1883, source=src, hls_dir=str(folder / "hls"))
        self.cfg: AgentConfig = load(path)
        self.work = folder / "work"
        self.slate_image = render(self.work, self.cfg.court_name, self.cfg.agent.source.size)
        self.playlist = self.cfg.hls_dir / pipelines.HLS_PLAYLIST
        self._proc: asyncio.subprocess.Process | None = None
        self._run = 0

    async def _start(self, argv: list[str]) -> None:
        await self.stop(kill=True)
        self._run += 1
        self._proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )

    async def live(self) -> None:
        await self._start(pipelines.live(self.cfg, HLS, Mask(), self.work, self._run + 1))

    async def slate(self) -> None:
        await self._start(pipelines.slate(self.cfg, HLS, self.slate_image, self._run + 1))

    async def stop(self, *, kill: bool = False) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGKILL if kill else signal.SIGINT)
        await proc.wait()


def media_for(court: Court, room: str = "room-01", **kw: Any) -> MediaRoom:
    folder = Path(court.settings.monitor_hls.format(room=room)).parent.parent
    return MediaRoom(folder, **kw)


def plays(
    media: MediaRoom, *, ignore: frozenset[CommandKind] = frozenset()
) -> Callable[[Command], Awaitable[None]]:
    """What a working agent does with its publisher; `ignore`: the faults to play."""

    async def on_command(cmd: Command) -> None:
        if cmd.kind in ignore:
            return
        if cmd.kind in (K.GO_LIVE, K.RESUME):
            await media.live()
        elif cmd.kind is K.PAUSE:
            await media.slate()
        elif cmd.kind in (K.END_STREAM, K.STOP):
            await media.stop()

    return on_command
