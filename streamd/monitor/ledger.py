"""The coverage ledger: what the law required to be streamed against what went out.

Pure: it takes the stream's state history (from the orchestrator's transitions) and the
probe's observations, and derives, to the millisecond,

- required: from "court discipline announced" (the stream entering `live`) to
  "adjourned" (`ended`) or an abort; still open while the hearing runs;
- authorised: inside it, the time the court chose not to broadcast (paused, off_air);
- gaps (漏播): required, not authorised, and nothing on air;
- extra (多播): courtroom picture outside the required time or during an authorised pause.

Around every state change there is an allowance (2 s by default): an encoder needs a
moment to appear after "go live", the slate a moment to replace the courtroom, and
neither is a failure. Coverage is required time minus gaps, so a hearing the court paused
and the monitor saw paused is fully covered.

Black and frozen picture count as on air (the public saw the hearing's stream) and are
listed as incidents; a frozen picture during a pause is courtroom picture (extra); a
black one is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from streamd.lifecycle import StreamState
from streamd.monitor import intervals as iv
from streamd.monitor.intervals import Span, Spans

DEFAULT_ALLOWANCE_MS = 2000


class Seen(StrEnum):
    """What a probe sample showed; the ledger stores runs of one kind as observations."""

    PICTURE = "picture"  # the courtroom
    SLATE = "slate"
    BLACK = "black"
    FROZEN = "frozen"  # the courtroom, not moving
    SILENT = "silent"  # audio, independent of the picture kinds


ON_AIR = frozenset({Seen.PICTURE, Seen.BLACK, Seen.FROZEN})
COURTROOM = frozenset({Seen.PICTURE, Seen.FROZEN})
AUTHORISED_OFF = frozenset({StreamState.PAUSED, StreamState.OFF_AIR})
CLOSING = frozenset({StreamState.ENDED, StreamState.ABORTED})


class Verdict(StrEnum):
    FULL = "full"
    GAPS = "gaps"
    EXTRA = "extra"
    GAPS_AND_EXTRA = "gaps_and_extra"
    NOT_STREAMED = "not_streamed"


@dataclass(frozen=True, slots=True)
class Observation:
    kind: Seen
    start: int  # epoch ms
    end: int


@dataclass(frozen=True, slots=True)
class Incident:
    kind: str  # gap | extra | black | frozen | silent
    start: int
    end: int

    @property
    def ms(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Coverage:
    required: Span | None
    open: bool  # the hearing has not been adjourned yet; `required` ends at `now`
    authorised: Spans
    on_air: Spans
    courtroom: Spans
    slate: Spans
    gaps: Spans
    extra: Spans
    incidents: tuple[Incident, ...]

    @property
    def required_ms(self) -> int:
        return 0 if self.required is None else self.required[1] - self.required[0]

    @property
    def gap_ms(self) -> int:
        return iv.total(self.gaps)

    @property
    def extra_ms(self) -> int:
        return iv.total(self.extra)

    @property
    def covered_ms(self) -> int:
        return self.required_ms - self.gap_ms

    @property
    def fraction(self) -> Fraction:
        if self.required_ms == 0:
            return Fraction(0)
        return Fraction(self.covered_ms, self.required_ms)

    @property
    def verdict(self) -> Verdict:
        if self.required is None:
            return Verdict.NOT_STREAMED
        if self.gaps and self.extra:
            return Verdict.GAPS_AND_EXTRA
        if self.gaps:
            return Verdict.GAPS
        if self.extra:
            return Verdict.EXTRA
        return Verdict.FULL


def required_of(states: Sequence[tuple[int, StreamState]], now: int) -> tuple[Span | None, bool]:
    """[first `live`, first `ended`/`aborted` after it); open (ends at `now`) if neither."""
    start = next((at for at, s in states if s is StreamState.LIVE), None)
    if start is None:
        return None, False
    end = next((at for at, s in states if s in CLOSING and at >= start), None)
    if end is None:
        return (start, max(start, now)), True
    return (start, end), False


def authorised_of(states: Sequence[tuple[int, StreamState]], required: Span) -> Spans:
    """The time inside `required` spent paused or off air."""
    out: list[Span] = []
    for (at, state), nxt in zip(states, [*states[1:], None], strict=True):
        if state in AUTHORISED_OFF:
            out.append((at, nxt[0] if nxt is not None else required[1]))
    return iv.intersect(iv.normalize(out), (required,))


def compute(
    states: Sequence[tuple[int, StreamState]],
    observations: Iterable[Observation],
    *,
    now: int,
    allowance_ms: int = DEFAULT_ALLOWANCE_MS,
) -> Coverage:
    """The ledger of one hearing. `states`: (epoch ms, state entered), in order."""
    states = sorted(states, key=lambda s: s[0])
    seen: dict[Seen, list[Span]] = {k: [] for k in Seen}
    for obs in observations:
        seen[obs.kind].append((obs.start, obs.end))
    runs = {k: iv.normalize(v) for k, v in seen.items()}
    on_air = iv.union(*(runs[k] for k in ON_AIR))
    courtroom = iv.union(*(runs[k] for k in COURTROOM))
    slate = runs[Seen.SLATE]
    required, still_open = required_of(states, now)
    if required is None:
        extra = iv.subtract(courtroom, iv.around((at for at, _ in states), allowance_ms))
        return Coverage(
            None, False, (), on_air, courtroom, slate, (), extra, _incidents((), extra, runs, ())
        )
    authorised = authorised_of(states, required)
    must_air = iv.subtract((required,), authorised)
    last = None if still_open else required[1]
    forgiven = iv.around((at for at, _ in states if last is None or at <= last), allowance_ms)
    gaps = iv.subtract(iv.subtract(must_air, on_air), forgiven)
    # Still open: the latest stretch may simply not have been probed yet.
    if still_open:
        gaps = iv.subtract(gaps, ((now - allowance_ms, now),))
    extra = iv.subtract(iv.subtract(courtroom, must_air), forgiven)
    return Coverage(
        required,
        still_open,
        authorised,
        on_air,
        courtroom,
        slate,
        gaps,
        extra,
        _incidents(gaps, extra, runs, must_air),
    )


def _incidents(
    gaps: Spans, extra: Spans, runs: dict[Seen, Spans], must_air: Spans
) -> tuple[Incident, ...]:
    found = [Incident("gap", s, e) for s, e in gaps]
    found += [Incident("extra", s, e) for s, e in extra]
    for kind in (Seen.BLACK, Seen.FROZEN, Seen.SILENT):
        found += [Incident(kind.value, s, e) for s, e in iv.intersect(runs[kind], must_air)]
    return tuple(sorted(found, key=lambda i: (i.start, i.kind)))
