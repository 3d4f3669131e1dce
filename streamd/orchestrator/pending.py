"""Console actions held while no replica leads (a failover), and their carrying out.

A replica that takes a pause when no leader answers writes it down here and tells the
clerk it is pending; the next leader carries the held actions out, oldest first, as soon
as it has recovered. Only actions that take something off the air are held: a held
"go live" carried out seconds later could put a hearing on air that the clerk meanwhile
gave up on, so those are refused (fail closed) and pressed again.

Carrying out is at least once (a leader that dies between the step and the mark leaves the
request for the next), which is safe because these steps are idempotent by meaning: a
second pause finds the stream paused and does nothing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from streamd.domain import RequestStatus
from streamd.lifecycle import StreamAction
from streamd.models import ConsoleRequest
from streamd.orchestrator.records import Refused, StaleState
from streamd.orchestrator.service import Orchestrator

log = logging.getLogger(__name__)
# What may wait for the next leader: actions that only make less public.
HELD = frozenset({StreamAction.PAUSE, StreamAction.END_STREAM, StreamAction.ADJOURNED})
# How often the leader looks for held requests: one indexed query; a pause held because a
# follower could not reach a live leader waits at most this long.
POLL_SECONDS = 0.5


def hold(
    session: Session,
    *,
    hearing_id: int,
    action: StreamAction,
    actor: str,
    reason: str | None,
    received_by: str,
) -> ConsoleRequest:
    row = ConsoleRequest(
        hearing_id=hearing_id,
        action=action.value,
        actor=actor,
        reason=reason,
        received_by=received_by,
        status=RequestStatus.PENDING.value,
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def waiting(session: Session, *, hearing_id: int | None = None) -> list[ConsoleRequest]:
    query = select(ConsoleRequest).where(ConsoleRequest.status == RequestStatus.PENDING.value)
    if hearing_id is not None:
        query = query.where(ConsoleRequest.hearing_id == hearing_id)
    return list(session.exec(query.order_by(col(ConsoleRequest.id))))


def finish(session: Session, *, request_id: int, status: RequestStatus, outcome: str) -> None:
    row = session.get(ConsoleRequest, request_id)
    if row is None:
        return
    row.status, row.outcome, row.done_at = status.value, outcome[:500], datetime.now(UTC)
    session.add(row)
    session.commit()


async def carry_out(orch: Orchestrator) -> int:
    """Every held request, oldest first; how many were taken."""
    rows = await orch.work.call(waiting)
    for row in rows:
        assert row.id is not None
        try:
            out = await orch.act(
                row.hearing_id, StreamAction(row.action), actor=row.actor, reason=row.reason
            )
            status = RequestStatus.DONE
            text = f"{out.state.value}: {out.delivery or ('noop' if out.noop else '')}"
        except (Refused, StaleState, LookupError, ValueError) as exc:
            status, text = RequestStatus.FAILED, str(exc)
        log.info("held %s of hearing %s by %s: %s", row.action, row.hearing_id, row.actor, text)
        await orch.work.call(finish, request_id=row.id, status=status, outcome=text)
    return len(rows)


async def carry_out_loop(orch: Orchestrator, every: float) -> None:
    """On the leader: held requests are carried out within `every` seconds."""
    while True:
        try:
            await carry_out(orch)
        except Exception:
            log.exception("carrying out held console requests")
        await asyncio.sleep(every)
