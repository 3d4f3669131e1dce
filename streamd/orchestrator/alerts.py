"""Alerts for the technicians: on the live feed at once, in the database behind it.

One open alert per kind, room and hearing; raising it again is a no-op, so a condition
checked every second alerts once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from streamd.models import Alert
from streamd.orchestrator import records
from streamd.orchestrator.feed import Feed
from streamd.orchestrator.worker import Worker

log = logging.getLogger(__name__)
CLEAR_GRACE_S = 10.0


class AlertDesk:
    def __init__(self, feed: Feed, work: Worker) -> None:
        self.feed = feed
        self.work = work
        self.open_keys: set[str] = set()
        self.foreign: set[str] = set()  # opened by another replica's monitor (its share)
        # Cleared here, monotonic: the database may still show one open until the queued
        # write lands, and that is not another replica raising it again.
        self._cleared: dict[str, float] = {}

    async def follow_others(self, every: float = 1.0) -> None:
        """Put on this desk's live feed what other replicas' monitors raised and cleared in
        the database (each watches its share of the rooms: streamd.monitor.follower), until
        cancelled. Only those: this desk's own are on the feed already."""
        while True:
            await asyncio.sleep(every)
            try:
                rows = await self.work.call(
                    records.list_alerts,
                    open_only=True,
                    limit=10_000,
                    court_id=None,
                    every_court=True,
                )
            except Exception as exc:
                log.warning("alerts of the other replicas: %s", exc)
                continue
            self.merge(rows)

    def merge(self, rows: list[Alert]) -> None:
        """The open alerts as the database has them: the new ones others raised go on the
        feed; the others' that are no longer open are cleared on it."""
        open_now = {r.key for r in rows}
        now = time.monotonic()
        self._cleared = {k: t for k, t in self._cleared.items() if now - t < CLEAR_GRACE_S}
        for row in rows:
            if row.key not in self.open_keys and row.key not in self._cleared:
                self.open_keys.add(row.key)
                self.foreign.add(row.key)
                self._publish(row)
        for key in sorted(self.foreign - open_now):
            self.foreign.discard(key)
            self.open_keys.discard(key)
            self.feed.publish(
                "alert_cleared", {"key": key, "cleared_at": datetime.now(UTC).isoformat()}
            )

    def is_open(self, kind: str, room: str | None, hearing_id: int | None) -> bool:
        return records.alert_key(kind, room, hearing_id) in self.open_keys

    def raise_(
        self, kind: str, severity: str, room: str | None, hearing_id: int | None, zh: str, en: str
    ) -> None:
        key = records.alert_key(kind, room, hearing_id)
        if key in self.open_keys:
            return
        self._open(key, kind, severity, room, hearing_id, zh, en, replace=False)

    def renew(
        self, kind: str, severity: str, room: str | None, hearing_id: int | None, zh: str, en: str
    ) -> None:
        """Raise the alert afresh even if one is open: the news changed."""
        key = records.alert_key(kind, room, hearing_id)
        if key in self.open_keys:
            self.feed.publish(
                "alert_cleared", {"key": key, "cleared_at": datetime.now(UTC).isoformat()}
            )
        self._open(key, kind, severity, room, hearing_id, zh, en, replace=True)

    def _publish(self, alert: Alert) -> None:
        """An alert on the live feed, as the wall reads it (this desk's or another's)."""
        self.feed.publish(
            "alert",
            {
                "key": alert.key,
                "kind": alert.kind,
                "severity": alert.severity,
                "room": alert.room,
                "hearing_id": alert.hearing_id,
                "message_zh": alert.message_zh,
                "message_en": alert.message_en,
                "raised_at": alert.raised_at.isoformat(),
            },
        )

    def _open(
        self,
        key: str,
        kind: str,
        severity: str,
        room: str | None,
        hearing_id: int | None,
        zh: str,
        en: str,
        *,
        replace: bool,
    ) -> None:
        self.open_keys.add(key)
        self._cleared.pop(key, None)
        at = datetime.now(UTC)
        self._publish(
            Alert(
                key=key,
                kind=kind,
                severity=severity,
                room=room,
                hearing_id=hearing_id,
                message_zh=zh,
                message_en=en,
                raised_at=at,
            )
        )
        log.warning("alert %s: %s", key, en)
        self.work.write(
            records.raise_alert,
            kind=kind,
            severity=severity,
            room=room,
            hearing_id=hearing_id,
            zh=zh,
            en=en,
            at=at,
            replace=replace,
        )

    def clear(self, kind: str, room: str | None, hearing_id: int | None) -> None:
        key = records.alert_key(kind, room, hearing_id)
        if key not in self.open_keys:
            return
        self.open_keys.discard(key)
        self.foreign.discard(key)
        self._cleared[key] = time.monotonic()
        at = datetime.now(UTC)
        self.feed.publish("alert_cleared", {"key": key, "cleared_at": at.isoformat()})
        self.work.write(records.clear_alert, key=key, at=at)
