"""After a restart: what was persisted is read back, and nothing live is sent again.

The fast journal's uncopied steps go to the database first; the active streams and open
alerts are read; every room's retained state is compared with what the database says
(`reconcile`, which raises a mismatch alert and never acts on live state); and commands a
previous run sent and never heard back about are settled against that state. Only a pause
the room has not carried out is sent again: fail closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from streamd.domain import CommandStatus
from streamd.lifecycle import RECORDING, StreamState
from streamd.orchestrator import records, steps
from streamd.orchestrator.records import StreamView
from streamd_protocol import AgentPhase, AgentState, CommandKind

if TYPE_CHECKING:
    from streamd.orchestrator.service import Orchestrator

log = logging.getLogger(__name__)

EXPECTED_PHASE = {
    StreamState.BOOKED: AgentPhase.IDLE,
    StreamState.PREPARING: AgentPhase.READY,
    StreamState.READY: AgentPhase.READY,
    StreamState.LIVE: AgentPhase.LIVE,
    StreamState.PAUSED: AgentPhase.PAUSED,
    StreamState.OFF_AIR: AgentPhase.READY,
}


async def recover(orch: Orchestrator) -> None:
    """Copy the journal's pending steps, then read the active streams and open alerts."""
    for key, data in orch.journal.pending():
        await orch.work.call(records.persist_step, **steps.from_entry(data))
        orch.journal.copied(key)
    orch.journal.compact()
    for view in await orch.work.call(records.active_streams):
        orch.views[view.hearing_id] = view
    for alert in await orch.work.call(
        records.list_alerts, open_only=True, limit=10_000, court_id=None, every_court=True
    ):
        orch.alerts.open_keys.add(alert.key)
    log.info("orchestrator: %d active streams after recovery", len(orch.views))


def reconcile(orch: Orchestrator, room: str, state: AgentState) -> None:
    """Compare a room's report with what the database says; never act on live state."""
    for view in orch.watch.views_in(room):
        if orch.locks[view.hearing_id].locked() or view.going_live:
            continue  # a step is in flight; its ack will tell
        if state.hearing_id not in (None, view.hearing_id):
            continue
        expected = EXPECTED_PHASE.get(view.state)
        if expected is None:
            continue
        if view.state is StreamState.PREPARING and state.phase is AgentPhase.READY:
            orch.work.spawn(_promote_prepared(orch, view))
            continue
        if expected is not state.phase and view.state in RECORDING:
            orch.alerts.raise_(
                "state_mismatch",
                "warning",
                room,
                view.hearing_id,
                f"庭审 {view.hearing_id} 记录为 {view.state.value}，法庭报告 {state.phase.value}",
                f"hearing {view.hearing_id} is {view.state.value} here, "
                f"the room reports {state.phase.value}",
            )
        elif expected is state.phase:
            orch.alerts.clear("state_mismatch", room, view.hearing_id)


async def _promote_prepared(orch: Orchestrator, view: StreamView) -> None:
    async with orch.locks[view.hearing_id]:
        if view.state is StreamState.PREPARING:
            await orch.prepared(view, "recording confirmed by the room's state")


async def settle_after_restart(orch: Orchestrator) -> None:
    """Commands a previous run sent and never heard back about: settle them against the
    rooms' retained state once it has arrived. Resent only if it is a pause the room has
    not carried out."""
    await orch.started.wait()
    await asyncio.sleep(orch.settings.ack_timeout_seconds)
    for row in await orch.work.call(records.unanswered):
        if orch.delivery.in_flight(row.id):
            continue  # ours, in flight
        stream_view = next((v for v in orch.views.values() if v.stream_id == row.stream_id), None)
        agent = orch.agents.get(row.room)
        phase = agent.state.phase if agent and agent.state else None
        expected = EXPECTED_PHASE.get(stream_view.state) if stream_view else AgentPhase.IDLE
        if phase is not None and phase is expected:
            await orch.work.later(
                records.command_answered,
                command_id=row.id,
                status=CommandStatus.ACKED,
                message="confirmed by the room's state after streamd restarted",
            )
            continue
        await orch.work.later(
            records.command_answered,
            command_id=row.id,
            status=CommandStatus.UNACKNOWLEDGED,
            message=f"unanswered before streamd restarted; the room reports {phase}",
        )
        if (
            stream_view is not None
            and row.kind == CommandKind.PAUSE.value
            and phase is AgentPhase.LIVE
            and stream_view.state is StreamState.PAUSED
        ):
            cmd = orch.delivery.build(stream_view, CommandKind.PAUSE, reason="pause re-sent")
            orch.work.spawn(orch.delivery.deliver(stream_view, cmd))
