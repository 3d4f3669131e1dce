"""The record API: a hearing's record as JSON, its VOD playlists and its archived segments.

`GET /api/v1/hearings/{id}/record` (tracks, transcript, timeline, integrity value),
`.../record/index.m3u8` (video with the mixed audio as rendition), `.../record/video.m3u8`
and `.../record/audio.m3u8` (VOD media playlists), `.../record/video/{file_id}.ts` and
`.../record/audio/{file_id}.aac` (one archived segment, byte ranges honoured, a range
past the end answered 416; the extension is there because ffmpeg's HLS reader refuses a
segment URL without one). Who may read is decided by streamd.authz (Act.RECORD_VIEW); the
media is served from the archive as it was stored, never re-encoded or copied.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from streamd import authz
from streamd.config import Settings
from streamd.models import ArchivedFile, Hearing
from streamd.record import notes, plan, service, versions
from streamd.store import Database
from streamd.web.problems import ApiProblem, not_found
from streamd.web.routing import Api, Call, dump

M3U8 = "application/vnd.apple.mpegurl"
MEDIA_TYPES = {"video": "video/mp2t", "audio": "audio/aac"}
VIEW = authz.Act.RECORD_VIEW


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session: str = Field(min_length=1, max_length=32)
    seq: int = Field(ge=0, le=2**31 - 1)
    base_version: int = Field(ge=1, le=2**31 - 1, description="the version being corrected")
    text: str = Field(min_length=1, max_length=10_000)


class LineOut(BaseModel):
    session: str
    seq: int
    version: int
    text: str
    original: str
    versions: list[dict[str, Any]]


class RecordOut(BaseModel):
    hearing_id: int
    tracks: list[dict[str, Any]]
    transcript: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    integrity: dict[str, str] | None
    archive: dict[str, Any]
    sessions: list[str]


def playlist(text: str) -> web.Response:
    """An HLS playlist as the record's players get it: never cached, it grows with the archive."""
    return web.Response(
        text=text, content_type=M3U8, headers={"Cache-Control": "private, no-cache"}
    )


async def serve_segment(
    db: Database, settings: Settings, hearing_id: int, file_id: int, kind: str
) -> web.StreamResponse:
    """One archived segment of `hearing_id` as stored, from whichever copy has it: the one
    place staff and party playback read media from."""

    def work(session: Session) -> ArchivedFile | None:
        return service.file_row(session=session, hearing_id=hearing_id, file_id=file_id)

    row = await db.run(work)
    if row is None or row.kind != kind:
        raise not_found(f"archived {kind} segment", file_id)
    path = service.first_copy(service.roots_of(settings), row)
    if path is None:
        raise ApiProblem(404, "Not found", "the segment is in neither archive copy")
    # aiohttp answers Range itself: 206, or 416 past the end
    return web.FileResponse(
        path,
        headers={
            "Content-Type": MEDIA_TYPES[row.kind],
            "Cache-Control": "private, max-age=86400, immutable",
        },
    )


async def load_record(db: Database, settings: Settings, hearing_id: int) -> service.Record:
    roots = service.roots_of(settings)

    def work(session: Session) -> service.Record | None:
        return service.load(
            session=session, hearing_id=hearing_id, root=roots[0] if roots else None
        )

    record = await db.run(work)
    if record is None:
        raise not_found("hearing", hearing_id)
    return record


def register_record(api: Api, *, db: Database, settings: Settings) -> None:
    async def load(hearing_id: int) -> service.Record:
        return await load_record(db, settings, hearing_id)

    async def media(call: Call, kind: str) -> web.Response:
        record = await load(call.params["hearing_id"])
        pieces = record.pieces.get(kind, [])
        if not pieces:
            raise ApiProblem(404, "Not found", f"no archived {kind} for this hearing")
        return playlist(plan.media_playlist(pieces))

    @api.route(
        "GET",
        "/hearings/{hearing_id}/record",
        summary="The hearing's record: tracks, transcript lines, timeline, integrity value",
        tag="record",
        act=VIEW,
        responses={200: RecordOut},
    )
    async def get_record(call: Call) -> web.StreamResponse:
        record = await load(call.params["hearing_id"])
        return dump(RecordOut.model_validate(service.view(record)))

    @api.route(
        "GET",
        "/hearings/{hearing_id}/record/index.m3u8",
        summary="HLS master playlist: the video with the mixed audio as its rendition",
        tag="record",
        act=VIEW,
        responses={200: None},
    )
    async def get_record_index(call: Call) -> web.StreamResponse:
        record = await load(call.params["hearing_id"])
        if not record.pieces.get("video"):
            raise ApiProblem(404, "Not found", "no archived video for this hearing")
        audio = "audio.m3u8" if record.pieces.get("audio") else None
        return playlist(plan.master_playlist("video.m3u8", audio))

    @api.route(
        "GET",
        "/hearings/{hearing_id}/record/video.m3u8",
        summary="HLS VOD playlist of the archived video segments",
        tag="record",
        act=VIEW,
        responses={200: None},
    )
    async def get_record_video(call: Call) -> web.StreamResponse:
        return await media(call, "video")

    @api.route(
        "GET",
        "/hearings/{hearing_id}/record/audio.m3u8",
        summary="HLS VOD playlist of the archived mixed-audio segments",
        tag="record",
        act=VIEW,
        responses={200: None},
    )
    async def get_record_audio(call: Call) -> web.StreamResponse:
        return await media(call, "audio")

    async def segment(call: Call, kind: str) -> web.StreamResponse:
        hearing_id, file_id = call.params["hearing_id"], call.params["file_id"]
        return await serve_segment(db, settings, hearing_id, file_id, kind)

    @api.route(
        "GET",
        "/hearings/{hearing_id}/record/video/{file_id}.ts",
        summary="One archived video segment, as stored (Range requests honoured)",
        tag="record",
        act=VIEW,
        responses={200: None},
        errors=(416,),
    )
    async def get_record_video_segment(call: Call) -> web.StreamResponse:
        return await segment(call, "video")

    @api.route(
        "GET",
        "/hearings/{hearing_id}/record/audio/{file_id}.aac",
        summary="One archived mixed-audio segment, as stored (Range requests honoured)",
        tag="record",
        act=VIEW,
        responses={200: None},
        errors=(416,),
    )
    async def get_record_audio_segment(call: Call) -> web.StreamResponse:
        return await segment(call, "audio")

    @api.route(
        "POST",
        "/hearings/{hearing_id}/record/corrections",
        summary="Correct a transcript line: a new version, the earlier ones kept (Art. 7)",
        tag="record",
        act=authz.Act.RECORD_CORRECT,
        body=CorrectionIn,
        responses={201: LineOut},
        errors=(409,),
    )
    async def correct_record_line(call: Call) -> web.StreamResponse:
        hearing_id, body = call.params["hearing_id"], call.body
        assert call.user is not None
        by = call.user.username
        record = await load(hearing_id)
        line = service.find_line(record, body.session, body.seq)
        if line is None:
            raise ApiProblem(404, "Not found", "no such line in this hearing's transcript")

        def work(session: Session) -> None:
            versions.correct(
                session=session, hearing_id=hearing_id, session_name=body.session,
                seq=body.seq, original=str(line["text"]), base_version=body.base_version,
                text=body.text, by=by,
            )  # fmt: skip

        try:
            await db.run(work)
        except versions.Stale as exc:
            raise ApiProblem(409, "Conflict", str(exc)) from None
        fresh = service.view(await load(hearing_id))["transcript"]
        out = next(x for x in fresh if (x["session"], x["seq"]) == (body.session, body.seq))
        return dump(LineOut.model_validate(out), status=201)

    @api.route(
        "GET",
        "/hearings/{hearing_id}/record/transcript.docx",
        summary="The 庭审笔录 as a Word document: times, speakers, corrections",
        tag="record",
        act=VIEW,
        responses={200: None},
    )
    async def get_record_docx(call: Call) -> web.StreamResponse:
        hearing_id = call.params["hearing_id"]
        record = await load(hearing_id)

        def work(session: Session) -> Hearing | None:
            return session.get(Hearing, hearing_id)

        hearing = await db.run(work)
        assert hearing is not None
        data = notes.docx_bytes(hearing, service.view(record), settings.zone)
        return web.Response(
            body=data,
            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            headers={"Content-Disposition": f'attachment; filename="transcript-{hearing_id}.docx"'},
        )
