"""The terms a plan is made in: the court's timing settings, the clock a plan reads, what a
hearing on air holds, its priority, and the line change a plan reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from streamd.allocation import Hold, Phase, hold
from streamd.config import Settings
from streamd.domain import SessionKind
from streamd.lifecycle import PUBLIC, StreamState
from streamd.models import Booking, Courtroom, Hearing, Stream

# A hearing in open court outranks the preparatory sessions; all are streamable.
PRIORITY = {
    SessionKind.HEARING.value: 3,
    SessionKind.CROSS_EXAMINATION.value: 2,
    SessionKind.EVIDENCE_EXCHANGE.value: 2,
    SessionKind.INQUIRY.value: 1,
}


# Streams in these states are over as far as lines go: their bookings are history.
DONE = frozenset({StreamState.OFF_AIR.value, StreamState.ENDED.value, StreamState.ABORTED.value})


_PUBLIC = frozenset(state.value for state in PUBLIC)


# How far past the window an on-air hearing's hold may reach, for the outages read.
LATEST = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Timing:
    """The court's line timing: pre/post-roll, the announcement deadline (announced
    hearings keep their line), and the step by which an overrun is re-estimated."""

    preroll: timedelta
    postroll: timedelta
    announce: timedelta
    step: timedelta = timedelta(minutes=10)

    @classmethod
    def of(cls, settings: Settings) -> Timing:
        return cls(
            preroll=timedelta(minutes=settings.line_preroll_minutes),
            postroll=timedelta(minutes=settings.line_postroll_minutes),
            announce=timedelta(days=settings.announce_days),
            step=timedelta(seconds=settings.repair_step_seconds),
        )


@dataclass(frozen=True, slots=True)
class LineChange:
    """One booking whose line changed, and why, for the clerk and the technician."""

    booking_id: int
    hearing_id: int
    room: str
    case_number: str
    before: str | None
    after: str | None
    reason: dict[str, str] | None


Row = tuple[Booking, Hearing, Courtroom, Stream | None]


def _hold_of(
    hearing: Hearing, stream: Stream | None, phase: Phase, clock: _Clock, timing: Timing
) -> Hold:
    since = stream.discipline_at if stream is not None and phase is Phase.ON_AIR else None
    return hold(
        start=clock.at(hearing.planned_start),
        end=clock.at(hearing.planned_end),
        phase=phase,
        now=clock.now,
        step=max(1, int(timing.step.total_seconds())),
        preroll=int(timing.preroll.total_seconds()),
        postroll=int(timing.postroll.total_seconds()),
        since=clock.at(since) if since is not None else None,
    )


class _Clock:
    """Datetimes to the engine's integer seconds and back, in the court's zone."""

    def __init__(self, zone: tzinfo | None, now: datetime) -> None:
        self.zone = zone
        self.now = int(now.timestamp())

    @staticmethod
    def at(moment: datetime) -> int:
        return int(moment.timestamp())

    def show(self, t: int) -> str:
        return datetime.fromtimestamp(t, self.zone).strftime("%H:%M")
