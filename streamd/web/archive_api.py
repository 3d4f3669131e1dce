"""The archive's HTTP side: courtroom agents PUT closed recording files here.

`PUT /archive/v1/files/{hearing_id}/{session}/{path}` with
`Authorization: StreamdRoom <room>:<HMAC-SHA256 of the claim with the room's command key>`,
`X-Streamd-SHA256` and `Content-Length` (both part of the claim), optionally
`X-Streamd-Offset` / `X-Streamd-Duration` (seconds). Answers: 201 stored, 200 already
stored with that hash, 400 bad path or header, 401/403 bad or foreign signature (audited),
404 unknown hearing, 409 same path with another hash (alerted, never overwritten), 411/413
no or too large a length, 422 truncated or wrong hash, 503 no archive configured, 507 the
archive root cannot be written (alerted). A refused upload leaves nothing in the archive.

Beside it, one background task backs up what the backup root missed, audits on schedule
and alerts on a room's old unshipped backlog or a nearly full archive disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError

from streamd.archive import files, ledger, service
from streamd.config import Settings
from streamd.orchestrator import court_secret, room_key
from streamd.store import Database
from streamd.web.problems import ApiProblem
from streamd_protocol import (
    SHA256,
    Claim,
    PathRefused,
    Topics,
    kind_of,
    parse_authorization,
    relative,
    signature_ok,
)

log = logging.getLogger(__name__)
ROUTE = "/archive/v1/files/{hearing_id:\\d{1,10}}/{session}/{path:.+}"
ZH_ROOT = {"archive": "归档", "backup": "备份"}
TICK_SECONDS = 5.0  # backfill and alert checks; each file's audit follows its own interval
STOP_SECONDS = 30.0
ROOM_CACHE_SECONDS = 60.0  # the keeper finishes the file in hand on shutdown


@dataclass(slots=True)
class ArchiveState:
    disk_alert: bool = False
    last_audit: datetime | None = None
    backlog_rooms: set[str] = field(default_factory=set)


STATE_KEY = web.AppKey("archive_state", ArchiveState)
CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


async def _once_more(db: Database, fn: Callable[..., None], **kw: object) -> None:
    """Run a write that may race a twin (two uploads raising the same alert at once: the
    second insert of its key fails); run again, it then finds the row and updates it."""
    try:
        await db.run(fn, **kw)
    except sa.exc.IntegrityError:
        await db.run(fn, **kw)


async def alert(db: Database, **kw: object) -> None:
    await _once_more(db, ledger.raise_, **kw)


def roots_of(settings: Settings) -> service.Roots | None:
    if settings.archive_dir is None:
        return None
    return service.Roots(settings.archive_dir, settings.archive_backup_dir)


def _float(request: web.Request, name: str) -> float | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ApiProblem(400, "Bad request", f"{name}: not a number") from None


def add_archive_routes(app: web.Application, *, db: Database, settings: Settings) -> None:
    state = app[STATE_KEY] = ArchiveState()
    secret: list[str] = []  # read once, on the first upload, never at import

    def key_for(court: str, room: str) -> str:
        if not secret:
            secret.append(court_secret(settings))
        return room_key(secret[0], Topics(court, room))

    rooms: dict[str, tuple[float, list[str]]] = {}  # room → (read at, its courts)

    async def courts_for(room: str) -> list[str]:
        """The courts a room code belongs to, cached a minute (one lookup per room, not
        per upload; never keyed by what the unsigned request claims about a hearing)."""
        now = asyncio.get_running_loop().time()
        hit = rooms.get(room)
        if hit is None or now - hit[0] > ROOM_CACHE_SECONDS:
            hit = rooms[room] = (now, await db.run(ledger.courts_of_room, room=room))
        return hit[1]

    async def refuse(claim: Claim, status: int, reason: str, *, alert: bool) -> ApiProblem:
        await _once_more(
            db,
            ledger.refused,
            claimed_room=claim.room,
            hearing_id=claim.hearing_id,
            reason=reason,
            alert=alert,
        )
        log.warning(
            "archive refused %s/%s/%s: %s", claim.hearing_id, claim.session, claim.path, reason
        )
        title = "Unauthorized" if status == 401 else "Forbidden"
        return ApiProblem(status, title, reason)

    async def put_file(request: web.Request) -> web.Response:
        roots = roots_of(settings)
        if roots is None:
            raise ApiProblem(503, "No archive", "STREAMD_ARCHIVE_DIR is not set")
        hearing_id = int(request.match_info["hearing_id"])
        session, path = request.match_info["session"], request.match_info["path"]
        try:
            rel = relative(hearing_id, session, path)
            kind = kind_of(path)
        except PathRefused as exc:
            raise ApiProblem(400, "Bad path", str(exc)) from None
        sha = request.headers.get("X-Streamd-SHA256", "").lower()
        if not SHA256.match(sha):
            raise ApiProblem(400, "Bad request", "X-Streamd-SHA256: 64 lowercase hex digits")
        size = request.content_length
        if size is None:
            raise ApiProblem(411, "Length required", "send Content-Length (no chunked uploads)")
        if size > settings.archive_max_file_bytes:
            raise ApiProblem(
                413, "Too large", f"{size} bytes; the limit is {settings.archive_max_file_bytes}"
            )
        offset, duration = (
            _float(request, "X-Streamd-Offset"),
            _float(request, "X-Streamd-Duration"),
        )
        try:
            room, signature = parse_authorization(request.headers.get("Authorization"))
        except ValueError as exc:
            raise ApiProblem(401, "Unauthorized", str(exc)) from None
        claim = Claim(room, hearing_id, session, path, sha, size)
        # The signature first: it needs only the room's key, so an unsigned request learns
        # nothing (not even whether the hearing exists) and costs no hearing lookup.
        courts = await courts_for(room)
        if not any(signature_ok(key_for(c, room), claim, signature) for c in courts):
            raise await refuse(claim, 403, f"signature is not {room}'s", alert=True)
        where = await db.run(ledger.hearing_room, hearing_id=hearing_id)
        if where is None:
            raise ApiProblem(404, "Unknown hearing", f"no hearing {hearing_id}")
        if where.court not in courts:
            raise await refuse(
                claim, 403, f"hearing {hearing_id} is not {room}'s court's", alert=True
            )
        recorders = await db.run(ledger.recorded_by, hearing_id=hearing_id, session_name=session)
        if room not in (recorders or {where.room}):
            held = ", ".join(sorted(recorders)) if recorders else where.room
            raise await refuse(
                claim,
                403,
                f"session {session} of hearing {hearing_id} was recorded by {held}, not {room}",
                alert=True,
            )
        try:
            stored = await service.ingest(
                db,
                roots,
                claim,
                kind,
                rel,
                request.content.iter_chunked(files.CHUNK),
                offset=offset,
                duration=duration,
            )
        except service.Conflict as exc:
            await alert(
                db,
                kind="archive_conflict",
                severity="critical",
                room=room,
                hearing_id=hearing_id,
                zh=f"同一路径收到不同内容，已拒收：{rel}",
                en=f"same path, other content refused: {exc}",
            )
            raise ApiProblem(409, "Conflict", str(exc)) from None
        except files.UploadRefused as exc:
            raise ApiProblem(exc.status, "Upload refused", exc.message) from None
        except (ClientPayloadError, HttpProcessingError, ConnectionError) as exc:
            # The body ended before its Content-Length: a cut line. Nothing was kept.
            log.warning("archive: upload of %s cut short: %s", rel, exc)
            raise ApiProblem(422, "Upload refused", f"truncated: {exc}") from None
        except OSError as exc:
            state.disk_alert = True
            await alert(
                db,
                kind="archive_disk",
                severity="critical",
                room=None,
                hearing_id=None,
                zh=f"归档存储无法写入：{exc.strerror or exc}",
                en=f"the archive root cannot be written: {exc}",
            )
            raise ApiProblem(507, "Archive unavailable", f"cannot write: {exc.strerror}") from None
        if state.disk_alert:
            state.disk_alert = False
            await db.run(ledger.clear, kind="archive_disk", room=None, hearing_id=None)
        body = {"sha256": sha, "outcome": stored.outcome.value, "backed_up": stored.backed_up}
        return web.json_response(body, status=201 if stored.outcome.value == "store" else 200)

    app.router.add_put(ROUTE, put_file)
    if roots_of(settings) is not None:
        app.cleanup_ctx.append(_background(db, settings, state))


def _background(db: Database, settings: Settings, state: ArchiveState) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(keep(db, settings, state, stop=stop), name="archive.keeper")
        yield
        # Stopped between two files, not cancelled: a cancelled worker thread would still
        # hold its database connection while the server closes the pool under it.
        stop.set()
        try:
            await asyncio.wait_for(task, STOP_SECONDS)
        except TimeoutError:
            log.warning("archive keeper did not stop within %s s", STOP_SECONDS)

    return ctx


async def keep(
    db: Database,
    settings: Settings,
    state: ArchiveState,
    *,
    tick: float = TICK_SECONDS,
    stop: asyncio.Event | None = None,
) -> None:
    """Backfill and alert every tick until `stop`, while the audit runs in a task of its
    own: re-reading a large archive takes hours, and the backlog and disk alerts (and the
    backup of new files) must not wait for it. Any one failure is logged and retried."""
    roots = roots_of(settings)
    assert roots is not None
    stop = stop or asyncio.Event()
    auditing: asyncio.Task[None] | None = None
    try:
        while not stop.is_set():
            try:
                await service.backfill(db, roots)
                await check_alerts(db, settings, state)
                if auditing is None or auditing.done():
                    auditing = asyncio.create_task(
                        _audit_round(db, roots, settings, state, stop), name="archive.audit"
                    )
            except Exception:
                log.exception("archive keeper")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick)
    finally:
        if auditing is not None:  # it stops between two files once `stop` is set
            await asyncio.gather(auditing, return_exceptions=True)


async def _audit_round(
    db: Database, roots: service.Roots, settings: Settings, state: ArchiveState, stop: asyncio.Event
) -> None:
    # Each file is re-read once per interval, counted from its own last check, so a
    # restart neither skips the audit nor re-reads the whole archive at once.
    try:
        stale = datetime.now(UTC) - timedelta(seconds=settings.archive_audit_seconds)
        report = await service.audit(db, roots, stale_before=stale, stop=stop)
        if report.checked:
            state.last_audit = datetime.now(UTC)
        for finding, path, detail in report.findings:
            log.error("archive audit: %s %s: %s", finding.value, path, detail)
    except Exception:
        log.exception("archive audit")


async def check_alerts(db: Database, settings: Settings, state: ArchiveState) -> None:
    """A room whose oldest unshipped segment is too old; an archive disk nearly full."""
    now = datetime.now(UTC)
    ages = await db.run(ledger.oldest_unarchived, now=now)
    late = {room for room, age in ages.items() if age > settings.archive_backlog_alert_seconds}
    for room in state.backlog_rooms - late:
        await db.run(ledger.clear, kind="archive_backlog", room=room, hearing_id=None)
    state.backlog_rooms = late
    for room, age in ages.items():
        if room in late:
            await alert(
                db,
                kind="archive_backlog",
                severity="warning",
                room=room,
                hearing_id=None,
                zh=f"{room} 有 {age:.0f} 秒前的录像段尚未归档",
                en=f"{room}: a segment closed {age:.0f} s ago is not archived yet",
            )
    for label, root in (("archive", settings.archive_dir), ("backup", settings.archive_backup_dir)):
        if root is None:
            continue
        ratio = await asyncio.to_thread(files.free_ratio, root)  # a hung NAS blocks statvfs
        if ratio is not None and ratio < settings.archive_free_alert_ratio:
            await alert(
                db,
                kind="archive_full",
                severity="critical",
                room=label,
                hearing_id=None,
                zh=f"{ZH_ROOT[label]}存储将满：剩余 {ratio:.1%}，请扩容（不得删除录像）",
                en=f"the {label} disk is nearly full: {ratio:.1%} free; add storage (never delete)",
            )
