"""Party access to a hearing's record (SPC 2017 Art. 10, 11): a one-time code opens exactly
one hearing's record with a watermark, downloads follow the grant, every look is logged,
and expired, revoked, replayed, forged or foreign codes are refused alike."""

from __future__ import annotations

import asyncio
import io
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from docx import Document

from streamd.config import Settings
from streamd.models import RecordGrant
from streamd.store import Database
from streamd_protocol.media import ffmpeg_exe
from tests import record_support as rs
from tests.conftest import Client, make_hearing, token

pytestmark = [pytest.mark.db, pytest.mark.ffmpeg]
REFUSED = "查阅码无效、已使用、已过期或已撤销"


async def recorded(client: Client, database: Database, arch: Settings, **kw: Any) -> int:
    hid: int = (await make_hearing(client, **kw))["id"]
    assert arch.archive_dir is not None
    rs.archive(database, rs.make(arch.archive_dir, hid), hid)
    return hid


async def grant(client: Client, hid: int, who: str = "clerk", **body: Any) -> dict[str, Any]:
    payload = {"party_name": "张三", "days": 7} | body
    resp = await client.post(
        f"/api/v1/hearings/{hid}/record/grants", json=payload, headers=await token(client, who)
    )
    assert resp.status == 201, await resp.text()
    out: dict[str, Any] = await resp.json()
    return out


async def redeem(client: Client, code: str) -> int:
    resp = await client.post("/record/access", data={"code": code}, allow_redirects=False)
    if resp.status == 303:
        assert resp.headers["Location"] == "/party/record"
    else:
        assert REFUSED in await resp.text()
    return resp.status


async def access_log(client: Client, hid: int) -> list[dict[str, Any]]:
    resp = await client.get(
        f"/api/v1/hearings/{hid}/record/access", headers=await token(client, "clerk")
    )
    assert resp.status == 200, await resp.text()
    items: list[dict[str, Any]] = (await resp.json())["items"]
    return items


async def test_a_code_opens_one_hearing_with_a_watermark_and_downloads_are_logged(
    rclient: Client, database: Database, arch: Settings, tmp_path: Path
) -> None:
    hid = await recorded(rclient, database, arch)
    other = await recorded(rclient, database, arch, case_number="（2026）粤0111民初1235号")
    issued = await grant(rclient, hid, allow_audio=True, allow_transcript=True)
    assert issued["link"] == f"/record/access?code={issued['code']}"
    form = await rclient.get(issued["link"])
    assert form.status == 200 and issued["code"] in await form.text()
    assert await redeem(rclient, issued["code"]) == 303

    page = await rclient.get("/party/record")
    html = await page.text()
    assert page.status == 200, html
    assert 'id="watermark"' in html and "张三" in html
    # Full screen only with the watermark: the bare video's own control is hidden.
    assert 'controlslist="nofullscreen nodownload"' in html and 'id="wm-full"' in html
    assert "/party/record/index.m3u8" in html and f"/hearings/{other}/" not in html
    assert 'id="access-log"' not in html  # the log is for the court, not the party
    playlist = await rclient.get("/party/record/video.m3u8")
    assert playlist.status == 200 and "#EXT-X-ENDLIST" in await playlist.text()
    seg = next(x for x in (await playlist.text()).splitlines() if x.endswith(".ts"))
    assert (await rclient.get(f"/party/record/{seg}")).status == 200
    # The party's session names no other hearing, and staff URLs stay closed to it.
    assert (await rclient.get(f"/api/v1/hearings/{other}/record")).status == 401

    docx = await rclient.get("/party/record/transcript.docx")
    assert docx.status == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(await docx.read())).paragraphs)
    assert rs.LINES[0][1] in text
    audio = await rclient.get("/party/record/audio.aac")
    assert audio.status == 200 and audio.content_type == "audio/aac"
    copy = tmp_path / "copy.aac"
    copy.write_bytes(await audio.read())
    played = await asyncio.to_thread(
        subprocess.run,
        [ffmpeg_exe(), "-v", "error", "-i", str(copy), "-f", "null", "-"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert played.returncode == 0 and not played.stderr.strip(), played.stderr

    kinds = [(a["kind"], a["who"]) for a in await access_log(rclient, hid)]
    assert ("view", "张三") in kinds
    assert ("download_audio", "张三") in kinds and ("download_transcript", "张三") in kinds
    staff = await rclient.get(
        f"/api/v1/hearings/{other}/record/access", headers=await token(rclient, "clerk")
    )
    assert not [a for a in (await staff.json())["items"] if a["party"]]


async def test_replayed_forged_revoked_and_expired_codes_are_refused_alike(
    rclient: Client, database: Database, arch: Settings
) -> None:
    hid = await recorded(rclient, database, arch)
    first = await grant(rclient, hid)
    assert await redeem(rclient, first["code"]) == 303
    assert (await rclient.get("/party/record")).status == 200
    assert await redeem(rclient, first["code"]) == 403  # one time only
    assert await redeem(rclient, first["code"][:-2] + "xx") == 403  # forged

    resp = await rclient.post(
        f"/api/v1/hearings/{hid}/record/grants/{first['id']}/revoke",
        headers=await token(rclient, "judge"),
    )
    assert resp.status == 200 and (await resp.json())["revoked_by"] == "judge"
    refused = await rclient.get("/party/record")
    assert refused.status == 403 and REFUSED in await refused.text()
    assert (await rclient.get("/party/record/video.m3u8")).status == 403

    second = await grant(rclient, hid, party_name="李四")
    assert await redeem(rclient, second["code"]) == 303
    assert (await rclient.get("/party/record")).status == 200
    past = datetime.now(UTC) - timedelta(seconds=1)
    with database.session() as s:
        s.execute(
            sa.update(RecordGrant).where(RecordGrant.id == second["id"]).values(expires_at=past)
        )
    assert (await rclient.get("/party/record")).status == 403
    assert (await rclient.get("/party/record/transcript.docx")).status == 403
    kinds = [a["kind"] for a in await access_log(rclient, hid)]
    assert kinds.count("denied") >= 4


async def test_downloads_follow_the_grant(
    rclient: Client, database: Database, arch: Settings
) -> None:
    hid = await recorded(rclient, database, arch)
    issued = await grant(rclient, hid)  # view only
    assert await redeem(rclient, issued["code"]) == 303
    html = await (await rclient.get("/party/record")).text()
    assert "dl-audio" not in html and "本次授权不含下载" in html
    assert (await rclient.get("/party/record/audio.aac")).status == 403
    assert (await rclient.get("/party/record/transcript.docx")).status == 403
    assert "denied" in [a["kind"] for a in await access_log(rclient, hid)]


async def test_who_may_grant_and_what_a_grant_may_say(
    rclient: Client, database: Database, arch: Settings
) -> None:
    hid = await recorded(rclient, database, arch)
    url = f"/api/v1/hearings/{hid}/record/grants"
    body = {"party_name": "张三", "days": 7}
    for who in ("clerk-criminal", "technician", "court_leader", "department_head"):
        resp = await rclient.post(url, json=body, headers=await token(rclient, who))
        assert resp.status == 403, (who, await resp.text())
    for bad in ({"days": 0}, {"days": 91}, {"party_name": ""}, {"code": "x"}):
        resp = await rclient.post(url, json=body | bad, headers=await token(rclient, "clerk"))
        assert resp.status == 422, (bad, await resp.text())
    unknown = await rclient.post(
        "/api/v1/hearings/999999/record/grants", json=body, headers=await token(rclient, "clerk")
    )
    assert unknown.status == 404
    listed = await rclient.get(url, headers=await token(rclient, "judge"))
    assert listed.status == 200 and (await listed.json())["total"] == 0


async def test_a_non_public_hearing_opens_only_for_a_grant_that_says_so(
    rclient: Client, database: Database, arch: Settings
) -> None:
    hid = await recorded(rclient, database, arch, public=False, non_public_reason="涉及个人隐私")
    url = f"/api/v1/hearings/{hid}/record/grants"
    body = {"party_name": "张三", "days": 7}
    resp = await rclient.post(url, json=body, headers=await token(rclient, "clerk"))
    assert resp.status == 422 and "allow_non_public" in await resp.text()
    issued = await grant(rclient, hid, allow_non_public=True)
    assert await redeem(rclient, issued["code"]) == 303
    assert (await rclient.get("/party/record")).status == 200


async def test_code_guessing_is_throttled_per_address(
    rclient: Client, database: Database, arch: Settings
) -> None:
    statuses = [await redeem(rclient, f"guess-{i}") for i in range(8)]
    assert statuses[0] == 403 and 429 in statuses
