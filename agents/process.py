"""One ffmpeg kept alive: restarted with backoff, watched through its progress output.

ffmpeg writes `-progress` key=value blocks every half second. No block for
`stall_seconds` means a stalled process (a camera that stopped sending, a hung network
write), which is killed and restarted like a crashed one. Stopping asks ffmpeg to quit
(`q` on stdin) so it closes the segment it is writing; SIGTERM and then SIGKILL follow
only after a timeout. Children get SIGTERM if the agent itself dies (PR_SET_PDEATHSIG),
so a killed agent never leaves an orphan writing into a folder nobody watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from streamd_protocol import ProcessState, ProcessStats

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True, slots=True)
class Exit:
    """How one run of the process ended."""

    run: int
    started: float  # wall clock
    ended: float
    returncode: int | None
    reason: str  # "stopped", "exited", "stalled", "restarted"
    stderr: str


@dataclass(slots=True)
class Progress:
    frames: int | None = None
    fps: float | None = None
    bitrate_kbps: float | None = None
    speed: float | None = None
    out_time: float | None = None
    at: float = 0.0  # monotonic time of the last block
    anchor: float | None = None  # wall clock at out_time 0, the earliest seen
    blocks: int = 0
    _partial: dict[str, str] = field(default_factory=dict)

    def feed(self, line: str) -> bool:
        """Take one line; True when it completed a block."""
        key, _, value = line.partition("=")
        if key != "progress":
            self._partial[key] = value.strip()
            return False
        block, self._partial = self._partial, {}
        self.frames = _int(block.get("frame"))
        self.fps = _float(block.get("fps"))
        self.bitrate_kbps = _float(block.get("bitrate", "").removesuffix("kbits/s"))
        self.speed = _float(block.get("speed", "").removesuffix("x"))
        us = _int(block.get("out_time_us"))
        self.out_time = us / 1e6 if us is not None and us >= 0 else None
        self.at = time.monotonic()
        self.blocks += 1
        if self.out_time is not None and self.out_time > 0:
            # A block is read after its media was written, never before: the smallest
            # (wall - media time) seen is the closest estimate of when media time 0 was.
            anchor = time.time() - self.out_time
            self.anchor = anchor if self.anchor is None else min(self.anchor, anchor)
        return True


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v not in (None, "", "N/A") else None
    except ValueError:
        return None


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "", "N/A") else None
    except ValueError:
        return None


ArgvFor = Callable[[int], list[str]]
OnStart = Callable[[int, Progress], Awaitable[None]]
OnExit = Callable[[Exit], Awaitable[None]]


class Supervised:
    """Runs `argv_for(run)` until stopped; `run` counts up from `first_run` per restart."""

    def __init__(
        self,
        name: str,
        argv_for: ArgvFor,
        *,
        first_run: int = 0,
        stall_seconds: float = 3.0,
        stop_timeout: float = 5.0,
        on_start: OnStart | None = None,
        on_exit: OnExit | None = None,
        backoff: tuple[float, float] = (0.25, 8.0),
    ) -> None:
        self.name = name
        self._argv_for = argv_for
        self.run = first_run
        self._stall = stall_seconds
        self._stop_timeout = stop_timeout
        self._on_start = on_start
        self._on_exit = on_exit
        self._backoff = backoff
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._kill_reason: str | None = None
        self.state = ProcessState.IDLE
        self.progress = Progress()
        self.restarts = 0
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self.started = asyncio.Event()

    def stats(self) -> ProcessStats:
        p = self.progress
        return ProcessStats(
            state=self.state,
            fps=p.fps,
            bitrate_kbps=p.bitrate_kbps,
            speed=p.speed,
            frames=p.frames,
            restarts=self.restarts,
        )

    def start(self) -> None:
        if self._task is None:
            self.state = ProcessState.STARTING
            self._task = asyncio.create_task(self._loop(), name=f"ffmpeg-{self.name}")

    async def wait_started(self) -> None:
        """Until the first run is up; raises what killed the loop if it never came up."""
        assert self._task is not None
        started = asyncio.create_task(self.started.wait())
        await asyncio.wait({started, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            started.cancel()
            self._task.result()  # raises the loop's exception
            raise RuntimeError(f"{self.name} ended before it started")

    async def restart(self, reason: str) -> None:
        """Kill the current run (a watchdog found it useless); the loop starts the next."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            self._kill_reason = reason
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    async def stop(self, *, grace: float | None = None) -> None:
        """Quit gracefully (the last segment stays playable), escalating after a timeout."""
        self._stopping = True
        self.state = ProcessState.STOPPING
        proc = self._proc
        if proc is not None and proc.returncode is None:
            await self._quit(proc, self._stop_timeout if grace is None else grace)
        if self._task is not None:
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception:  # a loop that died (ffmpeg missing) has nothing left to stop
                log.exception("%s had already failed", self.name)
        self._task = None
        self.state = ProcessState.IDLE

    async def _quit(self, proc: asyncio.subprocess.Process, grace: float) -> None:
        if grace <= 0:  # no grace: the output must stop now, whatever it leaves half-written
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            return
        steps: list[Callable[[], None]] = [proc.terminate, proc.kill]
        if proc.stdin is not None and not proc.stdin.is_closing():
            with contextlib.suppress(BrokenPipeError, ConnectionResetError, RuntimeError):
                proc.stdin.write(b"q")
                await proc.stdin.drain()
        for escalate in [*steps, None]:
            try:
                await asyncio.wait_for(proc.wait(), grace)
                return
            except TimeoutError:
                if escalate is None:
                    raise
                log.warning("%s: no exit after %.1f s; escalating", self.name, grace)
                with contextlib.suppress(ProcessLookupError):
                    escalate()

    async def _loop(self) -> None:
        delay = self._backoff[0]
        while not self._stopping:
            argv = self._argv_for(self.run)
            started = time.time()
            self.progress = Progress(at=time.monotonic())
            self._kill_reason = None
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                preexec_fn=_die_with_parent,
            )
            self._proc = proc
            self.state = ProcessState.RUNNING
            readers = [
                asyncio.create_task(self._read_progress(proc)),
                asyncio.create_task(self._read_stderr(proc)),
            ]
            watchdog = asyncio.create_task(self._watch(proc))
            if self._on_start is not None:
                await self._on_start(self.run, self.progress)
            self.started.set()
            code = await proc.wait()
            watchdog.cancel()
            for t in readers:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            ended = time.time()
            reason = "stopped" if self._stopping else (self._kill_reason or "exited")
            exit_ = Exit(self.run, started, ended, code, reason, "\n".join(self.stderr_tail))
            self.started.clear()
            if self._on_exit is not None:
                await self._on_exit(exit_)
            if self._stopping:
                break
            log.warning("%s run %d ended (%s, code %s)", self.name, self.run, reason, code)
            self.restarts += 1
            self.run += 1
            self.state = ProcessState.RESTARTING
            # A run that lasted a while earns a fast restart; a crash loop backs off.
            if ended - started > 30:
                delay = self._backoff[0]
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    async def _read_progress(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            self.progress.feed(raw.decode(errors="replace").strip())

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            if line:
                self.stderr_tail.append(line)

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        while proc.returncode is None:
            await asyncio.sleep(min(0.5, self._stall / 3))
            # ffmpeg may take a moment to open its input; the first block gets extra time.
            limit = self._stall if self.progress.blocks else self._stall + 5
            if time.monotonic() - self.progress.at > limit and not self._stopping:
                log.warning("%s: no progress for %.1f s; restarting", self.name, limit)
                await self.restart("stalled")
                return
