"""A court for the orchestrator and monitor tests: streamd serving on a real broker and
database, with the console reached through its HTTP API (the `court_` fixture)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streamd import court
from streamd.auth import create_user, hasher_for
from streamd.config import Settings, load_settings
from streamd.orchestrator import Orchestrator
from streamd.orchestrator.rooms import room_key
from streamd.store import Database, upgrade
from streamd.web import create_app
from streamd.web.app import SLOT_KEY
from streamd_protocol import Topics
from tests.conftest import PASSWORD, Client, MakeClient, hearing_body
from tests.mqtt_support import shared_broker
from tests.simagent import simulated

SECRET = "court-secret-for-the-tests-0123456789"


def write_court(folder: Path, code: str, rooms: int = 2, lines: int = 1, prefix: str = "") -> None:
    """The test court: L1 airs the room's own HLS output; any further line pushes RTMP.
    `prefix` on its room codes: another court's on the same platform (codes are unique)."""
    folder.mkdir(parents=True, exist_ok=True)
    more = "".join(
        f'[[lines]]\ncode = "L{n}"\nname = "直播线路{n}"\n'
        f'push_url = "rtmp://127.0.0.1:1935/live"\nstream_key = "k{n}"\nsame_server = true\n'
        for n in range(2, lines + 1)
    )
    (folder / "court.toml").write_text(
        f'[court]\ncode = "{code}"\nname = "示例区人民法院"\n'
        '[[departments]]\ncode = "civil-1"\nname = "民事审判第一庭"\n'
        '[[lines]]\ncode = "L1"\nname = "直播线路一"\npush_url = "hls"\nstream_key = "k1"\n' + more,
        encoding="utf-8",
    )
    for n in range(1, rooms + 1):
        (folder / f"room-0{n}.toml").write_text(
            f'[room]\ncode = "{prefix}room-0{n}"\nname = "第{n}法庭"\ndepartment = "civil-1"\n',
            encoding="utf-8",
        )


@dataclass
class Court:
    client: Client
    settings: Settings
    db: Database
    orch: Orchestrator
    host: str
    port: int
    code: str

    def topics(self, room: str = "room-01") -> Topics:
        return Topics(self.code, room)

    def key(self, room: str = "room-01") -> str:
        return room_key(SECRET, self.topics(room))

    def agent(self, room: str = "room-01", **kw: Any) -> Any:
        return simulated(self.host, self.port, self.topics(room), self.key(room), **kw)

    async def auth(self, user: str = "clerk") -> dict[str, str]:
        resp = await self.client.post(
            "/api/v1/auth/token", json={"username": user, "password": PASSWORD}
        )
        assert resp.status == 200, await resp.text()
        return {"Authorization": f"Bearer {(await resp.json())['token']}"}

    async def hearing(self, *, book: bool = True, minutes: int = 3, **over: Any) -> int:
        start = datetime.now(UTC) + timedelta(minutes=minutes)
        body = hearing_body(
            start=start.isoformat(),
            end=(start + timedelta(hours=1)).isoformat(),
            case_number=f"（2026）粤0111民初{uuid.uuid4().int % 90000 + 1}号",
            **over,
        )
        clerk = await self.auth()
        resp = await self.client.post("/api/v1/hearings", json=body, headers=clerk)
        assert resp.status == 201, await resp.text()
        hearing_id = int((await resp.json())["id"])
        if book:
            resp = await self.client.post(
                "/api/v1/bookings",
                json={"hearing_id": hearing_id, "late_reason": "案件紧急，临时安排直播"},
                headers=clerk,
            )
            assert resp.status == 201, await resp.text()
            assert (await resp.json())["line"] == "L1"
        return hearing_id

    async def press(
        self, hearing_id: int, action: str, user: str = "clerk", **body: Any
    ) -> tuple[int, dict[str, Any]]:
        resp = await self.client.post(
            f"/api/v1/hearings/{hearing_id}/stream/{action}",
            json=body,
            headers=await self.auth(user),
        )
        return resp.status, await resp.json()

    async def stream(self, hearing_id: int) -> dict[str, Any]:
        resp = await self.client.get(
            f"/api/v1/hearings/{hearing_id}/stream", headers=await self.auth()
        )
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())

    async def until_state(self, hearing_id: int, state: str, within: float = 15) -> None:
        async def reached() -> None:
            while True:
                view = self.orch.views.get(hearing_id)
                if view is not None and view.state.value == state:
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(reached(), within)


@pytest.fixture
def court_settings() -> dict[str, Any]:
    """Settings a test module needs beyond the court's defaults (override the fixture)."""
    return {}


@pytest.fixture
def court_lines() -> int:
    """How many lines the test court has (override the fixture)."""
    return 1


@pytest.fixture
async def court_(
    tmp_path: Path,
    aiohttp_client: MakeClient,
    db_url: str,
    court_settings: dict[str, Any],
    court_lines: int,
) -> AsyncIterator[Court]:
    host, port, private = shared_broker(tmp_path)
    code = f"t{uuid.uuid4().hex[:10]}"
    write_court(tmp_path / "court", code, lines=court_lines)
    settings = load_settings(
        environ={},
        data_dir=str(tmp_path / "data"),
        database_url=db_url,
        court_config_dir=str(tmp_path / "court"),
        mqtt_url=f"mqtt://{host}:{port}",
        command_secret=SECRET,
        ack_timeout_seconds=0.5,
        command_retries=1,
        agent_silence_seconds=3,
        scheduler_seconds=0.2,
        monitor_hls=str(tmp_path / "media" / "{room}" / "hls" / "index.m3u8"),
        password_hash_time_cost=1,
        password_hash_memory_kib=8,
        **court_settings,
    )
    db = Database.from_url(settings.effective_database_url)
    upgrade(db.engine)
    db.call(court.apply_structure, structure=court.read_structure(tmp_path / "court"), actor="test")
    for user, role, dept in (
        ("clerk", "clerk", "civil-1"),  # the court's one department runs every room
        ("technician", "technician", None),
        ("admin", "admin", None),
    ):
        db.call(
            create_user,
            username=user,
            password=PASSWORD,
            roles=[role],
            department=dept,
            password_hasher=hasher_for(settings),
        )
    app = create_app(settings=settings, db=db, orchestrate=True)
    client = await aiohttp_client(app)

    async def exposed() -> Orchestrator:
        for _ in range(750):
            if (orch := app[SLOT_KEY].current) is not None:
                return orch
            await asyncio.sleep(0.02)
        raise TimeoutError("the orchestrator did not start")

    orch = await exposed()
    yield Court(client, settings, db, orch, host, port, code)
    await client.close()
    db.dispose()
    if private:
        private.kill()
