"""The monitor's database work: what to watch, what was seen, and the ledger's inputs.

One function per unit of work, run in a worker thread (streamd.orchestrator.worker).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from streamd.lifecycle import TERMINAL, StreamState
from streamd.models import AgentEvent, Hearing, Line, ObservedRun, Stream, StreamTransition
from streamd.monitor import recording
from streamd.monitor.intervals import ms
from streamd.monitor.ledger import Coverage, Observation, Seen, compute
from streamd.monitor.report import coverage_json
from streamd.play import LinePlay


@dataclass(frozen=True, slots=True)
class Target:
    """One stream the monitor should be watching, and what it should be showing."""

    hearing_id: int
    room: str
    state: StreamState
    state_ms: int  # when it entered `state`
    since_ms: int  # the stream's first transition: nothing earlier is this hearing's
    line: LinePlay | None  # None: no line, nothing public to read
    line_code: str | None = None

    def where(self, hls_template: str) -> str | None:
        """The public output to open: the room's HLS playlist for a local line, else the
        platform's play address (the push address only on a same-server line)."""
        if self.line is None:
            return None
        return self.line.monitored(self.room, hls_template)

    @property
    def pushed(self) -> bool:
        """On a platform's line (not the court's own HLS): nothing seen at the play address
        while the room pushes is the platform's doing, not the encoder's."""
        return self.line is not None and not self.line.local


ON_AIR_STATES = frozenset({StreamState.LIVE, StreamState.PAUSED, StreamState.OFF_AIR})


def owners(found: Iterable[Target], hls_template: str) -> dict[str, Target]:
    """One hearing per public output. A room's HLS folder, or a line, carries one hearing
    at a time; what shows there is that hearing's, never the next one's being prepared:
    a stream on air owns it, else the one that ended last (output after its adjournment is
    its extra), else the earliest being prepared (picture then is before its announcement).
    """
    by_where: dict[str, list[Target]] = {}
    for t in found:
        where = t.where(hls_template)
        if where is not None:
            by_where.setdefault(where, []).append(t)

    def rank(t: Target) -> tuple[int, int]:
        if t.state in ON_AIR_STATES:
            return (0, -t.state_ms)
        if t.state in TERMINAL:
            return (1, -t.state_ms)
        return (2, t.since_ms)

    return {where: min(ts, key=rank) for where, ts in by_where.items()}


def targets(session: Session, *, now: datetime, linger_seconds: float) -> list[Target]:
    """Streams not finished, and those finished in the last `linger_seconds`: output after
    adjournment is exactly what must still be watched for."""
    recent = now - timedelta(seconds=linger_seconds)
    rows = session.exec(
        select(Stream, Line)
        .join(Line, col(Line.id) == col(Stream.line_id), isouter=True)
        .where(
            or_(
                col(Stream.state).not_in([s.value for s in TERMINAL]),
                col(Stream.state_at) >= recent,
            )
        )
    ).all()
    ids = [s.id for s, _ in rows]
    first: dict[int, datetime] = {}
    if ids:
        for stream_id, at in session.exec(
            select(StreamTransition.stream_id, StreamTransition.at).where(
                col(StreamTransition.stream_id).in_(ids)
            )
        ).all():
            first[stream_id] = min(first.get(stream_id, at), at)
    out = []
    for stream, line in rows:
        assert stream.id is not None
        out.append(
            Target(
                hearing_id=stream.hearing_id,
                room=stream.room,
                state=StreamState(stream.state),
                state_ms=ms(stream.state_at),
                since_ms=ms(first.get(stream.id, stream.created_at)),
                line=_play(line),
                line_code=line.code if line is not None else None,
            )
        )
    return out


def _play(line: Line | None) -> LinePlay | None:
    if line is None:
        return None
    return LinePlay(line.push_url, line.stream_key, line.play_url, line.same_server)


def save_runs(
    session: Session, *, hearing_id: int, room: str, runs: Iterable[tuple[str, Observation]]
) -> None:
    """Insert each run, or move its end if it is there already (runs only ever grow)."""
    for run_id, obs in runs:
        row = session.get(ObservedRun, run_id)
        if row is None:
            session.add(
                ObservedRun(
                    id=run_id,
                    hearing_id=hearing_id,
                    room=room,
                    kind=obs.kind.value,
                    start_ms=obs.start,
                    end_ms=obs.end,
                )
            )
        elif obs.end > row.end_ms:
            row.end_ms = obs.end
            session.add(row)


def last_seen(session: Session, *, hearing_id: int) -> int | None:
    """Where a restarted monitor picks up: the end of the latest run it recorded."""
    runs = session.exec(
        select(ObservedRun.end_ms).where(ObservedRun.hearing_id == hearing_id)
    ).all()
    return max(runs) if runs else None


@dataclass(frozen=True, slots=True)
class LedgerInput:
    hearing_id: int
    room: str | None
    states: list[tuple[int, StreamState]]
    observations: list[Observation]
    session_folders: list[str]  # the agent's recording folders for this hearing


def ledger_input(session: Session, *, hearing_id: int) -> LedgerInput | None:
    """None if there is no such hearing."""
    if session.get(Hearing, hearing_id) is None:
        return None
    stream = session.exec(select(Stream).where(Stream.hearing_id == hearing_id)).first()
    states: list[tuple[int, StreamState]] = []
    if stream is not None:
        states = [
            (ms(at), StreamState(to))
            for at, to in session.exec(
                select(StreamTransition.at, StreamTransition.to_state)
                .where(StreamTransition.stream_id == stream.id)
                .order_by(col(StreamTransition.id))
            ).all()
        ]
    observations = [
        Observation(Seen(r.kind), r.start_ms, r.end_ms)
        for r in session.exec(select(ObservedRun).where(ObservedRun.hearing_id == hearing_id))
    ]
    folders = []
    for data in session.exec(
        select(AgentEvent.data).where(
            AgentEvent.hearing_id == hearing_id, AgentEvent.kind == "recording_started"
        )
    ).all():
        folder = data.get("session") if isinstance(data, dict) else None
        if isinstance(folder, str) and folder not in folders:
            folders.append(folder)
    return LedgerInput(hearing_id, stream.room if stream else None, states, observations, folders)


def hearing_ids(session: Session) -> list[int]:
    return [h for h in session.exec(select(Hearing.id).order_by(col(Hearing.id))).all() if h]


def coverage(inp: LedgerInput, *, now: datetime, allowance_seconds: float) -> Coverage:
    return compute(
        inp.states, inp.observations, now=ms(now), allowance_ms=round(allowance_seconds * 1000)
    )


def hearing_coverage(
    session: Session, *, hearing_id: int, now: datetime, allowance_seconds: float
) -> dict[str, Any] | None:
    """The coverage JSON of one hearing (None: no such hearing), recording included."""
    inp = ledger_input(session=session, hearing_id=hearing_id)
    if inp is None:
        return None
    cov = coverage(inp, now=now, allowance_seconds=allowance_seconds)
    return coverage_json(
        hearing_id, inp.room, cov, recording.check(inp.session_folders, cov.required)
    )
