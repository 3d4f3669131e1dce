"""The fast path's own write-ahead log: a pause is persisted here (one fsynced line), sent,
and copied into the database behind it, so it never waits on a slow database.

On start, every step not yet marked copied is written to the database before anything
else happens; the database write is idempotent by command id.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class FastJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())
        os.fsync(self._fd)

    def step(self, key: str, data: dict[str, Any]) -> None:
        self._write({"op": "step", "key": key, "data": data})

    def copied(self, key: str) -> None:
        self._write({"op": "copied", "key": key})

    def pending(self) -> list[tuple[str, dict[str, Any]]]:
        """Steps not yet in the database, in the order they were taken. A torn last line
        (a crash mid-write) was never acted on and is skipped."""
        steps: dict[str, dict[str, Any]] = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        for raw in text.splitlines():
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if record.get("op") == "step":
                steps[record["key"]] = record["data"]
            elif record.get("op") == "copied":
                steps.pop(record["key"], None)
        return list(steps.items())

    def compact(self) -> None:
        """Rewrite the file with only the pending steps (called at start, when idle)."""
        keep = self.pending()
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for key, data in keep:
                fh.write(json.dumps({"op": "step", "key": key, "data": data}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def close(self) -> None:
        os.close(self._fd)
