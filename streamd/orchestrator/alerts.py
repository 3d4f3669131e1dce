"""Alerts for the technicians: on the live feed at once, in the database behind it.

One open alert per kind, room and hearing; raising it again is a no-op, so a condition
checked every second alerts once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from streamd.orchestrator import records
from streamd.orchestrator.feed import Feed
from streamd.orchestrator.worker import Worker

log = logging.getLogger(__name__)


class AlertDesk:
    def __init__(self, feed: Feed, work: Worker) -> None:
        self.feed = feed
        self.work = work
        self.open_keys: set[str] = set()

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
        at = datetime.now(UTC)
        self.feed.publish(
            "alert",
            {
                "key": key,
                "kind": kind,
                "severity": severity,
                "room": room,
                "hearing_id": hearing_id,
                "message_zh": zh,
                "message_en": en,
                "raised_at": at.isoformat(),
            },
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
        at = datetime.now(UTC)
        self.feed.publish("alert_cleared", {"key": key, "cleared_at": at.isoformat()})
        self.work.write(records.clear_alert, key=key, at=at)
