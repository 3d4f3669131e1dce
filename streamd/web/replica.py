"""This replica among the others: its lease, its share of the telemetry, and the figures
/metrics gives for it (labelled by replica, so one Prometheus tells them apart)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from streamd.config import Settings
from streamd.orchestrator import (
    Intake,
    Leadership,
    Lease,
    LeaseTiming,
    instance_holder,
    replica_name,
)
from streamd.store import Database


def app_leadership(settings: Settings, db: Database) -> Leadership:
    """On PostgreSQL every replica competes for the lease; on SQLite there is one process,
    and it leads."""
    replica = replica_name(settings.replica, settings.host, settings.port)
    if db.engine.dialect.name != "postgresql":
        return Leadership(replica, None, poll=settings.scheduler_seconds)
    address = settings.advertise_url or f"http://{_reachable(settings.host)}:{settings.port}"
    timing = LeaseTiming(
        settings.lease_seconds, settings.lease_renew_seconds, settings.lease_margin_seconds
    )
    lease = Lease(
        db.engine.url.render_as_string(hide_password=False),
        holder=instance_holder(replica),
        address=address,
        timing=timing,
    )
    return Leadership(replica, lease)


def _reachable(host: str) -> str:
    return socket.gethostname() if host in ("0.0.0.0", "::", "") else host


class ReplicaCollector(Collector):
    """The leadership gauge (1 on the replica that leads, 0 on the others) and this
    replica's share of the telemetry."""

    def __init__(self, leadership: Leadership, intake: Intake | None = None) -> None:
        self.leadership = leadership
        self.intake = intake

    def _counter(self, name: str, doc: str, value: float) -> CounterMetricFamily:
        c = CounterMetricFamily(name, doc, labels=["replica"])
        c.add_metric([self.leadership.replica], value)
        return c

    def collect(self) -> Iterator[Any]:
        g = GaugeMetricFamily(
            "streamd_leader",
            "1 while this replica runs the single-instance work",
            labels=["replica"],
        )
        g.add_metric([self.leadership.replica], 1.0 if self.leadership.leading else 0.0)
        yield g
        yield self._counter(
            "streamd_leader_changes", "Times this replica took the lead", self.leadership.changes
        )
        if self.intake is None:
            return
        stats = self.intake.stats
        yield self._counter(
            "streamd_telemetry_taken", "Telemetry beats this replica took and parsed", stats.taken
        )
        yield self._counter(
            "streamd_telemetry_forwarded",
            "Of those, beats sent on to the leader in a digest",
            stats.forwarded,
        )
        yield self._counter(
            "streamd_telemetry_malformed", "Telemetry beats refused as malformed", stats.malformed
        )
