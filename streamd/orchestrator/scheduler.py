"""The scheduler's loop: start recording every hearing due soon whose room is free, then
let the line plan repair itself (streamd.orchestrator.repairs).

A hearing due and blocked (the room still records another, or its agent is offline) raises
an alert once its start time has passed; it is tried again every `scheduler_seconds`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from streamd.lifecycle import RECORDING, StreamAction
from streamd.orchestrator import records, selftests
from streamd.orchestrator.records import Refused

if TYPE_CHECKING:
    from streamd.orchestrator.service import Orchestrator

log = logging.getLogger(__name__)


async def run(orch: Orchestrator) -> None:
    await orch.started.wait()
    while True:
        try:
            await prepare_due(orch)
        except Exception:
            log.exception("preparing due hearings")
        try:
            await orch.repairs.tick()
        except Exception:
            log.exception("repairing the line plan")
        await asyncio.sleep(orch.settings.scheduler_seconds)


async def prepare_due(orch: Orchestrator) -> None:
    """Start recording every hearing due within `prepare_minutes` whose room is free."""
    minutes = orch.settings.prepare_minutes
    due = await orch.work.call(
        records.due_hearings,
        now=datetime.now(UTC),
        lead=timedelta(minutes=minutes),
        rooms=list(orch.rooms),
    )
    for hearing_id, room, start in due:
        busy = [
            v
            for v in orch.watch.views_in(room)
            if v.hearing_id != hearing_id and v.state in RECORDING
        ]
        agent = orch.agents.get(room)
        if busy or agent is None or not agent.online:
            if start <= datetime.now(UTC):
                why = f"hearing {busy[0].hearing_id} still in session" if busy else "agent offline"
                orch.alerts.raise_(
                    "prepare_blocked",
                    "warning",
                    room,
                    hearing_id,
                    f"庭审 {hearing_id} 已到开庭时间但未能开始录制（{room}）",
                    f"hearing {hearing_id} is due but recording cannot start: {why}",
                )
            continue
        if orch.locks[hearing_id].locked():
            continue
        try:
            orch.delivery.prepare_facts[hearing_id] = await orch.work.call(
                selftests.prepare_facts, hearing_id=hearing_id
            )
            await orch.act(
                hearing_id,
                StreamAction.PREPARE,
                actor="scheduler",
                reason=f"{minutes} minutes before the start",
            )
            orch.alerts.clear("prepare_blocked", room, hearing_id)
        except (Refused, records.StaleState) as exc:
            log.warning("prepare %s: %s", hearing_id, exc)
