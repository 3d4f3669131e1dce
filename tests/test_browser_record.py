"""The record page in a real headless Chromium (Debian's, via Playwright): a clerk opens a
recorded hearing, clicks the third transcript line and the video lands on it, playback
moves the highlight to the next line and goes on across the recorder restart. Every
request stays on localhost. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from streamd.config import Settings
from streamd.store import Database
from tests.conftest import Client
from tests.test_browser import Site, browser, shot
from tests.test_record import recorded

pytestmark = [pytest.mark.db, pytest.mark.ffmpeg, pytest.mark.slow, pytest.mark.browser]
__all__ = ["browser"]  # the fixture shared with the tests it comes from
TIME = "() => document.getElementById('video').currentTime"


async def test_a_clerk_replays_the_record_beside_the_transcript(
    rclient: Client, database: Database, arch: Settings, browser: Browser
) -> None:
    hid, rec = await recorded(rclient, database, arch)
    site = Site(browser, str(rclient.make_url("")).rstrip("/"))
    try:
        page = await site.person("clerk")
        await page.goto(f"{site.base}/record/{hid}")
        await expect(page.get_by_role("heading", name="庭审录像回放")).to_be_visible()
        lines = page.locator("#lines > li")
        await expect(lines).to_have_count(5)
        await expect(page.locator("#timeline")).to_contain_text("录制程序重启")
        await shot(page, "record-zh")

        third = lines.nth(2)
        offset = float(await third.get_attribute("data-offset") or "nan")
        await third.locator("button.line").click()
        await page.wait_for_function(
            f"() => {{ const v = document.getElementById('video');"
            f" return v.readyState >= 2 && Math.abs(v.currentTime - {offset}) < 0.5; }}",
            timeout=15_000,
        )
        await expect(third).to_have_class("current")
        # Playing on: the highlight moves to the next line by itself.
        await expect(lines.nth(3)).to_have_class("current", timeout=10_000)
        # ... and past the end of the first run (the restart) into the second one.
        restart = rec.run_seconds[0]
        await page.wait_for_function(
            f"() => document.getElementById('video').currentTime > {restart + 1}", timeout=15_000
        )
        await expect(lines.nth(4)).to_have_class("current", timeout=10_000)
        await shot(page, "record-playing")

        # The clerk corrects the second line while replaying: a new version, shown with its
        # history (who, before, after); the first click did not seek the video.
        second = lines.nth(1)
        before = await second.locator(".text").inner_text()
        await second.get_by_role("button", name="更正第 2 行").click()
        await second.get_by_label("更正后的文字").fill("更正后的第二行。")
        await second.get_by_role("button", name="保存").click()
        await expect(second.locator(".text")).to_have_text("更正后的第二行。")
        history = second.locator("details.history")
        await history.locator("summary").click()
        await expect(history.locator(".versions > li")).to_have_count(1)
        await expect(history.locator(".before")).to_have_text(before)
        await expect(history).to_contain_text("clerk")
        await shot(page, "record-corrected")
        await page.reload()
        await expect(lines.nth(1).locator(".text")).to_have_text("更正后的第二行。")
        await expect(lines).to_have_count(5)

        await page.get_by_role("link", name="English").click()
        await expect(page.get_by_role("heading", name="Hearing record")).to_be_visible()
        await page.get_by_label("Search the transcript").fill("原告")
        await expect(page.locator("#lines > li:visible")).to_have_count(1)
        await expect(page.locator("#lines > li.match")).to_have_count(1)
        await shot(page, "record-en")
    finally:
        await site.close()
    assert site.outside == [], site.outside
