"""Where the public watches a line: its play address, as opposed to where the agent pushes.

The trial platform hands a court, per line, an ingest URL and key (RTMP) and a play address
(HLS `.m3u8`, HTTP-FLV `.flv`, or RTMP) that viewers open. What the public saw is what the
monitor must verify, so it reads the play address; the push address only when the line
declares that the platform plays the stream where it is pushed (`same_server`), and the
court's own HLS folder when the line is local (`push_url = "hls"`). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

HLS_LINE = "hls"  # a line whose push_url is "hls" airs the agent's own HLS output
PlayKind = Literal["hls", "flv", "rtmp"]


class PlayUrlError(ValueError):
    pass


def play_kind(url: str) -> PlayKind:
    """What a play address is, by scheme and path; a ValueError says why it is none."""
    if any(c.isspace() for c in url):
        raise PlayUrlError("a play URL has no spaces")
    parts = urlsplit(url)
    if parts.scheme in ("rtmp", "rtmps"):
        if not parts.netloc:
            raise PlayUrlError("an RTMP play URL needs a host: rtmp://host/app/stream")
        return "rtmp"
    if parts.scheme in ("http", "https"):
        if not parts.netloc:
            raise PlayUrlError("a play URL needs a host")
        path = parts.path.lower()
        if path.endswith(".m3u8"):
            return "hls"
        if path.endswith(".flv"):
            return "flv"
        raise PlayUrlError("an HTTP play URL is an HLS playlist (.m3u8) or HTTP-FLV (.flv)")
    raise PlayUrlError(
        f"scheme {parts.scheme or '(none)'!r}: a play URL is http(s):// (.m3u8 or .flv) "
        "or rtmp(s)://"
    )


def is_hls(where: str) -> bool:
    """Whether an address the monitor opens is an HLS playlist (a URL's path or a file
    ending `.m3u8`); anything else (HTTP-FLV, RTMP, SRT) is read as a stream."""
    path = urlsplit(where).path if "://" in where else where
    return path.lower().endswith(".m3u8")


@dataclass(frozen=True, slots=True)
class LinePlay:
    """A line as far as watching it goes; the key is a secret."""

    push_url: str
    stream_key: str
    play_url: str | None
    same_server: bool

    @property
    def local(self) -> bool:
        return self.push_url == HLS_LINE

    def monitored(self, room: str, hls_template: str) -> str | None:
        """The address the monitor opens for `room` on this line (None: nothing to read).

        The court's own HLS for a local line; else the platform's play address; the push
        address + key only when the line says the platform plays it there.
        """
        if self.local:
            return hls_template.format(room=room)
        if self.play_url:
            return self.play_url
        if self.same_server:
            return f"{self.push_url.rstrip('/')}/{self.stream_key}"
        return None

    def public(self, room: str) -> tuple[PlayKind, str] | None:
        """What a viewer's page opens: the court's own HLS route for a local line, else the
        platform's play address (never the push address: that carries the key)."""
        if self.local:
            return "hls", f"/hls/{room}/index.m3u8"
        if self.play_url:
            return play_kind(self.play_url), self.play_url
        return None
