"""Ships every closed recording file from the courtroom PC to streamd's archive.

Runs beside the recorder and never in its way: it reads what the recorder has listed
(agents/spool.py) and PUTs it over HTTP (streamd/web/archive_api.py), signed with the
room's command key. A file counts as shipped only once the archive answers with the same
SHA-256; that fact is appended (fsynced) to `shipping/shipped.jsonl` before the next file.
Until then, and whenever streamd or the network is down, files simply stay in the spool:
retries back off with jitter, capped low (a courtroom PC that dies should lose no more
than the segment being written plus this delay).

A refused file (409: the archive holds other content under that path; 4xx: a bad claim)
is never dropped from the spool: it is logged, reported in `stats()` and retried later.
Nothing here deletes a recording unless `[agent.archive] keep_days` says so, and then
only a session whose every file the archive confirmed, that many days later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import ValidationError

from agents import spool
from agents.config import AgentConfig
from agents.spool import Item
from streamd_protocol import Claim, authorization
from streamd_protocol import manifest as mf

log = logging.getLogger(__name__)
LOG_NAME = "shipped.jsonl"
REFUSED_RETRY_SECONDS = 60.0  # a refused file is retried, not forgotten
# Answers that say streamd itself (or the path to it) is down, not that this file is bad:
# such an item is retried as soon as the global backoff allows, so recovery stays fast.
SERVER_DOWN = frozenset({502, 503, 504, 507})


@dataclass(slots=True)
class ShipStats:
    shipped: int = 0  # files the archive confirmed (this process and earlier ones)
    pending: int = 0
    refused: int = 0
    oldest_pending_at: float | None = None  # epoch seconds the oldest pending file was seen
    last_error: str | None = None
    last_shipped_at: float | None = None


class Shipper:
    def __init__(self, cfg: AgentConfig, current_session: Callable[[], str | None]) -> None:
        self.cfg = cfg
        self.spec = cfg.agent.archive
        self._current = current_session
        self.folder = cfg.data_dir / "shipping"
        self.recordings = cfg.data_dir / "recordings"
        self._wake = asyncio.Event()
        self._shipped: set[str] = set()
        self._done: dict[str, float] = {}  # session key → when its last file was confirmed
        self._refused: dict[str, float] = {}  # key → monotonic time to retry (refused)
        self._held: dict[str, float] = {}  # key → monotonic time to retry (failed)
        self._twice: dict[str, str] = {}  # key → SHA-256 the archive holds in both roots
        self._failures: dict[str, int] = {}  # key → consecutive failures (per-item backoff)
        self._first_seen: dict[str, float] = {}
        self._last_live = False
        self._item_cap = self.spec.retry_cap_seconds
        self.stats = ShipStats()
        self._load()

    # -- the shipping log ----------------------------------------------------------------

    def _load(self) -> None:
        path = self.folder / LOG_NAME
        if not path.exists():
            return
        for line in path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                rec = json.loads(line)
                if "done" in rec:
                    self._done[rec["done"]] = float(rec["at"])
                else:
                    self._shipped.add(rec["key"])
                    if rec.get("backed_up") is True and isinstance(rec.get("sha256"), str):
                        self._twice[rec["key"]] = rec["sha256"]
        self.stats.shipped = len(self._shipped)

    def _append(self, record: dict[str, Any]) -> None:
        """Append and fsync: a confirmation is remembered before the next file is sent."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / LOG_NAME).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    # -- what to ship --------------------------------------------------------------------

    def scan(self) -> tuple[list[Item], list[Item]]:
        """(backlog, live): pending files of finished sessions (oldest first) and of the
        session being recorded now."""
        current = self._current()
        live_dir = Path(current).resolve() if current else None
        backlog: list[Item] = []
        live: list[Item] = []
        for folder in sorted(self.recordings.glob("*/*"), key=lambda p: (p.name, p.parent.name)):
            key = f"{folder.parent.name}/{folder.name}"
            if key in self._done:
                continue
            try:
                manifest = mf.load(folder)
                is_live = live_dir is not None and folder.resolve() == live_dir
                final = manifest.closed_at is not None and not is_live
                extra = (
                    [f"runs/{p.name}" for p in sorted((folder / "runs").glob("*.csv"))]
                    + [f"set_aside/{p.name}" for p in sorted((folder / "set_aside").glob("*"))]
                    if final
                    else []
                )
            except (FileNotFoundError, NotADirectoryError, ValidationError, ValueError):
                continue  # not started yet, or not a session folder
            except OSError as exc:  # one unreadable folder (EIO, EACCES) must not stop the rest
                self.stats.last_error = f"{key}: {exc}"
                log.warning("archive: cannot read %s: %s", folder, exc)
                continue
            todo = spool.pending(spool.items(manifest, final=final, extra=extra), self._shipped)
            if final and not todo:
                self._finish(key)
                continue
            (live if is_live else backlog).extend(todo)
        now = time.monotonic()
        held = {k for k, t in self._held.items() if t > now}
        waiting = [i for i in backlog + live if self._refused.get(i.key, 0.0) <= now]
        ready = spool.in_order(waiting, held)
        keys = {i.key for i in backlog + live}
        for k in keys - self._first_seen.keys():
            self._first_seen[k] = time.time()
        for k in self._first_seen.keys() - keys:
            del self._first_seen[k]
        self.stats.pending = len(keys)
        self.stats.refused = len(self._refused) + len(self._held)
        self.stats.oldest_pending_at = min(self._first_seen.values(), default=None)
        ok = {i.key for i in ready}
        return [i for i in backlog if i.key in ok], [i for i in live if i.key in ok]

    def _finish(self, key: str) -> None:
        now = time.time()
        self._append({"done": key, "at": now})
        self._done[key] = now

    def _retire(self) -> None:
        """Only with keep_days, that long after a session was archived whole: remove each
        of its files the archive confirmed in both of its roots with the hash the file
        still has. A file the archive never confirmed twice, one that changed since, or one
        the shipper never listed stays; so does its folder (never an rmtree)."""
        if self.spec.keep_days is None:
            return
        limit = time.time() - timedelta(days=self.spec.keep_days).total_seconds()
        for key, at in list(self._done.items()):
            folder = self.recordings / key
            if at < limit and folder.is_dir():
                self._retire_session(key, folder, at)

    def _retire_session(self, key: str, folder: Path, at: float) -> None:
        found = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
        found.sort(key=lambda p: p.name == mf.MANIFEST)  # the manifest, naming them, last
        kept = 0
        for path in found:
            name = f"{key}/{path.relative_to(folder).as_posix()}"
            sha = self._twice.get(name)
            if sha is None or mf.sha256_file(path) != sha:
                kept += 1
                continue
            path.unlink()
        for d in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
            with contextlib.suppress(OSError):  # not empty: something stays, and so does it
                d.rmdir()
        with contextlib.suppress(OSError):
            folder.rmdir()
        log.info("retention: %s archived whole %s; %d file(s) kept", key, _iso(at), kept)

    # -- sending -------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        if self.spec.url is None or self.cfg.secret is None:
            log.warning("no [agent.archive] url or room key: recordings stay on this PC only")
            return
        timeout = aiohttp.ClientTimeout(total=self.spec.timeout_seconds, sock_connect=5)
        delay = 0.2
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                item = self._next()
                if item is None:
                    await asyncio.to_thread(self._retire)
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.spec.poll_seconds)
                    continue
                if await self._send(http, item):
                    delay = 0.2
                    continue
                self._back_off(item)
                cap = self.spec.retry_cap_seconds
                await asyncio.sleep(min(delay, cap) * random.uniform(0.5, 1.0))
                delay = min(delay * 2, cap)

    def _back_off(self, item: Item) -> None:
        """Set this one item aside for a while, so a file that keeps failing (an unknown
        hearing after a restore, a 500 on it) does not hold back the files behind it."""
        n = self._failures.get(item.key, 0) + 1
        self._failures[item.key] = n
        cap = self._item_cap
        delay = min(self.spec.retry_cap_seconds * 2 ** (n - 1), cap) * random.uniform(0.5, 1.0)
        self._held[item.key] = time.monotonic() + delay

    def _next(self) -> Item | None:
        try:
            backlog, live = self.scan()
        except OSError as exc:  # the data folder vanished or cannot be read: try again
            self.stats.last_error = f"scan: {exc}"
            return None
        item = spool.pick(backlog, live, last_was_live=self._last_live)
        if item is not None:
            self._last_live = bool(live) and item is live[0]
        return item

    async def _send(self, http: aiohttp.ClientSession, item: Item) -> bool:
        """True when the spool moved on (confirmed or set to retry later); False: back off
        (globally, and this item for longer when the failure looks like its own)."""
        self._item_cap = self.spec.retry_cap_seconds  # server-wide trouble: retry soon
        path = self.recordings / str(item.hearing_id) / item.session / item.path
        try:
            sha: str = (
                item.sha256
                if item.sha256 is not None
                else await asyncio.to_thread(mf.sha256_file, path)
            )
            size = path.stat().st_size
        except FileNotFoundError:
            if item.sha256 is None:  # a finished session's optional file (no transcript)
                self._confirm(item, None, False)
                return True
            self.stats.last_error = f"{item.key}: listed but missing on this PC"
            self._refused[item.key] = time.monotonic() + REFUSED_RETRY_SECONDS
            return True
        claim = Claim(self.cfg.room.code, item.hearing_id, item.session, item.path, sha, size)
        headers = {
            "Authorization": authorization(self.cfg.secret or "", claim),
            "X-Streamd-SHA256": sha,
            "Content-Length": str(size),
        }
        if item.offset is not None:
            headers["X-Streamd-Offset"] = str(item.offset)
        if item.duration is not None:
            headers["X-Streamd-Duration"] = str(item.duration)
        url = f"{self.spec.url}/archive/v1/files/{item.key}"
        try:
            with path.open("rb") as fh:
                async with http.put(url, data=fh, headers=headers) as resp:
                    text = await resp.text()
                    status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            return False
        if status not in SERVER_DOWN:
            self._item_cap = REFUSED_RETRY_SECONDS
        if status in (200, 201):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                answer = json.loads(text)
                if answer["sha256"] == sha:
                    self._confirm(item, sha, answer.get("backed_up") is True)
                    return True
            self.stats.last_error = f"{item.key}: the archive did not confirm the hash"
            return False
        self.stats.last_error = f"{item.key}: HTTP {status}: {text[:300]}"
        if status >= 500 or status in (401, 404, 408, 429):
            log.warning("archive: %s", self.stats.last_error)
            return False  # streamd or its disk is down, or it does not know us yet: retry
        log.error("archive refused %s", self.stats.last_error)
        self._refused[item.key] = time.monotonic() + REFUSED_RETRY_SECONDS
        return True

    def _confirm(self, item: Item, sha: str | None, backed_up: bool) -> None:
        """Log the archive's confirmation; `backed_up`: it holds the file in both roots,
        the only case in which retention may ever remove this file here."""
        record = {"key": item.key, "at": time.time(), "sha256": sha, "backed_up": backed_up}
        self._append(record)
        self._shipped.add(item.key)
        if backed_up and sha is not None:
            self._twice[item.key] = sha
        self._refused.pop(item.key, None)
        self._held.pop(item.key, None)
        self._failures.pop(item.key, None)
        self.stats.shipped = len(self._shipped)
        self.stats.last_shipped_at = time.time()


async def supervise(
    shipper: Shipper, *, first_delay: float = 1.0, cap: float = 60.0, restarts: int | None = None
) -> None:
    """Keep the shipper running: an error that escapes it (disk full while logging a
    confirmation, an rmtree that fails) is logged and kept in its stats, and the shipper
    restarts after a capped, jittered delay instead of stopping shipping until a reboot."""
    delay = first_delay
    n = 0
    while True:
        try:
            await shipper.run()
            return  # not configured: nothing to ship
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # anything that escapes must not end shipping
            n += 1
            shipper.stats.last_error = f"shipper crashed: {type(exc).__name__}: {exc}"
            log.exception("archive shipper crashed (%d); restarting in about %.1fs", n, delay)
            if restarts is not None and n > restarts:
                raise
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        delay = min(delay * 2, cap)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()
