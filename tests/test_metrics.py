"""/metrics after a hearing has run: the figures an administrator's dashboard reads, in a
format Prometheus accepts (its own parser always; promtool's linter where installed, which
.ci/run does)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from asyncio.subprocess import PIPE, STDOUT

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT
from tests.court_support import Court

pytestmark = [pytest.mark.db, pytest.mark.broker]
DOCKER = ROOT / "docker"


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_metrics_report_streams_agents_commands_and_requests(court_: Court) -> None:
    async with court_.agent():
        hearing = await court_.hearing()
        await court_.until_state(hearing, "ready")
        await court_.press(hearing, "discipline-announced")
        await court_.press(hearing, "pause", reason="旁听人员喧哗")
        await asyncio.sleep(1.2)  # one telemetry beat
        resp = await court_.client.get("/metrics")
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    got = values(text)
    assert got[("streamd_streams", (("state", "paused"),))] == 1
    assert got[("streamd_lines_in_use", ())] == 1
    assert got[("streamd_streamed_hearings_today", ())] == 1  # its go_live was acked
    assert got[("streamd_agent_up", (("room", "room-01"),))] == 1
    assert got[("streamd_agent_up", (("room", "room-02"),))] == 0
    assert got[("streamd_commands_total", (("outcome", "acked"),))] == 3  # prepare, go_live, pause
    assert got[("streamd_command_round_trip_seconds_count", ())] == 3
    assert got[("streamd_mqtt_messages_received_total", (("leaf", "ack"),))] >= 3
    assert got[("streamd_mqtt_malformed_messages_total", ())] == 0
    assert got[("streamd_monitor_streams_watched", ())] == 1
    # the console's requests, by route pattern and status, never by raw path
    routes = {dict(k[1]).get("route") for k in got if k[0].startswith("streamd_http_request")}
    assert "/api/v1/hearings/{hearing_id}/stream/pause" in routes, routes
    assert not any(r and re.search(r"/\d+(/|$)", r) for r in routes), routes
    # The deployment's alert rules and Grafana dashboard read only what streamd exports.
    families = {f.name for f in text_string_to_metric_families(text)}
    for source in ("prometheus/alerts.yml", "grafana/dashboards/streamd.json"):
        for name in set(re.findall(r"streamd_[a-z_]+", (DOCKER / source).read_text())):
            assert re.sub(r"_(bucket|count|sum|total)$", "", name) in families, (source, name)
    promtool = shutil.which("promtool")
    assert promtool is not None or os.environ.get("CI") != "true", ".ci/run installs promtool"
    if promtool is not None:
        lint = await asyncio.create_subprocess_exec(
            promtool, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=STDOUT
        )
        said, _ = await lint.communicate(text.encode())
        assert lint.returncode == 0, said.decode()
