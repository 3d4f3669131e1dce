"""The web pages in a real headless Chromium (Debian's, driven by Playwright): each role
logs in; a clerk books a slot and runs a hearing through the console with the keyboard
alone; the technician sees it live on the wall, with the room's HLS output playing, and
acknowledges an alert; a department head approves a not-streamed application; the
administrator downloads the monthly report. Every request must stay on localhost.
Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from streamd.auth import create_user
from tests.conftest import PASSWORD, ROOT
from tests.court_support import Court
from tests.mediaroom import media_for, plays

pytestmark = [
    pytest.mark.db,
    pytest.mark.broker,
    pytest.mark.ffmpeg,
    pytest.mark.slow,
    pytest.mark.browser,
]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
ROLES = {
    "clerk": "/clerk",
    "judge": "/clerk",
    "depthead": "/approvals",
    "leader": "/approvals",
    "technician": "/wall",
    "admin": "/admin",
}


def chromium() -> str:
    found = os.environ.get("STREAMD_TEST_CHROMIUM") or shutil.which("chromium")
    if found is None:
        assert os.environ.get("CI") != "true", ".ci/run installs Debian's chromium"
        pytest.skip("no chromium: apt-get install chromium (as .ci/run does)")
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        yield b
        await b.close()


class Site:
    """One browser context per person; every request outside localhost is recorded."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.browser, self.base = browser, base
        self.outside: list[str] = []
        self.contexts: list[BrowserContext] = []

    async def person(self, user: str, lang: str = "zh") -> Page:
        ctx = await self.browser.new_context(accept_downloads=True, locale="zh-CN")
        self.contexts.append(ctx)
        page = await ctx.new_page()
        page.on("request", self._check)
        page.on("dialog", lambda d: d.accept())
        await page.goto(f"{self.base}/login?lang={lang}")
        await page.get_by_label("用户名" if lang == "zh" else "Username").fill(user)
        await page.get_by_label("密码" if lang == "zh" else "Password").fill(PASSWORD)
        await page.get_by_label("密码" if lang == "zh" else "Password").press("Enter")
        await page.wait_for_url(f"{self.base}{ROLES[user]}*")
        return page

    def _check(self, request: object) -> None:
        url = str(getattr(request, "url", ""))
        host = urlsplit(url).hostname
        if url.startswith(("http:", "https:", "ws:")) and host not in ("127.0.0.1", "localhost"):
            self.outside.append(url)

    async def close(self) -> None:
        for ctx in self.contexts:
            await ctx.close()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def tab_to(page: Page, element_id: str, limit: int = 60) -> None:
    """Press Tab until the element has focus: the keyboard-only way to reach a control."""
    for _ in range(limit):
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


async def test_the_court_runs_a_hearing_through_the_pages(
    court_: Court, browser: Browser, tmp_path: Path
) -> None:
    for user, role, dept in (
        ("judge", "judge", "civil-1"),
        ("depthead", "department_head", "civil-1"),
        ("leader", "court_leader", None),
    ):
        court_.db.call(create_user, username=user, password=PASSWORD, roles=[role], department=dept)
    site = Site(browser, str(court_.client.make_url("")).rstrip("/"))
    media = media_for(court_)
    try:
        async with court_.agent(on_command=plays(media)):
            # Everyone lands on their own page, in Chinese, and can switch to English.
            for user in ROLES:
                page = await site.person(user)
                await expect(page.get_by_role("button", name="退出")).to_be_visible()
                await shot(page, f"{user}-zh")
                await page.get_by_role("link", name="English").click()
                await expect(page.get_by_role("button", name="Log out")).to_be_visible()
                await shot(page, f"{user}-en")
                await page.close()

            # The clerk books a slot: the answer (a line) shows at once.
            hearing = await court_.hearing(book=False)
            clerk = await site.person("clerk")
            row = clerk.locator(f"#h{hearing}")
            await row.get_by_placeholder("延迟公告原因").fill("案件紧急，临时安排直播")
            await row.get_by_role("button", name="预约直播").click()
            await expect(clerk.locator("#status")).to_contain_text("已分配线路 L1")
            await expect(row).to_contain_text("线路 L1")
            await shot(clerk, "clerk-booked")

            # The console, with the keyboard alone.
            await row.get_by_role("link", name="庭审控制台").click()
            await expect(clerk.locator("#now")).to_contain_text("就绪", timeout=20_000)
            await clerk.locator("main").focus()
            await tab_to(clerk, "btn-live")
            await clerk.keyboard.press("Enter")
            await expect(clerk.locator("#now")).to_contain_text("直播中", timeout=10_000)
            await expect(clerk.locator("#status")).to_contain_text("法庭已确认")

            # The technician sees it live, with the public output playing.
            tech = await site.person("technician")
            await expect(tech.locator("#room-room-01")).to_contain_text("直播中", timeout=10_000)
            await expect(tech.locator("#room-room-01")).to_contain_text("在线")
            await tech.wait_for_function(
                "() => { const v = document.querySelector('#pv-room-01');"
                " return v && v.readyState >= 2 && v.currentTime > 0; }",
                timeout=30_000,
            )
            await tech.locator("#restart-room-01").click()  # the confirmation is accepted
            await expect(tech.locator("#status")).to_contain_text("法庭已确认")
            court_.orch.alerts.raise_(
                "test_alert", "warning", "room-01", None, "演示告警：请确认", "demo alert"
            )
            alert_row = tech.locator("tr", has_text="演示告警：请确认")
            await alert_row.get_by_role("button", name="确认").click()
            await expect(tech.locator("tr", has_text="演示告警：请确认")).to_contain_text("已确认")
            await shot(tech, "technician-wall-live")

            # Back to the console: pause with a reason, resume, a transcript line, adjourn.
            await clerk.bring_to_front()
            await tab_to(clerk, "pause-reason")
            await clerk.keyboard.type("旁听人员喧哗")
            await tab_to(clerk, "btn-pause")
            await clerk.keyboard.press("Enter")
            await expect(clerk.locator("#now")).to_contain_text("已暂停", timeout=10_000)
            await shot(clerk, "console-paused")
            await tab_to(clerk, "btn-resume")
            await clerk.keyboard.press("Enter")
            await expect(clerk.locator("#now")).to_contain_text("直播中", timeout=10_000)
            await tab_to(clerk, "tr-text")
            await clerk.keyboard.type("现在继续开庭。")
            await clerk.keyboard.press("Enter")
            await expect(clerk.locator("#status")).to_contain_text("已记录第")
            await tab_to(clerk, "btn-adjourn")
            await clerk.keyboard.press("Enter")  # the confirmation is accepted
            await expect(clerk.locator("#now")).to_contain_text("已闭庭", timeout=10_000)
            view = await court_.stream(hearing)
            assert [t["to_state"] for t in view["transitions"]][-4:] == [
                "live", "paused", "live", "ended",
            ]  # fmt: skip

            # A not-streamed application, approved by the department head in the browser.
            other = await court_.hearing(book=False, minutes=90)
            resp = await court_.client.post(
                f"/api/v1/hearings/{other}/not-streamed",
                json={"flag": "sensitive", "reason": "涉及未公开的商业信息"},
                headers=await court_.auth(),
            )
            assert resp.status in (200, 201), await resp.text()
            head = await site.person("depthead")
            card = head.locator("article", has_text="涉及未公开的商业信息")
            await card.get_by_label("意见", exact=True).fill("同意不直播")
            await card.get_by_role("button", name="批准（不直播）").click()
            await expect(head.locator("#status")).to_contain_text("已提交")
            await shot(head, "approvals")

            # The administrator's figures and the monthly report.
            admin = await site.person("admin")
            await expect(admin.get_by_role("heading", name="直播覆盖结论")).to_be_visible()
            verdict = admin.locator(f"tr:has(a[href='/console/{hearing}'])")
            await expect(verdict).to_contain_text("%")  # the streamed hearing's coverage
            await expect(verdict.locator("img")).to_have_attribute(
                "src", f"/api/v1/hearings/{hearing}/coverage.svg"
            )
            async with admin.expect_download() as info:
                await admin.locator("#report-xlsx").click()
            download = await info.value
            saved = ARTIFACTS / f"monthly-{datetime.now():%Y%m}.xlsx"
            await download.save_as(saved)
            assert saved.read_bytes()[:2] == b"PK"  # an OOXML (zip) workbook
            await shot(admin, "admin")
    finally:
        await media.stop(kill=True)
        await site.close()
    assert site.outside == [], site.outside
