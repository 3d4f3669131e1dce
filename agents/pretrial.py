"""The pre-hearing self-test as the agent runs it: beside the recording, never in its way.

One test at a time per room: a new `prepare` cancels the one still running. The last
report is kept so a reconnect republishes it (retained) even if the broker lost it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from agents import selftest
from agents.config import AgentConfig
from streamd_protocol import Prepare, SelfTest

log = logging.getLogger(__name__)

__all__ = ["Pretrial"]


class Pretrial:
    def __init__(
        self,
        cfg: AgentConfig,
        publish: Callable[[SelfTest], Awaitable[object]],
        probes: selftest.Probes | None = None,
    ) -> None:
        self.cfg = cfg
        self.probes = probes  # None: the real ones
        self.last: SelfTest | None = None
        self._publish = publish
        self._task: asyncio.Task[None] | None = None

    def start(self, cmd: Prepare) -> None:
        """庭前设备自检 for the hearing `cmd` prepares; the recording already runs."""
        self.cancel()
        self._task = asyncio.create_task(
            self._run(cmd), name=f"agent[{self.cfg.room.code}].selftest"
        )

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self, cmd: Prepare) -> None:
        try:
            report = await selftest.run(
                self.cfg,
                hearing_id=cmd.hearing_id,
                planned_seconds=cmd.planned_seconds,
                target=cmd.target,
                probes=self.probes,
            )
        except Exception:  # a broken check must not take the agent with it
            log.exception("self-test failed to run")
            return
        self.last = report
        for check in report.failed:
            log.warning("self-test: %s %s", check.name.value, check.detail_en)
        await self._publish(report)
