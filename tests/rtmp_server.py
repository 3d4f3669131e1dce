"""The trial platform's stand-in for tests: Debian's nginx with libnginx-mod-rtmp.

Each server runs from its own prefix in a temp dir on free loopback ports, never the
system's configuration. `on_publish` asks a small aiohttp endpoint the test runs whether a
stream key may publish (the platform's key check: 403 refuses it); `hls on` writes the
play address the public and the monitor read, served by the same nginx over HTTP, without
program date-times, as platforms' play addresses often are. (nginx-rtmp names the HLS
stream after the key even when `on_publish` renames it, so here the play URL carries the
key; a real platform's does not.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from tests.mqtt_support import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
CONF = """
load_module {module};
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
rtmp {{
  server {{
    listen 127.0.0.1:{rtmp_port};
    application live {{
      live on;
      on_publish http://127.0.0.1:{auth_port}/publish;
      notify_method get;
      hls on;
      hls_path {prefix}/hls;
      hls_fragment {fragment}s;
      hls_playlist_length 30s;
      hls_cleanup off;
      hls_continuous on;
    }}
  }}
}}
http {{
  access_log off;
  client_body_temp_path {prefix}/tmp;
  proxy_temp_path {prefix}/tmp;
  fastcgi_temp_path {prefix}/tmp;
  uwsgi_temp_path {prefix}/tmp;
  scgi_temp_path {prefix}/tmp;
  server {{
    listen 127.0.0.1:{http_port};
    location /hls/ {{
      root {prefix};
      types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
      add_header Cache-Control no-cache;
      add_header Access-Control-Allow-Origin *;
    }}
  }}
}}
"""


def available() -> bool:
    return Path(NGINX).exists() and RTMP_MODULE.exists()


def require() -> None:
    if not available():
        assert os.environ.get("CI") != "true", ".ci/run installs nginx and libnginx-mod-rtmp"
        pytest.skip("nginx with libnginx-mod-rtmp is not installed (apt-get, as .ci/run does)")


@dataclass
class RtmpServer:
    """A running platform stand-in. `keys`: the stream keys it accepts; change it to rotate
    a key."""

    prefix: Path
    rtmp_port: int
    http_port: int
    keys: set[str]
    refused: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def push_url(self) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live"

    def play_url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.http_port}/hls/{key}.m3u8"

    def log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def drop_publishers(self, down_seconds: float = 0.0) -> None:
        """The platform cuts every publisher: nginx stops, stays away `down_seconds`, and
        starts again (a fresh process, same ports)."""
        self._stop()
        time.sleep(down_seconds)
        self._start()

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def _wait_port(port: int, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        except OSError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def rtmp_server(
    folder: Path, keys: set[str], *, fragment_seconds: int = 1
) -> AsyncIterator[RtmpServer]:
    require()
    prefix = folder / "nginx"
    for sub in ("hls", "tmp", "logs"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    server = RtmpServer(prefix, free_port(), free_port(), keys)

    async def publish(request: web.Request) -> web.StreamResponse:
        key = request.query.get("name", "")
        if key not in server.keys:
            server.refused.append(key)
            return web.Response(status=403, text="unknown stream key")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/publish", publish)
    runner = web.AppRunner(app)
    await runner.setup()
    auth_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", auth_port).start()
    (prefix / "nginx.conf").write_text(
        CONF.format(
            module=RTMP_MODULE,
            prefix=prefix,
            rtmp_port=server.rtmp_port,
            http_port=server.http_port,
            auth_port=auth_port,
            fragment=fragment_seconds,
        )
    )
    server._start()
    try:
        await _wait_port(server.rtmp_port)
        await _wait_port(server.http_port)
        yield server
    finally:
        server._stop()
        await runner.cleanup()
