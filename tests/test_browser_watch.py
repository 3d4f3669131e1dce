"""The public watch page in a real headless Chromium: a viewer follows the announcements
page's link to a hearing, sees it not started, then playing (直播中), paused (暂停) and
ended (已结束), as the clerk runs it. Every request stays on localhost."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlmodel import Session

from streamd.models import Hearing
from tests.court_support import Court
from tests.mediaroom import media_for, plays
from tests.test_browser import Site, browser, shot

pytestmark = [
    pytest.mark.db,
    pytest.mark.broker,
    pytest.mark.ffmpeg,
    pytest.mark.slow,
    pytest.mark.browser,
]
__all__ = ["browser"]  # the fixture, shared with tests/test_browser.py
PLAYING = (
    "() => { const v = document.getElementById('video');"
    " return v && !v.hidden && v.readyState >= 2 && v.currentTime > 0.5; }"
)


async def test_a_viewer_watches_a_hearing_from_the_announcements(
    court_: Court, browser: Browser, tmp_path: Path
) -> None:
    site = Site(browser, str(court_.client.make_url("")).rstrip("/"))
    media = media_for(court_)
    try:
        async with court_.agent(on_command=plays(media)):
            hearing = await court_.hearing()
            await court_.until_state(hearing, "ready")
            ctx = await browser.new_context(locale="zh-CN")
            site.contexts.append(ctx)
            page = await ctx.new_page()
            page.on("request", site._check)
            await page.goto(f"{site.base}/public/announcements")
            await page.locator(f'a[href="/public/watch/{hearing}"]').click()
            await page.wait_for_url(f"{site.base}/public/watch/{hearing}")
            await expect(page.locator("#phase")).to_have_text("未开始")
            await expect(page.locator("#video")).to_be_hidden()

            await court_.press(hearing, "discipline-announced")
            await expect(page.locator("#phase")).to_have_text("直播中", timeout=10_000)
            await page.wait_for_function(PLAYING, timeout=30_000)
            await shot(page, "watch-live")

            await court_.press(hearing, "pause", reason="休庭十分钟")
            await expect(page.locator("#phase")).to_have_text("暂停", timeout=10_000)
            await court_.press(hearing, "resume")
            await expect(page.locator("#phase")).to_have_text("直播中", timeout=10_000)
            await court_.press(hearing, "adjourned")
            await expect(page.locator("#phase")).to_have_text("已结束", timeout=10_000)
            await expect(page.locator("#video")).to_be_hidden()
            await expect(page.locator("#waiting")).to_be_visible()
            await shot(page, "watch-ended")
            await media.stop()
    finally:
        await site.close()
    assert site.outside == [], site.outside


async def test_a_hearing_withdrawn_from_public_view_stops_playing_at_once(
    court_: Court, browser: Browser, tmp_path: Path
) -> None:
    """The page's state answers 404 (the hearing is no longer public): the player stops
    and the notice shows, instead of playing on."""
    site = Site(browser, str(court_.client.make_url("")).rstrip("/"))
    media = media_for(court_)
    try:
        async with court_.agent(on_command=plays(media)):
            hearing = await court_.hearing()
            await court_.until_state(hearing, "ready")
            ctx = await browser.new_context(locale="zh-CN")
            site.contexts.append(ctx)
            page = await ctx.new_page()
            await page.goto(f"{site.base}/public/watch/{hearing}")
            await court_.press(hearing, "discipline-announced")
            await page.wait_for_function(PLAYING, timeout=30_000)

            def private(session: Session) -> None:
                row = session.get(Hearing, hearing)
                assert row is not None
                row.is_public = False
                session.add(row)

            court_.db.call(private)
            await expect(page.locator("#gone")).to_be_visible(timeout=10_000)
            await expect(page.locator("#video")).to_be_hidden()
            stopped = "() => { const v = document.getElementById('video');"
            stopped += " return !v.getAttribute('src') || v.paused; }"
            await page.wait_for_function(stopped, timeout=5_000)
            await shot(page, "watch-withdrawn")
            await media.stop()
    finally:
        await site.close()
    assert site.outside == [], site.outside
