"""Review findings on secrets: the broker's password out of the logs, the CSRF token
compared in constant time, and no part of a stream key in a truncated ffmpeg message."""

from __future__ import annotations

import asyncio
import hmac
import logging
from pathlib import Path
from typing import Any

import pytest

from agents.publisher import STDERR_TAIL, scrubbed_tail
from streamd.config import load_settings
from streamd.store import Database, upgrade
from streamd.web import create_app
from streamd.web.app import SLOT_KEY
from streamd_protocol import PublishTarget
from tests.conftest import Client
from tests.court_support import write_court
from tests.test_pages import login

KEY = "k3y-0123456789abcdef"
TARGET = PublishTarget(kind="rtmp", url=f"rtmp://push.example.cn/live/{KEY}")


@pytest.mark.parametrize("cut", range(len(KEY) - 3))
def test_no_part_of_the_key_survives_the_cut(cut: int) -> None:
    # ffmpeg's message names the URL; the tail kept starts `cut` characters into the key.
    text = "x" * 600 + f"rtmp://push.example.cn/live/{KEY}: I/O error\n"
    limit = len(text) - (text.index(KEY) + cut)
    shown = scrubbed_tail(text, TARGET, limit=limit)
    assert KEY[cut:] not in shown, shown
    assert len(scrubbed_tail("z" * 2000, TARGET)) == STDERR_TAIL


async def test_the_csrf_token_is_compared_in_constant_time(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    csrf = await login(client, "clerk")
    wrong = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf[:-1] + "A"})
    assert wrong.status == 403
    assert calls, "the token was not compared with hmac.compare_digest"


async def test_the_broker_password_never_reaches_the_log(
    tmp_path: Path, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    write_court(tmp_path / "court", "tlog")
    settings = load_settings(
        environ={},
        data_dir=str(tmp_path / "data"),
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        court_config_dir=str(tmp_path / "court"),
        command_secret="s" * 32,
    )
    db = Database.from_url(settings.effective_database_url)
    upgrade(db.engine)
    caplog.set_level(logging.INFO)
    app = create_app(settings=settings, db=db, orchestrate=True)
    client = await aiohttp_client(app)
    for _ in range(500):
        if app[SLOT_KEY].current is not None:
            break
        await asyncio.sleep(0.02)
    lines = [r.getMessage() for r in caplog.records if "orchestrator on" in r.getMessage()]
    await client.close()
    db.dispose()
    assert lines, "the orchestrator did not log its broker"
    assert all("****@" in line and "streamd:" not in line for line in lines), lines
