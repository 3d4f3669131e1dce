"""The public side: the courtroom live, or the slate during a pause, or nothing.

Live and slate are separate ffmpeg processes; switching stops one before starting the
other, so courtroom picture and sound stop reaching the line first: on a pause the live
process is killed outright, the fastest way to stop it sending. The recording is another
process entirely and never notices. The price is one reconnect to the line per switch,
which platforms accept; a single always-encoding switcher would avoid it but could never
copy the camera's stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

from agents import pipelines
from agents.config import AgentConfig
from agents.process import Exit, Progress, Supervised
from agents.push import classify
from streamd_protocol import EventKind, Mask, ProcessStats, PublishTarget

log = logging.getLogger(__name__)
Emit = Callable[..., Awaitable[None]]
Mode = Literal["off", "live", "slate"]
SWITCH_GRACE = 0.5


class Publisher:
    def __init__(
        self,
        cfg: AgentConfig,
        work: Path,
        slate_image: Path,
        emit: Emit,
        next_run: Callable[[], int],
    ) -> None:
        self.cfg = cfg
        self.work = work
        self.slate_image = slate_image
        self._emit = emit
        self._next_run = next_run
        self.mode: Mode = "off"
        self.hearing_id: int | None = None
        self._proc: Supervised | None = None
        self._down_since: float | None = None
        self._target: PublishTarget | None = None

    def stats(self) -> ProcessStats:
        return self._proc.stats() if self._proc is not None else ProcessStats()

    async def live(self, hearing_id: int, target: PublishTarget, mask: Mask) -> None:
        await self._switch(
            "live",
            hearing_id,
            target,
            lambda run: pipelines.live(self.cfg, target, mask, self.work, run),
        )
        await self._emit(
            EventKind.LIVE,
            "courtroom live",
            hearing_id=hearing_id,
            target=target.kind,
            masked_regions=len(mask.regions),
            masked_voice=mask.voice,
        )

    async def slate(self, hearing_id: int, target: PublishTarget, reason: str) -> float:
        """Show the slate; returns seconds from the call until the slate process ran."""
        t0 = time.monotonic()
        await self._switch(
            "slate",
            hearing_id,
            target,
            lambda run: pipelines.slate(self.cfg, target, self.slate_image, run),
        )
        took = time.monotonic() - t0
        await self._emit(
            EventKind.SLATE_SHOWN,
            f"slate shown: {reason}",
            hearing_id=hearing_id,
            reason=reason,
            switch_seconds=round(took, 3),
        )
        return took

    async def stop(self) -> None:
        if self._proc is None:
            return
        await self._proc.stop()
        self._proc = None
        hearing_id, self.mode, self.hearing_id = self.hearing_id, "off", None
        await self._emit(EventKind.PUBLISH_STOPPED, "publishing stopped", hearing_id=hearing_id)

    async def _switch(
        self,
        mode: Mode,
        hearing_id: int,
        target: PublishTarget,
        argv: Callable[[int], list[str]],
    ) -> None:
        if self._proc is not None:
            # Into the slate, the courtroom is cut at once (SIGKILL: an RTMP push just drops,
            # an HLS segment cut short never reaches the playlist). Out of it, no hurry.
            await self._proc.stop(grace=0 if mode == "slate" else SWITCH_GRACE)
        self.mode, self.hearing_id = mode, hearing_id
        self._target = target
        self._proc = Supervised(
            f"publisher-{mode}-{self.cfg.room.code}",
            lambda _run: argv(self._next_run()),
            stall_seconds=self.cfg.agent.stall_seconds,
            stop_timeout=self.cfg.agent.stop_timeout,
            on_start=self._on_start,
            on_exit=self._on_exit,
        )
        self._proc.start()
        try:
            await self._proc.wait_started()
        except Exception:
            self._proc, self.mode = None, "off"
            raise

    async def _on_start(self, run: int, progress: Progress) -> None:
        if self._down_since is None:
            return
        down, self._down_since = self._down_since, None
        seconds = round(time.time() - down, 3)
        await self._emit(
            EventKind.GAP,
            f"public stream gap of {seconds:.1f} s ({self.mode})",
            hearing_id=self.hearing_id,
            process="publisher",
            mode=self.mode,
            seconds=seconds,
        )

    async def _on_exit(self, exit_: Exit) -> None:
        if exit_.reason == "stopped":
            return
        self._down_since = exit_.ended
        url = self._target.url if self._target is not None else None
        # `push`: the platform refused the key, or its server could not be reached; streamd
        # raises its own alert for each (the recording is another process and goes on).
        push = classify(exit_.stderr, target_url=url)
        await self._emit(
            EventKind.PROCESS_EXITED,
            f"publisher ffmpeg {exit_.reason} (code {exit_.returncode}); restarting",
            hearing_id=self.hearing_id,
            process="publisher",
            mode=self.mode,
            code=exit_.returncode,
            stderr=scrubbed_tail(exit_.stderr, self._target),
            push=push,
        )


STDERR_TAIL = 500  # characters of ffmpeg's stderr an event carries


def scrubbed_tail(text: str, target: PublishTarget | None, limit: int = STDERR_TAIL) -> str:
    """The end of ffmpeg's stderr with the stream key hidden. Scrubbed whole, then cut: cut
    first, a key straddling the cut survives in part, no longer matches, and is sent."""
    return _scrub(text, target)[-limit:]


def _scrub(text: str, target: PublishTarget | None) -> str:
    """The stream key is a secret: ffmpeg names the output URL it failed to open."""
    if target is None or target.url is None:
        return text
    key = target.url.rstrip("/").rsplit("/", 1)[-1]
    return text.replace(key, "****") if len(key) >= 4 else text
