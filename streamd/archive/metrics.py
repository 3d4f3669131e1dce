"""The archive on /metrics: per room, segments recorded, archived, backed up and lost,
the last audit, the unshipped backlog's age; per root, the disk's free share.

Per room and not per hearing: hearing ids are unbounded label values (the hearing's page
shows its own figures).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streamd.archive import files, ledger
from streamd.config import Settings
from streamd.store import Database


class ArchiveCollector(Collector):
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings

    def collect(self) -> Iterator[Any]:
        if self.settings.archive_dir is None:
            return
        segments = GaugeMetricFamily(
            "streamd_archive_segments",
            "Closed recording segments by where they are (recorded by the agent, archived, "
            "backed up, lost in both copies)",
            labels=["room", "where"],
        )
        audit = GaugeMetricFamily(
            "streamd_archive_last_audit_timestamp_seconds",
            "When the fixity audit last verified a file of the room",
            labels=["room"],
        )
        backlog = GaugeMetricFamily(
            "streamd_archive_backlog_age_seconds",
            "Age of the room's oldest closed segment not yet archived (0: none)",
            labels=["room"],
        )
        now = datetime.now(UTC)
        rooms = self.db.call(ledger.by_room)
        ages = self.db.call(ledger.oldest_unarchived, now=now)
        for room, st in sorted(rooms.items()):
            for where, n in (
                ("recorded", st.recorded),
                ("archived", st.archived),
                ("backed_up", st.backed_up),
                ("lost", st.lost),
            ):
                segments.add_metric([room, where], n)
            if st.last_audit is not None:
                audit.add_metric([room], st.last_audit.timestamp())
            backlog.add_metric([room], ages.get(room, 0.0))
        free = GaugeMetricFamily(
            "streamd_archive_disk_free_ratio", "Free share of the archive's disks", labels=["root"]
        )
        for label, root in (
            ("archive", self.settings.archive_dir),
            ("backup", self.settings.archive_backup_dir),
        ):
            ratio = files.free_ratio(root) if root is not None else None
            if ratio is not None:
                free.add_metric([label], ratio)
        yield from (segments, audit, backlog, free)
