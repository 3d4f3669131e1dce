"""The web pages, server side: each role's pages render in Chinese and English, refuse
other roles, ask strangers to log in, and reference nothing outside streamd."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import PASSWORD, Client, make_hearing

pytestmark = pytest.mark.db
PAGES = {
    "clerk": ["/clerk"],
    "department_head": ["/approvals"],
    "technician": ["/wall"],
    "admin": ["/admin", "/clerk", "/wall", "/approvals"],
}


async def login(client: Client, user: str) -> str:
    resp = await client.post("/api/v1/auth/session", json={"username": user, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    csrf: str = (await resp.json())["csrf_token"]
    return csrf


def assets_are_local(html: str) -> None:
    for ref in re.findall(r'(?:src|href|action)="([^"]+)"', html):
        assert not re.match(r"^(https?:)?//", ref), ref


async def test_strangers_are_sent_to_log_in_and_the_login_page_is_local(client: Client) -> None:
    resp = await client.get("/clerk", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login?next=/clerk"
    resp = await client.get("/login")
    html = await resp.text()
    assert resp.status == 200 and "登录" in html
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assets_are_local(html)
    resp = await client.get("/login?next=//evil.example/x")
    assert 'data-then="/"' in await resp.text()  # never an open redirect


@pytest.mark.parametrize("role", list(PAGES))
async def test_each_role_sees_its_pages_in_chinese_and_english(client: Client, role: str) -> None:
    await make_hearing(
        client,
        start=datetime.now(UTC).isoformat(),
        end=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    )
    await login(client, role)
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == PAGES[role][0]
    for path in PAGES[role]:
        zh = await client.get(path + "?lang=zh")
        html_zh = await zh.text()
        assert zh.status == 200, html_zh
        assert 'lang="zh-CN"' in html_zh and "退出" in html_zh
        assets_are_local(html_zh)
        en = await client.get(path + "?lang=en")
        html_en = await en.text()
        assert en.status == 200 and 'lang="en"' in html_en and "Log out" in html_en
        assert "退出" not in html_en
    # the language sticks (cookie)
    again = await client.get(PAGES[role][0])
    assert 'lang="en"' in await again.text()


async def test_a_role_cannot_open_another_roles_page(client: Client) -> None:
    await login(client, "clerk")
    resp = await client.get("/wall")
    assert resp.status == 403 and "无权访问" in await resp.text()


async def test_the_console_renders_and_a_part_renders_alone(client: Client) -> None:
    hearing = await make_hearing(client)
    await login(client, "clerk")
    resp = await client.get(f"/console/{hearing['id']}")
    html = await resp.text()
    assert resp.status == 200
    for label in ("宣布法庭纪律", "暂停直播", "恢复直播", "休庭", "暂停原因（必填）"):
        assert label in html
    assert 'accesskey="p"' in html and "required" in html
    part = await client.get(f"/console/{hearing['id']}?part=now")
    text = await part.text()
    assert part.status == 200 and "<html" not in text and "未开始录制" in text
    assert (await client.get(f"/console/{hearing['id']}?part=nope")).status == 404
    assert (await client.get("/console/999999")).status == 404
    # beyond the database's id range (20 digits overflow SQLite, 12 PostgreSQL's int32), and
    # a digit str.isdigit() accepts: not found, never a 500
    for bad in ("9" * 20, "9" * 12, "%D9%A3"):
        assert (await client.get(f"/console/{bad}")).status == 404, bad


async def test_actions_from_pages_need_the_sessions_csrf_token(client: Client) -> None:
    hearing = await make_hearing(client)
    csrf = await login(client, "clerk")
    body = {"hearing_id": hearing["id"], "late_reason": "临时安排"}
    resp = await client.post("/api/v1/bookings", json=body)
    assert resp.status == 403
    resp = await client.post("/api/v1/bookings", json=body, headers={"X-CSRF-Token": csrf})
    assert resp.status == 201, await resp.text()
    page = await client.get("/clerk?day=" + hearing["start"][:10])
    assert "L1" in await page.text()


async def test_static_assets_are_served(client: Client) -> None:
    for path in ("/static/app.js", "/static/app.css", "/static/vendor/hls.min.js"):
        resp = await client.get(path)
        assert resp.status == 200, path
    assert "sourceMappingURL" not in await (await client.get("/static/vendor/hls.min.js")).text()


async def test_the_wall_lists_the_lines_and_a_technician_reports_one_down(client: Client) -> None:
    csrf = await login(client, "technician")
    html = await (await client.get("/wall?part=lines")).text()
    assert "<html" not in html
    for code in ("L1", "L2", "L3", "L4"):
        assert f'id="down-{code}"' in html
    match = re.search(r'data-api="(/api/v1/lines/\d+/outages)"', html)
    assert match is not None and "正常" in html
    resp = await client.post(
        match.group(1), json={"reason": "平台推流失败"}, headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 201, await resp.text()
    outage = await resp.json()
    html = await (await client.get("/wall?part=lines&lang=en")).text()
    assert "平台推流失败" in html and "until restored" in html
    assert f'data-api="/api/v1/outages/{outage["id"]}/restore"' in html
