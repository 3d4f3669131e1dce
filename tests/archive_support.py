"""The archive under test: a real aiohttp server on a port, a hearing, a TCP line to cut."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlmodel import Session, select

from streamd.config import Settings, load_settings
from streamd.models import Courtroom, Department, Hearing
from streamd.orchestrator.rooms import room_key
from streamd.store import Database
from streamd.web import create_app
from streamd_protocol import Topics

COURT_SECRET = "archive-test-court-secret"
COURT_CODE = "粤0111"  # the sample court's code, as the database holds it


def key_of(room: str) -> str:
    """The room's command key, as `streamd agent-key ROOM` prints it."""
    return room_key(COURT_SECRET, Topics(COURT_CODE, room))


def archive_settings(base: Settings, tmp: Path, **over: Any) -> Settings:
    """Settings with both archive roots, as folders that exist (mounted, in a court)."""
    for name in ("archive", "archive-backup"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    return load_settings(
        environ={},
        data_dir=str(base.data_dir),
        database_url=base.effective_database_url,
        court_config_dir=str(base.court_config_dir),
        command_secret=COURT_SECRET,
        archive_dir=str(tmp / "archive"),
        archive_backup_dir=str(tmp / "archive-backup"),
        **over,
    )


def add_hearing(db: Database, room: str = "room-01", case: int = 1) -> int:
    def write(session: Session) -> int:
        courtroom = session.exec(select(Courtroom).where(Courtroom.code == room)).one()
        dept = session.exec(select(Department)).first()
        assert dept is not None and dept.id is not None and courtroom.id is not None
        start = datetime.now(UTC) + timedelta(minutes=case)
        row = Hearing(
            case_number=f"（2026）粤0111民初{case}号",
            case_year=2026,
            case_court_code="粤0111",
            case_type_code="民初",
            case_sequence=case,
            cause="民间借贷纠纷",
            procedure="first_instance",
            session_kind="hearing",
            is_public=True,
            parties=["原告 张伟", "被告 李娜"],
            handler_judge="李明",
            clerk="王敏",
            department_id=dept.id,
            courtroom_id=courtroom.id,
            planned_start=start,
            planned_end=start + timedelta(hours=1),
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id

    return db.call(write)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """streamd's HTTP server on a fixed port, which a test may stop and start again."""

    def __init__(self, settings: Settings, db: Database, port: int | None = None) -> None:
        self.settings, self.db = settings, db
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = create_app(settings=self.settings, db=self.db)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@contextlib.asynccontextmanager
async def serving(settings: Settings, db: Database) -> AsyncIterator[Server]:
    server = Server(settings, db)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class CuttingProxy:
    """A TCP relay that cuts the first `cuts` connections after `after` bytes upstream:
    the network failing in the middle of an upload."""

    def __init__(self, target_port: int, *, cuts: int, after: int) -> None:
        self.target_port, self.cuts, self.after = target_port, cuts, after
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cut = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        cut = self.cut < self.cuts
        if cut:
            self.cut += 1

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter, limit: bool) -> None:
            sent = 0
            with contextlib.suppress(ConnectionError, OSError):
                while data := await r.read(65536):
                    if limit and sent + len(data) > self.after:
                        w.write(data[: self.after - sent])
                        await w.drain()
                        break
                    sent += len(data)
                    w.write(data)
                    await w.drain()
            for x in (w, writer, up_w):
                x.close()

        await asyncio.gather(pipe(reader, up_w, cut), pipe(up_r, writer, False))
