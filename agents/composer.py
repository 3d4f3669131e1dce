"""The agent's picture director: reads the channels' levels, asks the picker who goes in
the large tile, and moves the tiles inside the running recorder and publisher.

Commands go over each ffmpeg's zmq filter (a DEALER socket, so a whole switch arrives in
one frame). A process that restarted comes up in the room's default placement; the
director sends the full placement again every `REFRESH` seconds, and at once on a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import zmq
import zmq.asyncio

from agents import compose, levels
from agents.config import AgentConfig
from agents.layouts import Tile
from agents.switcher import Picker, commands

log = logging.getLogger(__name__)
TICK = 0.1
REFRESH = 1.0
REPLY_TIMEOUT = 1.0
OnSwitch = Callable[[str | None, str], Awaitable[None]]


class Control:
    """One ffmpeg's zmq filter. Messages wait for no one: a process not running drops them."""

    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str) -> None:
        self.ctx = ctx
        self.endpoint = endpoint
        self._sock: zmq.asyncio.Socket | None = None

    def _socket(self) -> zmq.asyncio.Socket:
        if self._sock is None:
            sock = self.ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.IMMEDIATE, 1)  # queue only to a connected ffmpeg
            sock.connect(self.endpoint)
            self._sock = sock
        return self._sock

    async def send(self, lines: list[str]) -> bool:
        """Send every command, then wait for every reply; False if ffmpeg did not answer."""
        if not lines:
            return True
        sock = self._socket()
        sent = 0
        try:
            for line in lines:
                await sock.send_multipart([b"", line.encode()], flags=zmq.NOBLOCK)
                sent += 1
            for _ in lines:
                await asyncio.wait_for(sock.recv_multipart(), REPLY_TIMEOUT)
        except zmq.Again:
            # Not connected (yet): the socket stays, its connection completes in the
            # background; replies to what did go out are read and dropped.
            for _ in range(sent):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sock.recv_multipart(), REPLY_TIMEOUT)
            return False
        except TimeoutError:
            self.close()  # replies of a dead run must not be taken for the next one's
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None


class Director:
    def __init__(self, cfg: AgentConfig, on_switch: OnSwitch) -> None:
        spec = cfg.agent
        self.cfg = cfg
        self.comp = spec.composition
        self.layout = self.comp.layout
        channel_view = {c.name: c.view for c in spec.channels if c.view is not None}
        self.picker = Picker(channel_view, hold=self.comp.hold_seconds)
        self.reader = levels.Reader(level_folder(cfg), [c.name for c in spec.channels])
        self._ctx = zmq.asyncio.Context()
        self.controls = {
            p: Control(self._ctx, compose.control(cfg.data_dir, p)) for p in ("record", "live")
        }
        self.card = compose.card_size(self.comp)
        self._placed: dict[str, dict[str, Tile] | None] = {p: None for p in self.controls}
        self._refreshed = 0.0
        self._on_switch = on_switch
        self._task: asyncio.Task[None] | None = None
        self.switched_at: float | None = None

    def placement(self) -> dict[str, Tile]:
        return compose.placement(self.cfg.agent.views, self.comp, self.layout, self.picker.big)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="director")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for c in self.controls.values():
            c.close()
        self._ctx.term()

    def problem(self, pin: str | None, layout: str | None) -> str | None:
        """Why a compose command cannot be done here, naming the field; None: it can."""
        if pin is not None and pin not in {v.name for v in self.cfg.agent.views}:
            return f"pin: no view named {pin!r} in {self.cfg.room.code}"
        if layout is not None and layout not in self.comp.layouts:
            return f"layout: no layout named {layout!r} in {self.cfg.room.code}"
        return None

    def restore(self, pin: str | None, layout: str | None) -> None:
        """The journal's composition, before any process starts."""
        self.picker.pin(pin)
        self.layout = layout or self.comp.layout

    async def compose(self, pin: str | None, layout: str | None) -> None:
        """Pin a view (None: follow the voice) and, if given, change the layout."""
        self.restore(pin, layout or self.layout)
        await self._apply("pinned" if pin else ("layout" if layout else "automatic"))

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            try:
                before = self.picker.big
                self.picker.update(time.monotonic(), self.reader.read())
                if self.picker.big != before:
                    await self._apply("speaker")
                elif time.monotonic() - self._refreshed >= REFRESH:
                    self._refreshed = time.monotonic()
                    self._placed = dict.fromkeys(self.controls)
                    await self._send()
            except Exception:  # the picture must go on whatever the director trips on
                log.exception("director tick failed")

    async def _apply(self, why: str) -> None:
        await self._send()
        self.switched_at = time.monotonic()
        await self._on_switch(self.picker.big, why)

    async def _send(self) -> None:
        new = self.placement()
        for name, control in self.controls.items():
            if await control.send(commands(self._placed[name], new, self.card)):
                self._placed[name] = new
            else:
                self._placed[name] = None


def level_folder(cfg: AgentConfig) -> Path:
    return cfg.data_dir / "levels"
