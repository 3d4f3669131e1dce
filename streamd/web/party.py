"""The party's side of record access: redeem a one-time code, then watch one hearing.

`/record/access` takes the code (the link the court hands over carries it); a good code is
spent and opens a party session, a cookie bound to that one grant and path-scoped to
`/party/record`, where the record page, its playlists and segments, and (if the grant
allows) the audio copy and the transcript are served for that hearing only. There is no
hearing id in these URLs, so a party cannot even name another hearing. Every refusal looks
the same to the party and is logged with what it was; code attempts are throttled per
address with the login throttle (streamd.throttle).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlmodel import Session

from streamd import throttle
from streamd.config import Settings
from streamd.models import ArchivedFile, Courtroom, Hearing, RecordGrant, utcnow
from streamd.record import access, notes, plan, service
from streamd.store import Database
from streamd.web import record_page
from streamd.web.record_api import load_record, playlist, serve_segment

COOKIE = "streamd_party"
BASE = "/party/record"
Render = Callable[..., web.Response]


@dataclass(frozen=True, slots=True)
class Party:
    grant: RecordGrant
    display_name: str


def _where(request: web.Request) -> tuple[str, str]:
    return request.remote or "?", request.headers.get("User-Agent", "")


def register_party(
    app: web.Application, *, db: Database, settings: Settings, render: Render
) -> None:
    seeks = access.SeekCounter()
    policy = throttle.Policy.of(settings)

    def refused(request: web.Request, status: int = 403) -> web.Response:
        return render(
            request,
            "party_access.html",
            {"who": None, "nav": [], "code": "", "refused": True},
            status=status,
        )

    async def note(
        request: web.Request, kind: access.AccessKind, grant: RecordGrant | None
    ) -> None:
        remote, agent = _where(request)
        await db.run(
            access.log, kind=kind, hearing_id=grant.hearing_id if grant else None,
            grant_id=grant.id if grant else None, remote=remote, user_agent=agent,
        )  # fmt: skip

    async def party(request: web.Request) -> RecordGrant:
        """The grant behind this request's party session, or a 403 page (logged)."""
        token = request.cookies.get(COOKIE, "")
        grant, refusal = (
            (await db.run(access.by_session, token=token))
            if token
            else (None, access.Refusal.UNKNOWN)
        )
        if grant is None or refusal is not None:
            await note(request, access.AccessKind.DENIED, grant)
            raise _as_error(refused(request))
        return grant

    async def form(request: web.Request) -> web.StreamResponse:
        code = request.query.get("code", "")
        return render(
            request, "party_access.html", {"who": None, "nav": [], "code": code, "refused": False}
        )

    async def redeem(request: web.Request) -> web.StreamResponse:
        data = await request.post()
        code = str(data.get("code", "")).strip()
        remote, _ = _where(request)
        key = f"party-code:{remote}"
        try:
            await db.run(throttle.begin_attempt, username=key, address=remote, policy=policy)
        except throttle.Throttled as exc:
            await note(request, access.AccessKind.DENIED, None)
            response = refused(request, status=429)
            response.headers["Retry-After"] = str(max(1, int(exc.retry_after)))
            return response
        try:
            grant, token = await db.run(access.redeem, code=code)
        except LookupError:
            await note(request, access.AccessKind.DENIED, None)
            return refused(request)
        await db.run(throttle.succeeded, username=key, address=remote)
        response = web.HTTPSeeOther(BASE)
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="Strict", path=BASE,
            max_age=max(1, int((grant.expires_at - utcnow()).total_seconds())),
            secure=request.secure,
        )  # fmt: skip
        raise response

    async def page(request: web.Request) -> web.StreamResponse:
        grant = await party(request)

        def work(session: Session) -> dict[str, Any]:
            hearing = session.get(Hearing, grant.hearing_id)
            assert hearing is not None
            record = service.load(
                session=session, hearing_id=grant.hearing_id, root=settings.archive_dir
            )
            assert record is not None
            return {
                "h": hearing,
                "room": session.get(Courtroom, hearing.courtroom_id),
                "rec": service.view(record),
            }

        ctx = await db.run(work)
        await note(request, access.AccessKind.VIEW, grant)
        return render(
            request, "record.html",
            {**ctx, "who": None, "nav": [], "clock": record_page.clock_in(settings.zone),
             "reasons_zh": record_page.REASONS_ZH, "src_base": BASE, "party": grant,
             "now": utcnow(), "access_log": None, "may_correct": False},
        )  # fmt: skip

    async def index(request: web.Request) -> web.StreamResponse:
        grant = await party(request)
        record = await load_record(db, settings, grant.hearing_id)
        if not record.pieces.get("video"):
            raise web.HTTPNotFound()
        return playlist(
            plan.master_playlist("video.m3u8", "audio.m3u8" if record.pieces.get("audio") else None)
        )

    async def media(request: web.Request) -> web.StreamResponse:
        grant = await party(request)
        kind = request.match_info["kind"]
        pieces = (await load_record(db, settings, grant.hearing_id)).pieces.get(kind, [])
        if not pieces:
            raise web.HTTPNotFound()
        return playlist(plan.media_playlist(pieces))

    async def segment(request: web.Request) -> web.StreamResponse:
        grant = await party(request)
        raw = request.match_info["file_id"]
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):
            raise web.HTTPNotFound()
        assert grant.id is not None
        if seeks.fetched(grant.id, utcnow()):
            await note(request, access.AccessKind.SEEK_HEAVY, grant)
        kind = "video" if request.match_info["ext"] == "ts" else "audio"
        return await serve_segment(db, settings, grant.hearing_id, int(raw), kind)

    async def transcript(request: web.Request) -> web.StreamResponse:
        grant = await party(request)
        if not grant.allow_transcript:
            await note(request, access.AccessKind.DENIED, grant)
            raise _as_error(refused(request))
        record = await load_record(db, settings, grant.hearing_id)
        hearing = await db.run(lambda session: session.get(Hearing, grant.hearing_id))
        assert hearing is not None
        await note(request, access.AccessKind.DOWNLOAD_TRANSCRIPT, grant)
        return web.Response(
            body=notes.docx_bytes(hearing, service.view(record), settings.zone),
            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            headers={
                "Content-Disposition": f'attachment; filename="transcript-{grant.hearing_id}.docx"'
            },
        )

    async def audio(request: web.Request) -> web.StreamResponse:
        """The audio copy (Art. 11): the archived ADTS segments one after another, as
        stored. ADTS frames carry their own headers, so the concatenation is one valid AAC
        stream: no re-encoding, no file written."""
        grant = await party(request)
        if not grant.allow_audio:
            await note(request, access.AccessKind.DENIED, grant)
            raise _as_error(refused(request))
        record = await load_record(db, settings, grant.hearing_id)
        pieces = record.pieces.get("audio", [])
        if not pieces:
            raise web.HTTPNotFound()
        await note(request, access.AccessKind.DOWNLOAD_AUDIO, grant)
        response = web.StreamResponse(
            headers={
                "Content-Type": "audio/aac",
                "Content-Disposition": f'attachment; filename="audio-{grant.hearing_id}.aac"',
            }
        )
        await response.prepare(request)
        async for chunk in _audio_bytes(
            db,
            settings,
            grant.hearing_id,
            [int(p.uri.rsplit("/", 1)[-1].split(".")[0]) for p in pieces],
        ):
            await response.write(chunk)
        await response.write_eof()
        return response

    app.router.add_get("/record/access", form)
    app.router.add_post("/record/access", redeem)
    app.router.add_get(BASE, page)
    app.router.add_get(f"{BASE}/index.m3u8", index)
    app.router.add_get(f"{BASE}/{{kind:video|audio}}.m3u8", media)
    app.router.add_get(f"{BASE}/{{kind:video|audio}}/{{file_id}}.{{ext:ts|aac}}", segment)
    app.router.add_get(f"{BASE}/transcript.docx", transcript)
    app.router.add_get(f"{BASE}/audio.aac", audio)


def _as_error(page: web.Response) -> web.HTTPException:
    """A rendered refusal page as the exception aiohttp answers with."""
    error = web.HTTPForbidden if page.status == 403 else web.HTTPTooManyRequests
    return error(text=page.text, content_type="text/html", headers={"Cache-Control": "no-store"})


async def _audio_bytes(
    db: Database, settings: Settings, hearing_id: int, file_ids: list[int]
) -> AsyncIterator[bytes]:
    for file_id in file_ids:

        def work(session: Session, fid: int = file_id) -> ArchivedFile | None:
            return service.file_row(session=session, hearing_id=hearing_id, file_id=fid)

        row = await db.run(work)
        if row is None:
            continue
        path = service.first_copy(service.roots_of(settings), row)
        if path is not None:
            yield path.read_bytes()
