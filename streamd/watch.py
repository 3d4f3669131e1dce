"""What the public may see of one hearing on its watch page (`/public/watch/{id}`).

Only a hearing the announcements list would show: public, not cancelled, streamable by the
court's rules and approvals read now, and holding a line. Anything else, and an unknown id,
is None (the page answers 404: it never says that a non-public hearing exists). The player
opens the platform's play address, or the court's own HLS when the line is local; never the
push address, which carries the key. Fail closed: no player unless the hearing is on air.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from sqlmodel import Session, select

from streamd import approvals, bookings
from streamd.domain import HearingStatus, LineStatus
from streamd.lifecycle import StreamState
from streamd.models import Courtroom, Hearing, Line, Stream
from streamd.play import LinePlay, PlayKind
from streamd.policy import Eligibility, Ruleset


class Phase(StrEnum):
    NOT_STARTED = "not_started"
    LIVE = "live"
    PAUSED = "paused"
    ENDED = "ended"


LABELS = {
    Phase.NOT_STARTED: ("未开始", "not started"),
    Phase.LIVE: ("直播中", "live"),
    Phase.PAUSED: ("暂停", "paused"),
    Phase.ENDED: ("已结束", "ended"),
}
_PHASES = {
    StreamState.LIVE: Phase.LIVE,
    StreamState.PAUSED: Phase.PAUSED,
    StreamState.OFF_AIR: Phase.ENDED,
    StreamState.ENDED: Phase.ENDED,
    StreamState.ABORTED: Phase.ENDED,
}


def phase_of(state: StreamState | None) -> Phase:
    return _PHASES.get(state, Phase.NOT_STARTED) if state is not None else Phase.NOT_STARTED


@dataclass(frozen=True, slots=True)
class WatchView:
    hearing_id: int
    case_number: str
    cause: str
    courtroom: str
    start: datetime
    end: datetime
    phase: Phase
    play: tuple[PlayKind, str] | None  # what the player opens while on air
    # The platform's origin that hls.js fetches the line's playlist from (None: the court's
    # own HLS, or a play address the page only links to). The page's CSP allows just this.
    media_origin: str | None = None

    @property
    def on_air(self) -> bool:
        return self.phase in (Phase.LIVE, Phase.PAUSED)


def view(session: Session, *, hearing_id: int, rules: Ruleset) -> WatchView | None:
    hearing = session.get(Hearing, hearing_id)
    if hearing is None or not hearing.is_public:
        return None
    if hearing.status == HearingStatus.CANCELLED.value:
        return None
    if approvals.decision(session, hearing, rules).outcome is not Eligibility.STREAM:
        return None
    booking = bookings.active(session, hearing_id)
    stream = session.exec(select(Stream).where(Stream.hearing_id == hearing_id)).first()
    line_id = stream.line_id if stream is not None and stream.line_id else None
    if line_id is None and booking is not None and booking.line_status == LineStatus.ASSIGNED:
        line_id = booking.line_id
    if line_id is None:
        return None  # not on the announcements list: no line, nothing will be streamed
    line = session.get(Line, line_id)
    room = session.get(Courtroom, hearing.courtroom_id)
    if line is None or room is None:
        return None
    phase = phase_of(StreamState(stream.state) if stream is not None else None)
    play = LinePlay(line.push_url, line.stream_key, line.play_url, line.same_server).public(
        room.code
    )
    line_play = play  # the line's address whatever the phase: the page polls into it
    return WatchView(
        hearing_id=hearing_id,
        case_number=hearing.case_number,
        cause=hearing.cause,
        courtroom=room.name,
        start=hearing.planned_start,
        end=hearing.planned_end,
        phase=phase,
        play=play if phase in (Phase.LIVE, Phase.PAUSED) else None,
        media_origin=hls_origin(line_play),
    )


# An origin as a CSP source: scheme, host and port, nothing a header could be split on.
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)


def hls_origin(play: tuple[PlayKind, str] | None) -> str | None:
    """The origin of a platform HLS play address (what the watch page's player fetches
    from), or None when the player stays on the court's own origin or plays nothing."""
    if play is None or play[0] != "hls":
        return None
    parts = urlsplit(play[1])
    if parts.scheme not in ("http", "https") or "@" in parts.netloc:
        return None
    origin = f"{parts.scheme}://{parts.netloc.lower()}"
    return origin if _ORIGIN.fullmatch(origin) else None
