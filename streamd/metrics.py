"""Prometheus metrics at /metrics.

Everything is read at scrape time, from the database and the running components' own
counters. The orchestrator and monitor know nothing of Prometheus. Nothing here can drift
from what the API shows, and a scrape never adds work to the paths that carry a pause.
"Today" is the court's local day (`STREAMD_TIMEZONE`).

Names and units follow the Prometheus conventions: base units (seconds, bytes, bits),
`_total` for counters, `_info`-free gauges with bounded labels (rooms, states, kinds;
never hearing ids).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import Session, col, select

from streamd import streamed
from streamd.archive import metrics as archive_metrics
from streamd.config import Settings
from streamd.lifecycle import PUBLIC, StreamState
from streamd.models import Alert, Hearing, Line, Stream
from streamd.monitor import records as monitor_records
from streamd.store import Database

if TYPE_CHECKING:
    from streamd.monitor import service as monitor_service
    from streamd.orchestrator import Orchestrator

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _today(settings: Settings) -> tuple[datetime, datetime]:
    local = datetime.now(settings.zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC), (local + timedelta(days=1)).astimezone(UTC)


def database_figures(session: Session, *, settings: Settings) -> dict[str, Any]:
    """One transaction's worth of counts for a scrape."""
    start, end = _today(settings)
    streams = dict(
        session.exec(select(Stream.state, func.count()).group_by(col(Stream.state))).all()
    )
    lines = dict(session.exec(select(Line.active, func.count()).group_by(col(Line.active))).all())
    in_use = session.exec(
        select(func.count(func.distinct(Stream.line_id))).where(
            col(Stream.state).in_([s.value for s in PUBLIC]), col(Stream.line_id).is_not(None)
        )
    ).one()
    today = col(Hearing.planned_start) >= start, col(Hearing.planned_start) < end
    public_today = session.exec(
        select(func.count()).where(*today, col(Hearing.is_public).is_(True))
    ).one()
    streamed_today = session.exec(
        select(func.count())
        .select_from(Hearing)
        .join(Stream, col(Stream.hearing_id) == col(Hearing.id))
        .where(*today, streamed.went_live())
    ).one()
    alerts = session.exec(
        select(Alert.kind, Alert.severity, func.count())
        .where(col(Alert.cleared_at).is_(None))
        .group_by(col(Alert.kind), col(Alert.severity))
    ).all()
    # Coverage of the hearings that went live today: the ledger, as the API computes it.
    gap = extra = 0.0
    verdicts: dict[str, int] = {}
    went_live = session.exec(
        select(Stream.hearing_id).where(
            col(Stream.discipline_at) >= start, col(Stream.discipline_at) < end
        )
    ).all()
    now = datetime.now(UTC)
    for hid in went_live:
        inp = monitor_records.ledger_input(session=session, hearing_id=hid)
        if inp is None:
            continue
        cov = monitor_records.coverage(
            inp, now=now, allowance_seconds=settings.monitor_allowance_seconds
        )
        gap += cov.gap_ms / 1000
        extra += cov.extra_ms / 1000
        verdicts[cov.verdict.value] = verdicts.get(cov.verdict.value, 0) + 1
    return {
        "streams": streams,
        "lines": lines,
        "lines_in_use": in_use,
        "public_today": public_today,
        "streamed_today": streamed_today,
        "alerts": alerts,
        "gap": gap,
        "extra": extra,
        "verdicts": verdicts,
    }


class StreamdCollector(Collector):
    def __init__(
        self,
        db: Database,
        settings: Settings,
        orchestrator: Callable[[], Orchestrator | None],
        monitor: Callable[[], monitor_service.Monitor | None],
    ) -> None:
        self.db = db
        self.settings = settings
        self.orchestrator = orchestrator
        self.monitor = monitor

    def collect(self) -> Iterator[Any]:
        yield from self._database()
        orch = self.orchestrator()
        if orch is not None:
            yield from self._orchestrator(orch)
        mon = self.monitor()
        if mon is not None:
            yield from self._monitor(mon)

    def _database(self) -> Iterator[Any]:
        d = self.db.call(database_figures, settings=self.settings)
        g = GaugeMetricFamily(
            "streamd_streams", "Hearing streams by lifecycle state", labels=["state"]
        )
        for state in StreamState:
            g.add_metric([state.value], d["streams"].get(state.value, 0))
        yield g
        g = GaugeMetricFamily("streamd_lines", "Licensed streaming lines", labels=["active"])
        for active in (True, False):
            g.add_metric([str(active).lower()], d["lines"].get(active, 0))
        yield g
        yield GaugeMetricFamily(
            "streamd_lines_in_use",
            "Lines carrying a live or paused stream",
            value=d["lines_in_use"],
        )
        yield GaugeMetricFamily(
            "streamd_public_hearings_today",
            "Public hearings planned today",
            value=d["public_today"],
        )
        yield GaugeMetricFamily(
            "streamd_streamed_hearings_today",
            "Hearings planned today that went live",
            value=d["streamed_today"],
        )
        ratio = d["streamed_today"] / d["public_today"] if d["public_today"] else 0.0
        yield GaugeMetricFamily(
            "streamd_stream_ratio", "Streamed over public hearings planned today", value=ratio
        )
        g = GaugeMetricFamily("streamd_alerts_open", "Open alerts", labels=["kind", "severity"])
        for kind, severity, n in d["alerts"]:
            g.add_metric([kind, severity], n)
        yield g
        yield GaugeMetricFamily(
            "streamd_coverage_gap_seconds",
            "Required, unpaused time with nothing on air (漏播), hearings live today",
            value=d["gap"],
        )
        yield GaugeMetricFamily(
            "streamd_coverage_extra_seconds",
            "Courtroom picture outside the hearing or during a pause (多播), hearings live today",
            value=d["extra"],
        )
        g = GaugeMetricFamily(
            "streamd_coverage_verdicts",
            "Hearings live today by coverage verdict",
            labels=["verdict"],
        )
        for verdict, n in sorted(d["verdicts"].items()):
            g.add_metric([verdict], n)
        yield g

    def _orchestrator(self, orch: Orchestrator) -> Iterator[Any]:
        from streamd.orchestrator import ROUND_TRIP_BUCKETS

        up = GaugeMetricFamily(
            "streamd_agent_up", "Courtroom agent online and speaking", labels=["room"]
        )
        fps = GaugeMetricFamily(
            "streamd_encoder_fps", "Encoder frames per second", labels=["room", "process"]
        )
        bitrate = GaugeMetricFamily(
            "streamd_encoder_bitrate_bits_per_second",
            "Encoder output bitrate",
            labels=["room", "process"],
        )
        restarts = CounterMetricFamily(
            "streamd_encoder_restarts", "Encoder process restarts", labels=["room", "process"]
        )
        disk = GaugeMetricFamily(
            "streamd_agent_disk_free_bytes",
            "Free disk on the agent's recording volume",
            labels=["room"],
        )
        for room, agent in sorted(orch.agents.items()):
            up.add_metric([room], 1 if agent.online and not agent.silent else 0)
            t = agent.telemetry
            if t is None:
                continue
            for name, stats in (("recorder", t.recorder), ("publisher", t.publisher)):
                if stats.fps is not None:
                    fps.add_metric([room, name], stats.fps)
                if stats.bitrate_kbps is not None:
                    bitrate.add_metric([room, name], stats.bitrate_kbps * 1000)
                restarts.add_metric([room, name], stats.restarts)
            if t.disk_free_bytes is not None:
                disk.add_metric([room], t.disk_free_bytes)
        yield from (up, fps, bitrate, restarts, disk)
        received = CounterMetricFamily(
            "streamd_mqtt_messages_received", "MQTT messages from agents", labels=["leaf"]
        )
        for leaf, n in sorted(orch.stats.received.items()):
            received.add_metric([leaf], n)
        yield received
        yield CounterMetricFamily(
            "streamd_mqtt_malformed_messages",
            "MQTT messages from agents that failed validation",
            value=orch.stats.malformed,
        )
        commands = CounterMetricFamily(
            "streamd_commands", "Commands sent to agents by outcome", labels=["outcome"]
        )
        for outcome in ("acked", "refused", "unacknowledged"):
            commands.add_metric([outcome], orch.stats.commands.get(outcome, 0))
        yield commands
        rt = orch.stats.round_trips
        buckets, running = [], 0
        for bound, n in zip(ROUND_TRIP_BUCKETS, rt.counts, strict=True):
            running += n
            buckets.append((repr(bound), running))
        buckets.append(("+Inf", rt.total))
        h = HistogramMetricFamily(
            "streamd_command_round_trip_seconds", "Command sent to ack received"
        )
        h.add_metric([], buckets, sum_value=rt.sum)
        yield h

    def _monitor(self, mon: monitor_service.Monitor) -> Iterator[Any]:
        s = mon.stats
        yield GaugeMetricFamily(
            "streamd_monitor_streams_watched", "Public outputs being watched", value=s.watching
        )
        yield CounterMetricFamily(
            "streamd_monitor_segments", "HLS segments analysed", value=s.segments
        )
        yield CounterMetricFamily(
            "streamd_monitor_read_errors", "Outputs that could not be read", value=s.read_errors
        )
        yield CounterMetricFamily(
            "streamd_monitor_undecodable_segments",
            "Segments that did not decode",
            value=s.undecodable,
        )
        yield CounterMetricFamily(
            "streamd_monitor_decode_cpu_seconds",
            "CPU time spent decoding and classifying samples",
            value=s.decode_seconds,
        )


def registry_for(
    db: Database,
    settings: Settings,
    orchestrator: Callable[[], Orchestrator | None],
    monitor: Callable[[], monitor_service.Monitor | None],
) -> tuple[CollectorRegistry, Histogram]:
    """A registry per application (tests run many), with the HTTP latency histogram."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StreamdCollector(db, settings, orchestrator, monitor))
    registry.register(archive_metrics.ArchiveCollector(db, settings))
    http = Histogram(
        "streamd_http_request_duration_seconds",
        "HTTP request latency",
        ["method", "route", "status"],
        buckets=HTTP_BUCKETS,
        registry=registry,
    )
    return registry, http
