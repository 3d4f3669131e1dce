"""The archive's bytes on disk: atomic, append-only writes under a root, and re-hashing.

A file is streamed into `<root>/.incoming/`, hashed as it arrives, fsynced, then linked to
its place with `link(2)`, which fails if the name exists: no code path overwrites a
recording, even by a race. The folder is fsynced after the link. A refused or broken
upload leaves nothing but its temp file, which is removed (it never was a recording).
The only replacement is `restore`, used by the fixity audit: the bad copy is moved aside
into `<root>/.damaged/` (kept, not deleted) before the good copy takes its place.

A root is never created here: it must exist and carry the marker file `.streamd-archive`
(written once, by `mark_root`, when the archive starts on it). Without the marker the root
is taken for a NAS that is not mounted: writing there would fill the system disk under the
mount point, and reading there would see every file "missing".
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

CHUNK = 1 << 20
INCOMING = ".incoming"
DAMAGED = ".damaged"
MARKER = ".streamd-archive"


class RootUnavailable(OSError):
    """The root is not there (not a folder, or without its marker): not mounted."""


class UploadRefused(Exception):
    """The bytes did not match their claim; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class AlreadyThere(FileExistsError):
    """The final name exists (a concurrent copy of the same file won the race)."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def root_ready(root: Path) -> bool:
    return (root / MARKER).is_file()


def check_root(root: Path) -> None:
    if not root_ready(root):
        raise RootUnavailable(f"{root}: no {MARKER} here (not mounted?); nothing written")


def mark_root(root: Path) -> None:
    """Claim an existing, empty folder as an archive root (never creates the folder)."""
    if not root.is_dir():
        raise RootUnavailable(f"{root}: not a folder (not mounted?)")
    (root / MARKER).write_text("streamd archive root: keep this file; it proves the mount\n")
    fsync_dir(root)


def _temp(root: Path) -> Path:
    check_root(root)
    incoming = root / INCOMING
    incoming.mkdir(exist_ok=True)
    return incoming / uuid.uuid4().hex


def _publish(tmp: Path, final: Path) -> None:
    """Link the fsynced temp file to its name (refusing an existing one), fsync folders."""
    new_dirs = [p for p in reversed(final.parents) if not p.exists()]
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise AlreadyThere(str(final)) from None
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(final.parent)
    for d in new_dirs:  # a new folder's entry lives in its parent
        fsync_dir(d.parent)


async def receive(
    root: Path, rel: PurePosixPath, chunks: AsyncIterator[bytes], *, sha256: str, size: int
) -> Path:
    """Store an upload whose claimed hash and size it must match, or raise UploadRefused.

    Chunks are hashed as they come and written a megabyte at a time in a worker thread, as
    are the fsyncs and the link: a root on a NAS can block any file call for seconds, and
    other rooms' uploads (and the whole server) must keep flowing meanwhile.
    """
    tmp = await asyncio.to_thread(_temp, root)
    h = hashlib.sha256()
    got = 0
    pending = bytearray()
    try:
        fh = await asyncio.to_thread(tmp.open, "wb")
        with fh:
            async for chunk in chunks:
                got += len(chunk)
                if got > size:
                    raise UploadRefused(413, f"body is longer than the {size} bytes claimed")
                h.update(chunk)
                pending += chunk
                if len(pending) >= CHUNK:
                    await asyncio.to_thread(fh.write, bytes(pending))
                    pending.clear()
            if pending:
                await asyncio.to_thread(fh.write, bytes(pending))
            if got < size:
                raise UploadRefused(422, f"truncated: {got} of {size} bytes arrived")
            if h.hexdigest() != sha256:
                raise UploadRefused(422, "SHA-256 of the body does not match the claim")
            await asyncio.to_thread(_sync, fh)
        final = root / rel
        await asyncio.to_thread(_publish, tmp, final)
        return final
    finally:
        await asyncio.to_thread(tmp.unlink, missing_ok=True)


def _sync(fh: BinaryIO) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def copy_verified(src: Path, dst_root: Path, rel: PurePosixPath, sha256: str) -> Path:
    """Copy one archived file to another root, atomically, and check what landed."""
    tmp = _temp(dst_root)
    try:
        h = hashlib.sha256()
        with src.open("rb") as fin, tmp.open("wb") as fout:
            while chunk := fin.read(CHUNK):
                h.update(chunk)
                fout.write(chunk)
            fout.flush()
            os.fsync(fout.fileno())
        if h.hexdigest() != sha256:
            raise UploadRefused(500, f"{src}: SHA-256 differs from the archive's record")
        if sha256_file(tmp) != sha256:  # what the disk gives back, not what we sent it
            raise UploadRefused(500, f"{dst_root / rel}: copy does not read back whole")
        final = dst_root / rel
        _publish(tmp, final)
        return final
    finally:
        tmp.unlink(missing_ok=True)


def state_of(path: Path, sha256: str, root: Path | None = None) -> str:
    """`ok`, `missing`, `damaged` or `unreadable`.

    `unreadable` is a read that failed now (EIO, EACCES, the root not mounted): it says
    nothing about the copy, so the audit neither repairs from nor over it, and tries again.
    `missing` needs the root itself present (its marker readable) and the file absent."""
    if root is not None and not root_ready(root):
        return "unreadable"
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"
    try:
        return "ok" if sha256_file(path) == sha256 else "damaged"
    except OSError:
        return "unreadable"


def restore(good: Path, root: Path, rel: PurePosixPath, sha256: str) -> Path | None:
    """Put the good copy back under `root`; a damaged file there is moved aside first.

    Returns where the damaged copy was kept, if there was one.
    """
    target = root / rel
    kept: Path | None = None
    if target.exists() or target.is_symlink():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        kept = root / DAMAGED / stamp / rel
        kept.parent.mkdir(parents=True, exist_ok=True)
        os.replace(target, kept)
        fsync_dir(target.parent)
    copy_verified(good, root, rel, sha256)
    return kept


def free_ratio(root: Path) -> float | None:
    try:
        usage = shutil.disk_usage(root)
    except OSError:
        return None
    return usage.free / usage.total if usage.total else None
