"""A recorded hearing's record over HTTP: the JSON, the VOD playlist checked by `m3u8` and
played end to end by ffmpeg from streamd's own URL, byte ranges, and who may see it."""

from __future__ import annotations

import asyncio
import io

import m3u8
import pytest
import sqlalchemy as sa
from docx import Document
from sqlmodel import select

from streamd.config import Settings
from streamd.models import ArchivedFile
from streamd.store import Database
from streamd_protocol.media import ffmpeg_exe
from tests import record_support as rs
from tests.archive_support import serving
from tests.conftest import Client, make_hearing, token
from tests.test_pages import login

pytestmark = [pytest.mark.db, pytest.mark.ffmpeg]


async def recorded(client: Client, database: Database, arch: Settings) -> tuple[int, rs.Recording]:
    hid = (await make_hearing(client))["id"]
    assert arch.archive_dir is not None
    rec = rs.make(arch.archive_dir, hid)
    rs.archive(database, rec, hid)
    return hid, rec


async def test_the_record_lists_tracks_transcript_timeline_and_integrity(
    rclient: Client, database: Database, arch: Settings
) -> None:
    hid, rec = await recorded(rclient, database, arch)
    resp = await rclient.get(
        f"/api/v1/hearings/{hid}/record", headers=await token(rclient, "clerk")
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    kinds = {t["kind"]: t for t in body["tracks"]}
    assert kinds["video"]["seconds"] == pytest.approx(rec.manifest.total("video"), abs=0.01)
    assert [line["speaker"] for line in body["transcript"]] == [s for s, _ in rs.LINES]
    offsets = [line["offset_seconds"] for line in body["transcript"]]
    assert offsets[:4] == pytest.approx([1.0, 2.5, 4.0, 5.5], abs=0.01)
    assert offsets[4] == pytest.approx(rec.run_seconds[0] + 1.5, abs=0.05)  # gap skipped
    assert body["transcript"][0]["versions"][0]["text"] == rs.LINES[0][1]
    gaps = [t for t in body["timeline"] if t["kind"] == "gap"]
    assert [g["reason"] for g in gaps] == ["recorder restarted"]
    assert len(body["integrity"]["value"]) == 64


async def test_the_vod_playlist_matches_the_manifest_and_ranges_are_honoured(
    rclient: Client, database: Database, arch: Settings
) -> None:
    hid, rec = await recorded(rclient, database, arch)
    clerk = await token(rclient, "clerk")
    resp = await rclient.get(f"/api/v1/hearings/{hid}/record/video.m3u8", headers=clerk)
    assert resp.status == 200 and resp.content_type == "application/vnd.apple.mpegurl"
    parsed = m3u8.loads(await resp.text())
    listed = [s for s in rec.manifest.segments if s.kind == "video"]
    assert [s.duration for s in parsed.segments] == [s.duration for s in listed]
    assert [s.discontinuity for s in parsed.segments].count(True) == 1  # the restart only
    assert parsed.is_endlist
    with database.session() as s:
        rows = {r.id: r for r in s.exec(select(ArchivedFile)).all()}
    first = parsed.segments[0].uri
    row = rows[int(first.rsplit("/", 1)[1].removesuffix(".ts"))]
    assert row.path == listed[0].file
    url = f"/api/v1/hearings/{hid}/record/{first}"
    whole = await rclient.get(url, headers=clerk)
    assert whole.status == 200 and (await whole.read())[0] == 0x47  # an MPEG-TS sync byte
    part = await rclient.get(url, headers=clerk | {"Range": "bytes=188-375"})
    assert part.status == 206 and len(await part.read()) == 188
    past = await rclient.get(url, headers=clerk | {"Range": f"bytes={row.bytes + 10}-"})
    assert past.status == 416
    audio = m3u8.loads(
        await (await rclient.get(f"/api/v1/hearings/{hid}/record/audio.m3u8", headers=clerk)).text()
    )
    assert len(audio.segments) == len([s for s in rec.manifest.segments if s.kind == "audio"])


async def test_ffmpeg_plays_the_record_end_to_end_from_streamds_url(
    database: Database, arch: Settings, users: dict[str, str], rclient: Client
) -> None:
    hid, _ = await recorded(rclient, database, arch)
    clerk = await token(rclient, "clerk")
    async with serving(arch, database) as server:
        for name in ("video.m3u8", "index.m3u8"):
            # In a child process: the server answering it runs on this test's event loop.
            proc = await asyncio.create_subprocess_exec(
                ffmpeg_exe(), "-v", "error", "-headers",
                f"Authorization: {clerk['Authorization']}\r\n",
                "-i", f"{server.url}/api/v1/hearings/{hid}/record/{name}", "-f", "null", "-",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await asyncio.wait_for(proc.communicate(), 120)
            assert proc.returncode == 0, err.decode()[-2000:]
            assert err.decode().strip() == "", err.decode()[-2000:]


async def test_who_sees_the_record_and_bad_input_discloses_nothing(
    rclient: Client, database: Database, arch: Settings
) -> None:
    hid, _ = await recorded(rclient, database, arch)
    base = f"/api/v1/hearings/{hid}/record"
    for who, status in (("clerk", 200), ("judge", 200), ("court_leader", 200), ("admin", 200),
                        ("clerk-criminal", 403), ("technician", 403)):  # fmt: skip
        resp = await rclient.get(base, headers=await token(rclient, who))
        assert resp.status == status, (who, await resp.text())
        if status == 403:
            assert "transcript" not in await resp.text()
    clerk = await token(rclient, "clerk")
    assert (await rclient.get("/api/v1/hearings/99999/record", headers=clerk)).status == 404
    other = (await make_hearing(rclient, case_number="（2026）粤0111民初77号"))["id"]
    with database.session() as s:
        seg = s.exec(select(ArchivedFile).where(ArchivedFile.kind == "video")).first()
        manifest = s.exec(select(ArchivedFile).where(ArchivedFile.kind == "manifest")).first()
    assert seg is not None and manifest is not None
    # A segment asked for under another hearing, or a file that is no segment: not found.
    assert (
        await rclient.get(f"/api/v1/hearings/{other}/record/video/{seg.id}.ts", headers=clerk)
    ).status == 404
    assert (await rclient.get(f"{base}/video/{manifest.id}.ts", headers=clerk)).status == 404
    assert (
        await rclient.get(f"/api/v1/hearings/{other}/record/video.m3u8", headers=clerk)
    ).status == 404
    assert (await rclient.get(f"{base}/video/{seg.id}.ts")).status == 401
    assert (await rclient.get(f"{base}/audio/{seg.id}.aac", headers=clerk)).status == 404


async def test_the_record_page_is_for_the_hearings_department_only(
    rclient: Client, database: Database, arch: Settings
) -> None:
    hid, _ = await recorded(rclient, database, arch)
    for who, status in (("clerk", 200), ("court_leader", 200), ("clerk-criminal", 403),
                        ("technician", 403)):  # fmt: skip
        rclient.session.cookie_jar.clear()
        await login(rclient, who)
        for lang, heading in (("zh", "庭审录像回放"), ("en", "Hearing record")):
            resp = await rclient.get(f"/record/{hid}?lang={lang}")
            html = await resp.text()
            assert resp.status == status, (who, html[:300])
            assert (heading in html) == (status == 200)
            assert (rs.LINES[0][1] in html) == (status == 200)  # no transcript when denied
            # 09:00 UTC is 17:00 on the court's (Asia/Shanghai) clock, as its staff read it
            assert ("17:00:00" in html) == (status == 200)
    rclient.session.cookie_jar.clear()
    await login(rclient, "clerk")
    assert (await rclient.get("/record/99999")).status == 404


async def test_a_correction_keeps_the_original_and_shows_in_history_and_export(
    rclient: Client, database: Database, arch: Settings
) -> None:
    hid, _ = await recorded(rclient, database, arch)
    base = f"/api/v1/hearings/{hid}/record"
    clerk = await token(rclient, "clerk")
    fix = {"session": rs.SESSION, "seq": 3, "base_version": 1, "text": "我是原告张伟，身份证号略。"}
    resp = await rclient.post(f"{base}/corrections", json=fix, headers=clerk)
    assert resp.status == 201, await resp.text()
    line = await resp.json()
    assert (line["version"], line["text"], line["original"]) == (2, fix["text"], rs.LINES[2][1])
    assert [v["by"] for v in line["versions"]] == ["recorder", "clerk"]
    assert line["versions"][1]["before"] == rs.LINES[2][1]
    # A second correction based on the first version is stale: 409, nothing written.
    stale = await rclient.post(f"{base}/corrections", json=fix | {"text": "x"}, headers=clerk)
    assert stale.status == 409
    for body, status, who in (
        (fix | {"seq": 999}, 404, "clerk"),
        (fix | {"base_version": 2, "text": "再改"}, 403, "clerk-criminal"),
        (fix | {"base_version": 2, "text": "再改"}, 403, "judge"),
        (fix | {"text": ""}, 422, "clerk"),
    ):
        got = await rclient.post(
            f"{base}/corrections", json=body, headers=await token(rclient, who)
        )
        assert got.status == status, (body, who, await got.text())
    record = await (await rclient.get(base, headers=clerk)).json()
    third = record["transcript"][2]
    assert third["text"] == fix["text"] and len(third["versions"]) == 2
    # The original transcript file is untouched.
    assert (
        rs.LINES[2][1]
        in (arch.archive_dir / str(hid) / rs.SESSION / "transcript.jsonl").read_text()
    )  # type: ignore[operator]
    # The export carries the current text and the correction's note with the original.
    resp = await rclient.get(f"{base}/transcript.docx", headers=clerk)
    assert resp.status == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(await resp.read())).paragraphs)
    assert "庭审笔录" in text and fix["text"] in text and f"原文：{rs.LINES[2][1]}" in text
    # And no one rewrites a version, even straight in the database.
    with pytest.raises(sa.exc.DBAPIError), database.session() as s:
        s.execute(sa.text("UPDATE transcript_version SET after = 'x'"))
        s.commit()
