"""The demo's clerks: they book and run every hearing through streamd's HTTP API, exactly
as the console does, at the script's times. Each hearing is run by its own task, so a
hearing waiting for its room never holds up another room."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from streamd.demo.day import Cue, CueKind, Script, Timed

log = logging.getLogger(__name__)
READY_WITHIN_S = 30.0
# A hearing with a line that is refused at go-live (the one before it on that line is
# still being adjourned) is announced again, as a clerk told so would, for this long.
RETRY_OPEN_S = 5.0
LATE_REASON = "演示：当日临时安排直播 / demo: booked on the day"

Say = Callable[[str], None]
Hang = Callable[[str], Awaitable[bool]]


class ApiError(Exception):
    pass


class Api:
    """A logged-in user of the HTTP API."""

    def __init__(self, http: aiohttp.ClientSession, base: str, user: str, password: str) -> None:
        self.http, self.base, self.user, self.password = http, base, user, password
        self._token: str | None = None

    async def _headers(self) -> dict[str, str]:
        if self._token is None:
            async with self.http.post(
                f"{self.base}/api/v1/auth/token",
                json={"username": self.user, "password": self.password},
            ) as resp:
                if resp.status != 200:
                    raise ApiError(f"login as {self.user}: {resp.status} {await resp.text()}")
                self._token = (await resp.json())["token"]
        return {"Authorization": f"Bearer {self._token}"}

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(
            method, f"{self.base}/api/v1{path}", json=body, headers=await self._headers()
        ) as resp:
            return resp.status, await resp.json(content_type=None)


def detail(answer: Any) -> str:
    """An API problem's message, without the field path validation errors start with."""
    if isinstance(answer, dict):
        text = str(answer.get("detail") or answer.get("title") or answer)
        return re.sub(r"^body\.\w+: ", "", text)
    return str(answer)


@dataclass(slots=True)
class ClerkOutcome:
    """What happened to one hearing, as the clerk saw it."""

    timed: Timed
    hearing_id: int | None = None
    line: str | None = None
    not_streamed: str | None = None  # why, in the court's words
    opened: bool = False
    adjourned: bool = False
    notes: list[str] = field(default_factory=list)


class Clerks:
    def __init__(self, desks: dict[str, Api], script: Script, say: Say, hang: Hang) -> None:
        # One clerk per department: a clerk files and runs only their own department's
        # hearings (streamd.authz).
        self.desks, self.script, self.say, self.hang = desks, script, say, hang
        self.outcomes = {t.hearing.key: ClerkOutcome(t) for t in script.hearings}

    def _api(self, o: ClerkOutcome) -> Api:
        return self.desks[o.timed.hearing.department]

    # ---- before the day ------------------------------------------------------------

    async def file_and_book(self) -> None:
        """Enter the day's hearings, then book a stream slot for each: the answer shows at
        once whether a line is assigned and, if not, why."""
        for t in self.script.hearings:
            h = t.hearing
            body = {
                "case_number": h.case_number,
                "cause": h.cause,
                "session_kind": "hearing",
                "public": h.public,
                "non_public_reason": h.non_public_reason,
                "parties": list(h.parties),
                "handler_judge": h.judge,
                "clerk": h.clerk,
                "department": h.department,
                "courtroom": h.room,
                "start": t.start.isoformat(),
                "end": t.end.isoformat(),
            }
            status, out = await self._api(self.outcomes[h.key]).call("POST", "/hearings", body)
            if status not in (200, 201):
                raise ApiError(f"hearing {h.case_number}: {status} {detail(out)}")
            self.outcomes[h.key].hearing_id = out["id"]
        for t in self.script.hearings:
            o = self.outcomes[t.hearing.key]
            status, out = await self._api(o).call(
                "POST", "/bookings", {"hearing_id": o.hearing_id, "late_reason": LATE_REASON}
            )
            if status in (200, 201) and out["line"]:
                o.line = out["line"]
                answer = f"线路 {o.line} / line {o.line}"
            elif status in (200, 201):
                reason = out.get("line_reason") or {}
                o.not_streamed = reason.get("zh") or out["line_status"]
                answer = f"无线路 / no line: {o.not_streamed}"
            else:
                o.not_streamed = detail(out)
                answer = f"不予直播 / refused: {o.not_streamed}"
            self.say(
                f"[{t.hearing.start:%H:%M}] {t.hearing.room} {t.hearing.case_number} "
                f"预约直播 / booking → {answer}"
            )

    # ---- the day -------------------------------------------------------------------

    async def run_day(self) -> None:
        by_hearing: dict[str, list[Cue]] = {}
        for cue in self.script.cues:
            by_hearing.setdefault(cue.hearing, []).append(cue)
        await asyncio.gather(*(self._run(key, cues) for key, cues in by_hearing.items()))

    async def _run(self, key: str, cues: list[Cue]) -> None:
        o = self.outcomes[key]
        for cue in cues:
            delay = (cue.at - datetime.now(UTC)).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self._act(o, cue)
            except (ApiError, aiohttp.ClientError, TimeoutError) as exc:
                o.notes.append(f"{cue.kind.value}: {exc}")
                self.say(f"{self._where(o, cue)} {cue.kind.value} failed: {exc}")

    async def _act(self, o: ClerkOutcome, cue: Cue) -> None:
        hid, where = o.hearing_id, self._where(o, cue)
        if cue.kind is CueKind.OPEN:
            await self._wait_ready(o)
            status, out = await self._open(o)
            o.opened = True
            if status == 200:
                self.say(f"{where} 宣布法庭纪律，直播开始 / live on {o.line}")
            else:
                self.say(f"{where} 宣布法庭纪律，不直播 / not streamed: {detail(out)}")
            await self._transcript(o, "审判长", "现在开庭。书记员宣布法庭纪律。", 1)
        elif cue.kind is CueKind.PAUSE:
            status, out = await self._api(o).call(
                "POST", f"/hearings/{hid}/stream/pause", {"reason": cue.reason}
            )
            self.say(f"{where} 暂停直播 / pause ({cue.reason}): {_answer(status, out)}")
            await self._transcript(o, "审判长", "请法警维持法庭秩序。", 2)
        elif cue.kind is CueKind.RESUME:
            status, out = await self._api(o).call("POST", f"/hearings/{hid}/stream/resume", {})
            self.say(f"{where} 恢复直播 / resume: {_answer(status, out)}")
        elif cue.kind is CueKind.HANG:
            hung = await self.hang(o.timed.hearing.room)
            self.say(
                f"{where} 直播编码器卡死（演示故障）/ encoder hang injected: "
                + ("publisher ffmpeg frozen (SIGSTOP)" if hung else "no publisher was running")
            )
        elif cue.kind is CueKind.ADJOURN:
            await self._transcript(o, "审判长", "本案今天审理到此，现在休庭。", 3)
            status, out = await self._api(o).call("POST", f"/hearings/{hid}/stream/adjourned", {})
            o.adjourned = status == 200
            self.say(f"{where} 休庭 / adjourned: {_answer(status, out)}")

    async def _open(self, o: ClerkOutcome) -> tuple[int, Any]:
        deadline = asyncio.get_running_loop().time() + RETRY_OPEN_S
        while True:
            status, out = await self._api(o).call(
                "POST", f"/hearings/{o.hearing_id}/stream/discipline-announced", {}
            )
            if status != 409 or o.line is None or asyncio.get_running_loop().time() > deadline:
                return status, out
            await asyncio.sleep(0.25)

    async def _wait_ready(self, o: ClerkOutcome) -> None:
        """The recording starts at the planned start; the clerk waits for the console to
        show the room ready before announcing discipline."""
        deadline = asyncio.get_running_loop().time() + READY_WITHIN_S
        last: Any = None
        while asyncio.get_running_loop().time() < deadline:
            status, last = await self._api(o).call("GET", f"/hearings/{o.hearing_id}/stream")
            if status == 200 and last["state"] != "preparing":
                return
            await asyncio.sleep(0.2)
        raise ApiError(f"the room did not get ready within {READY_WITHIN_S:.0f} s: {last}")

    async def _transcript(self, o: ClerkOutcome, speaker: str, text: str, n: int) -> None:
        status, out = await self._api(o).call(
            "POST",
            f"/hearings/{o.hearing_id}/stream/transcript",
            {"speaker": speaker, "text": text, "client_key": f"demo-{o.timed.hearing.key}-{n}"},
        )
        if status != 200:
            o.notes.append(f"transcript: {detail(out)}")

    async def adjourn_all(self) -> None:
        """On Ctrl-C mid-day: close every hearing still in session, so the database and the
        recordings end in the same place."""
        for o in self.outcomes.values():
            if o.opened and not o.adjourned and o.hearing_id is not None:
                status, _ = await self._api(o).call(
                    "POST", f"/hearings/{o.hearing_id}/stream/adjourned", {}
                )
                o.adjourned = status == 200

    @staticmethod
    def _where(o: ClerkOutcome, cue: Cue) -> str:
        """The court's time of day the cue stands for, then the room and the case."""
        h = o.timed.hearing
        return f"[{cue.clock:%H:%M}] {h.room} {h.case_number}"


def _answer(status: int, out: Any) -> str:
    if status == 200:
        return f"{out.get('state')} ({out.get('delivery')})"
    return f"{status} {detail(out)}"
