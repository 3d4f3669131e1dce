"""Why a push to the platform failed, read from ffmpeg's last words. Pure.

An RTMP server that refuses a stream key (nginx-rtmp's `on_publish` answering 4xx, the
platform's key check) lets the TCP and RTMP handshakes through and closes the connection
at `publish`: ffmpeg then says it could not open the output, with an I/O error. A server
that is not there at all refuses the TCP connection, or times out. The two need different
people: a refused key is the platform's account (a wrong or rotated key), an unreachable
server the network.
"""

from __future__ import annotations

from typing import Literal

PushFailure = Literal["refused", "unreachable"]
_UNREACHABLE = (
    "connection refused",
    "connection timed out",
    "no route to host",
    "network is unreachable",
    "name or service not known",
    "cannot assign requested address",
)


def classify(stderr: str, *, target_url: str | None) -> PushFailure | None:
    """For an RTMP target whose ffmpeg ended: refused, unreachable, or neither (None: it
    failed for some other reason, or it had been publishing when it ended)."""
    if target_url is None or not target_url.startswith(("rtmp://", "rtmps://")):
        return None
    text = stderr.lower()
    if any(marker in text for marker in _UNREACHABLE):
        return "unreachable"
    if "error opening output" in text and target_url.lower().split("?")[0] in text:
        return "refused"
    return None
