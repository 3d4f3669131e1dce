"""A browser that goes away mid-stream is the live feed's everyday case: no ERROR, no
traceback, and the server keeps serving."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.court_support import Court

pytestmark = [pytest.mark.db, pytest.mark.broker]


@pytest.fixture
def court_settings() -> dict[str, Any]:
    return {"feed_heartbeat_seconds": 0.05}  # a write every 50 ms, to a client that left


async def test_a_client_leaving_the_feed_logs_no_error(
    court_: Court, caplog: pytest.LogCaptureFixture
) -> None:
    headers = await court_.auth("technician")
    host, port = court_.client.host, court_.client.port
    for n in range(4):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            f"GET /api/v1/feed HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {headers['Authorization']}\r\n\r\n".encode()
        )
        await writer.drain()
        assert b"200" in await reader.readline()
        await asyncio.sleep(0.1)
        if n % 2:
            writer.transport.abort()  # gone, without a goodbye
        else:
            writer.close()  # a closed tab: FIN
        await asyncio.sleep(0.3)  # the server writes keep-alives into the closed socket
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    resp = await court_.client.get("/api/v1/alerts", headers=headers)
    assert resp.status == 200
