"""Requests that need the orchestrator, on a replica that does not lead: passed on to the
leader over HTTP (one local hop, so a pause keeps its latency), answer streamed back.

The leader authenticates and authorizes the request itself, as if it had come straight;
the relay only moves bytes. When no leader answers (a failover), the request falls
through to this replica's own handler, which holds a pause for the next leader
(streamd.orchestrator.pending) or refuses what would put something on air.

Commands and acks never travel this way: they stay between the leader and the agents on
the broker. This is the console's path to the one replica that talks to the agents.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Middleware

from streamd.orchestrator import Leadership

log = logging.getLogger(__name__)
FORWARDED = "X-Streamd-Forwarded-By"
# The routes whose answer comes from the orchestrator's memory or acts through it.
NEEDS_LEADER = re.compile(r"^/api/v1/(hearings/[^/]+/stream(/.*)?|agents|alerts(/.*)?|feed)$")
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Transfer-Encoding",
        "TE",
        "Upgrade",
        "Host",
        "Content-Length",
        "Content-Encoding",
    )
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def relay_middleware(
    leadership: Leadership, session: Callable[[], aiohttp.ClientSession | None]
) -> Middleware:
    @web.middleware
    async def relay(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            leadership.leading
            or FORWARDED in request.headers
            or not NEEDS_LEADER.match(request.path)
        ):
            return await handler(request)
        target, client = leadership.leader_address(), session()
        if target is None or client is None:
            return await handler(request)
        try:
            return await _forward(request, client, target, leadership.replica)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            # The leader is gone mid-failover: this replica answers (a pause is held).
            log.warning("leader %s unreachable (%s): answering here", target, exc)
            return await handler(request)

    return relay


async def _forward(
    request: web.Request, client: aiohttp.ClientSession, target: str, replica: str
) -> web.StreamResponse:
    body = await request.read()
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers[FORWARDED] = replica
    async with client.request(
        request.method,
        target + request.path_qs,
        data=body or None,
        headers=headers,
        allow_redirects=False,
        auto_decompress=False,
    ) as upstream:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for key, value in upstream.headers.items():
            if key.lower() not in HOP_BY_HOP or key.lower() == "content-encoding":
                response.headers.add(key, value)
        if upstream.content_length is not None:
            response.content_length = upstream.content_length
        await response.prepare(request)
        # Chunk by chunk: the live feed (server-sent events) streams through as it comes.
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response
