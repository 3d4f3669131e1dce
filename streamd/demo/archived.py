"""The demo's archive check: every closed segment of every hearing in both roots, whole.

The agents ship as segments close; the day's last segments, transcripts and manifests
follow within seconds of each adjournment. This waits (bounded) for them, then checks
each recorded segment against the archive's row and both copies' bytes.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path, PurePosixPath
from typing import Any

from streamd.archive import files, ledger
from streamd.config import Settings
from streamd.store import Database
from streamd_protocol import manifest as mf

WAIT_SECONDS = 60.0


def check(
    db: Database, settings: Settings, hearing_id: int, folders: list[str]
) -> tuple[int, list[str]]:
    """(segments archived in both roots, problems) for one hearing's session folders."""
    rows = {(r.session, r.path): r for r in db.call(ledger.hearing_files, hearing_id=hearing_id)}
    good, problems = 0, []
    for folder in folders:
        if not (Path(folder) / mf.MANIFEST).exists():
            continue
        manifest = mf.load(Path(folder))
        for seg in manifest.segments:
            row = rows.get((manifest.session, seg.file))
            if row is None or row.sha256 != seg.sha256:
                problems.append(f"{seg.file}: not in the archive")
                continue
            rel = PurePosixPath(str(hearing_id)) / manifest.session / seg.file
            bad = [
                label
                for label, root in (
                    ("archive", settings.archive_dir),
                    ("backup", settings.archive_backup_dir),
                )
                if root is None or files.state_of(root / rel, seg.sha256) != "ok"
            ]
            if bad:
                problems.append(f"{seg.file}: missing or damaged in {' and '.join(bad)}")
            else:
                good += 1
        for name in (mf.MANIFEST, mf.TRANSCRIPT):
            if (Path(folder) / name).exists() and (manifest.session, name) not in rows:
                problems.append(f"{manifest.session}/{name}: not in the archive")
    return good, problems


async def wait_and_check(
    db: Database,
    settings: Settings,
    coverage: dict[int, dict[str, Any]],
    *,
    within: float = WAIT_SECONDS,
) -> dict[int, tuple[int, list[str]]]:
    deadline = time.monotonic() + within
    while True:
        out = {
            hid: await asyncio.to_thread(check, db, settings, hid, cov["recording"]["folders"])
            for hid, cov in coverage.items()
        }
        if all(not p for _, p in out.values()) or time.monotonic() > deadline:
            return out
        await asyncio.sleep(1.0)
