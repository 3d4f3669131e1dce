"""Live repair of the line plan while the court sits, and who is told about it.

The allocation engine plans on what the court can see (`streamd.allocation.holds`); this
keeps it doing so during the day. Each scheduler tick asks the database one small
question (`planning.live_signature`: who is on air and until when, which lines are out),
and only when the answer moved is the plan repaired. A hearing going live is planned afresh
first, so its line is never one an overrunning hearing still holds; a hearing on air
whose line goes down follows the plan to another line (`follow`).

Every line a repair takes away or moves is told at once: the technicians get an alert
(`line_lost`, `line_moved`), the clerks' pages a `plan` event, and the booking itself
carries the reason, in the same transaction as the change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from streamd.config import Settings
from streamd.lifecycle import StreamState
from streamd.orchestrator import records, steps
from streamd.orchestrator.alerts import AlertDesk
from streamd.orchestrator.feed import Feed
from streamd.orchestrator.records import Refused
from streamd.orchestrator.worker import Worker
from streamd.planning import LineChange, Timing
from streamd.policy import Ruleset
from streamd_protocol import CommandKind

if TYPE_CHECKING:
    from streamd.orchestrator.service import Orchestrator

log = logging.getLogger(__name__)


class PlanRepair:
    def __init__(
        self,
        *,
        work: Worker,
        alerts: AlertDesk,
        feed: Feed,
        settings: Settings,
        rules: Ruleset,
        follow: Callable[[int], Awaitable[None]],
    ) -> None:
        self.work = work
        self.follow = follow  # moves a hearing on air to the line the plan gave it
        self.alerts = alerts
        self.feed = feed
        self.zone = settings.zone
        self.timing = Timing.of(settings)
        self.rules = rules
        self.signature: records.Signature | None = None  # None: repair on the first tick

    async def tick(self) -> None:
        """Repair the plan if the day moved since the last tick."""
        signature, changes, moved = await self.work.call(
            records.live_repair,
            zone=self.zone,
            timing=self.timing,
            rules=self.rules,
            known=self.signature,
        )
        self.tell(changes)
        for hearing_id in moved:
            await self.follow(hearing_id)
        # Only now: a move that failed is tried again on the next tick.
        self.signature = None if moved else signature

    async def before_go_live(self, hearing_id: int) -> None:
        changes = await self.work.call(
            records.plan_go_live,
            hearing_id=hearing_id,
            zone=self.zone,
            timing=self.timing,
            rules=self.rules,
        )
        self.signature = None  # the hearing is about to be on air: look again next tick
        self.tell(changes)

    def tell(self, changes: Sequence[LineChange]) -> None:
        for change in changes:
            reason = change.reason or {}
            self.feed.publish(
                "plan",
                {
                    "booking_id": change.booking_id,
                    "hearing_id": change.hearing_id,
                    "room": change.room,
                    "case_number": change.case_number,
                    "before": change.before,
                    "after": change.after,
                    "reason_zh": reason.get("zh"),
                    "reason_en": reason.get("en"),
                },
            )
            log.info(
                "plan: hearing %s line %s -> %s (%s)",
                change.hearing_id,
                change.before,
                change.after,
                reason.get("en", ""),
            )
            room, hid, case = change.room, change.hearing_id, change.case_number
            if change.after is None:
                self.alerts.raise_(
                    "line_lost",
                    "warning",
                    room,
                    hid,
                    f"庭审 {case} 失去直播线路：{reason.get('zh', '')}",
                    f"hearing {case} lost its line: {reason.get('en', '')}",
                )
                continue
            self.alerts.clear("line_lost", room, hid)
            if change.before is not None:
                # A new move is news even if the last one is still on the wall.
                self.alerts.renew(
                    "line_moved",
                    "warning",
                    room,
                    hid,
                    f"庭审 {case} {reason.get('zh', '')}",
                    f"hearing {case} {reason.get('en', '')}",
                )


async def follow_line(orch: Orchestrator, hearing_id: int) -> None:
    """Move a hearing on air to the line the plan now gives it (its own went down):
    the publisher restarts on the new line, the recording is not touched. With no line
    left, nothing can go out: the technicians are told, the monitor counts the gap."""
    async with orch.locks[hearing_id]:
        view = await orch.stream(hearing_id)
        if view.state not in (StreamState.LIVE, StreamState.PAUSED):
            return
        try:
            target, line_id = await orch.work.call(
                records.publish_target, hearing_id=hearing_id, rules=orch.rules
            )
            cmd = orch.delivery.build(view, CommandKind.RESTART_PUBLISHER, target=target)
            await orch.work.call(
                records.move_line,
                stream_id=view.stream_id,
                line_id=line_id,
                command=steps.note(cmd),
                room=view.room,
                actor="orchestrator",
            )
        except Refused as exc:
            orch.alerts.raise_(
                "line_down_on_air",
                "critical",
                view.room,
                hearing_id,
                f"庭审 {hearing_id} 直播中线路故障，无其他空闲线路：{exc}",
                f"hearing {hearing_id} is on air on a line that is down, no other line: {exc}",
            )
            return
        orch.alerts.clear("line_down_on_air", view.room, hearing_id)
        ack = await orch.delivery.deliver(view, cmd)
        if ack is None or not ack.ok:
            log.warning("moving hearing %s to line %s: %s", hearing_id, line_id, ack)
