"""Live repair of the line plan on a real database: what the planner does when the day
does not keep to the plan (a hearing on air runs over, one starts late, one ends early),
and the go-live check that never puts two hearings on one line.

The rows a running court would have (hearings, bookings, streams on air) are written as
the orchestrator writes them; the planner is the real one, with `now` given."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from streamd import bookings, outages, planning
from streamd.allocation import Line as Channel
from streamd.domain import SessionKind
from streamd.hearings import HearingCreate, upsert_hearing
from streamd.lifecycle import StreamState
from streamd.models import (
    AuditEntry,
    Booking,
    Courtroom,
    Hearing,
    Line,
    LineOutage,
    Stream,
    User,
)
from streamd.orchestrator import records
from streamd.policy import load_rules
from streamd.store import Database

pytestmark = pytest.mark.db

ZONE = ZoneInfo("Asia/Shanghai")
RULES = load_rules(None)
TIMING = planning.Timing(
    preroll=timedelta(minutes=5),
    postroll=timedelta(minutes=5),
    announce=timedelta(days=3),
    step=timedelta(minutes=10),
)
_cases = itertools.count(1)


def at(hh: int, mm: int = 0) -> datetime:
    """A clock time on a day a week ahead (bookings must be for the future)."""
    day = (datetime.now(ZONE) + timedelta(days=7)).date()
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZONE)


class Day:
    """A court day on the sample court, with as many lines active as the test wants."""

    def __init__(self, db: Database, lines: int) -> None:
        self.db = db
        with db.session() as s:
            for line in s.exec(select(Line)).all():
                line.active = int(line.code[1:]) <= lines
                s.add(line)
        self.clerk = db.call(lambda session: session.exec(select(User)).first())

    def hearing(
        self, room: str, start: datetime, end: datetime, kind: SessionKind = SessionKind.HEARING
    ) -> int:
        dept = {"room-01": "civil-1", "room-02": "civil-1", "room-03": "civil-2"}[room]
        data = HearingCreate(
            case_number=f"（2026）粤0111民初{8000 + next(_cases)}号",
            cause="民间借贷纠纷",
            session_kind=kind,
            public=True,
            parties=["原告 张伟", "被告 李娜"],
            handler_judge="李明",
            clerk="王敏",
            department=dept,
            courtroom=room,
            start=start,
            end=end,
        )

        def work(session: Session) -> int:
            hearing, _ = upsert_hearing(session=session, data=data, actor="test")
            assert hearing.id is not None
            return hearing.id

        return self.db.call(work)

    def book(self, hearing_id: int) -> None:
        def work(session: Session) -> None:
            user = session.exec(select(User)).first()
            assert user is not None
            bookings.book(
                session=session,
                data=bookings.BookingCreate(hearing_id=hearing_id),
                user=user,
                rules=RULES,
                announce=TIMING.announce,
            )
            self.replan(session, at(9), now=at(7), actor="clerk")

        self.db.call(work)

    def replan(
        self,
        session: Session,
        around: datetime,
        *,
        now: datetime,
        starting: int | None = None,
        actor: str = "orchestrator",
    ) -> list[planning.LineChange]:
        return planning.replan(
            session=session,
            around=around,
            zone=ZONE,
            timing=TIMING,
            rules=RULES,
            actor=actor,
            now=now,
            starting=starting,
        )

    def repair(self, now: datetime, starting: int | None = None) -> list[planning.LineChange]:
        return self.db.call(lambda session: self.replan(session, now, now=now, starting=starting))

    def on_air(
        self, hearing_id: int, since: datetime, state: StreamState = StreamState.LIVE
    ) -> None:
        """The stream as the orchestrator leaves it after a go-live (or later steps)."""

        def work(session: Session) -> None:
            hearing = session.get(Hearing, hearing_id)
            booking = bookings.active(session, hearing_id)
            assert hearing is not None and booking is not None
            room = session.get(Courtroom, hearing.courtroom_id)
            assert room is not None
            row = session.exec(select(Stream).where(Stream.hearing_id == hearing_id)).first()
            row = row or Stream(
                hearing_id=hearing_id, courtroom_id=room.id or 0, room=room.code, state=""
            )
            row.state = state.value
            if state is not StreamState.READY:  # recording only: not on any line yet
                row.line_id = row.line_id or booking.line_id
                row.discipline_at = row.discipline_at or since
            if state in (StreamState.ENDED, StreamState.OFF_AIR):
                row.adjourned_at = since
            session.add(row)

        self.db.call(work)

    def booking(self, hearing_id: int) -> Booking:
        def work(session: Session) -> Booking:
            row = bookings.active(session, hearing_id)
            assert row is not None
            return row

        return self.db.call(work)

    def line(self, hearing_id: int) -> str | None:
        def work(session: Session) -> str | None:
            row = bookings.active(session, hearing_id)
            assert row is not None
            line = session.get(Line, row.line_id) if row.line_id is not None else None
            return line.code if line is not None else None

        return self.db.call(work)

    def case(self, hearing_id: int) -> str:
        return self.db.call(lambda session: session.get(Hearing, hearing_id).case_number)

    def add_line(self, code: str, *, active: bool = True) -> None:
        def work(session: Session) -> None:
            line = session.exec(select(Line).where(Line.code == code)).one()
            line.active = active
            session.add(line)

        self.db.call(work)


@pytest.fixture
def day(database: Database, users: dict[str, str]) -> Iterator[Day]:
    yield Day(database, lines=1)


def test_an_overrun_moves_the_next_hearing_to_a_free_line_and_says_why(day: Day) -> None:
    a = day.hearing("room-01", at(9), at(10))
    b = day.hearing("room-02", at(10, 10), at(11))  # on A's line: 10:05 is A's post-roll end
    day.book(a)
    day.book(b)
    assert day.line(a) == day.line(b) == "L1"
    day.add_line("L2")
    day.on_air(a, at(9))
    assert day.repair(at(9, 30)) == []  # on time: nothing moves
    changes = day.repair(at(10, 1))  # A is still on air past its planned end
    assert day.line(a) == "L1" and day.line(b) == "L2"
    assert [(c.hearing_id, c.before, c.after) for c in changes] == [(b, "L1", "L2")]
    reason = day.booking(b).line_reason
    assert reason is not None
    assert "线路由 L1 改为 L2" in reason["zh"] and day.case(a) in reason["zh"]
    assert "超时" in reason["zh"] and "running over" in reason["en"]
    assert changes[0].reason == reason and changes[0].room == "room-02"
    audit = day.db.call(
        lambda session: session.exec(
            select(AuditEntry).where(
                AuditEntry.action == "booking.line", AuditEntry.actor == "orchestrator"
            )
        ).all()
    )
    assert [e.object_id for e in audit] == [str(day.booking(b).id)]
    # The same moment again changes nothing, and the moved hearing keeps its reason.
    assert day.repair(at(10, 2)) == []
    assert day.booking(b).line_reason == reason


def test_with_no_free_line_the_lowest_priority_future_hearing_yields(day: Day) -> None:
    day.add_line("L2")
    a = day.hearing("room-01", at(9), at(10))
    b = day.hearing("room-02", at(10, 10), at(11))
    inquiry = day.hearing("room-03", at(10, 10), at(11), SessionKind.INQUIRY)
    for h in (a, b, inquiry):
        day.book(h)
    assert {day.line(a), day.line(inquiry)} == {"L1", "L2"} and day.line(b) == day.line(a)
    day.on_air(a, at(9))
    changes = day.repair(at(10, 1))
    assert day.line(a) == "L1" and day.line(b) == "L2" and day.line(inquiry) is None
    lost = day.booking(inquiry)
    assert lost.line_status == "no_line" and lost.line_reason is not None
    assert day.case(b) in lost.line_reason["zh"]
    assert {(c.hearing_id, c.after) for c in changes} == {(b, "L2"), (inquiry, None)}


def test_a_late_start_moves_the_next_hearing_when_it_goes_live_not_before(day: Day) -> None:
    a = day.hearing("room-01", at(9), at(10))
    b = day.hearing("room-02", at(10, 10), at(11))
    day.book(a)
    day.book(b)
    day.add_line("L2")
    assert day.repair(at(9, 35)) == []  # late, but nothing is moved on a guess
    assert day.line(a) == day.line(b) == "L1"
    # A goes live at 9:40: it is expected to run its hour, to 10:40, past B's start.
    changes = day.repair(at(9, 40), starting=a)
    assert day.line(a) == "L1" and day.line(b) == "L2"
    assert [(c.hearing_id, c.before, c.after) for c in changes] == [(b, "L1", "L2")]
    assert changes[0].reason is not None and "迟延开庭" in changes[0].reason["zh"]
    day.on_air(a, at(9, 40))
    assert day.repair(at(10, 20)) == []  # on air until 10:40 as expected: nothing new


def test_going_live_late_takes_the_line_from_a_hearing_still_to_come(day: Day) -> None:
    """One line: the hearing starting now keeps it; the later one yields, and is told."""
    a = day.hearing("room-01", at(9), at(10))
    b = day.hearing("room-02", at(10, 10), at(11))
    day.book(a)
    day.book(b)
    day.repair(at(9, 40), starting=a)
    assert day.line(a) == "L1" and day.line(b) is None
    reason = day.booking(b).line_reason
    assert reason is not None and day.case(a) in reason["zh"]


def test_a_hearing_that_ends_early_frees_its_line_for_a_later_one(day: Day) -> None:
    a = day.hearing("room-01", at(9), at(11))
    b = day.hearing("room-02", at(10), at(11))
    day.book(a)
    day.book(b)
    assert day.line(a) == "L1" and day.line(b) is None
    day.on_air(a, at(9))
    day.on_air(a, at(9, 30), StreamState.ENDED)
    changes = day.repair(at(9, 31))
    assert day.line(b) == "L1" and [(c.hearing_id, c.after) for c in changes] == [(b, "L1")]
    assert day.line(a) == "L1"  # what A held is history, untouched


def test_a_late_hearing_without_a_line_is_not_given_one_until_it_goes_live(day: Day) -> None:
    """It may be sitting without a stream: a line now would air only its end (漏播), and
    it could take the line of a hearing starting on time."""
    a = day.hearing("room-01", at(9), at(9, 40))
    c = day.hearing("room-02", at(9, 30), at(10, 30))
    day.book(a)
    day.book(c)
    before = day.booking(c)
    assert before.line_status == "no_line"
    day.on_air(a, at(9))
    day.on_air(a, at(9, 40), StreamState.ENDED)
    assert day.repair(at(9, 41)) == []
    after = day.booking(c)
    assert after.line_id is None and after.line_reason == before.line_reason
    # Its clerk announces discipline now: the plan gives it the free line.
    changes = day.repair(at(9, 42), starting=c)
    assert day.line(c) == "L1" and [(ch.hearing_id, ch.after) for ch in changes] == [(c, "L1")]


def test_two_streams_on_one_line_never_stop_the_planner(day: Day) -> None:
    day.add_line("L2")
    a = day.hearing("room-01", at(9), at(10))
    b = day.hearing("room-02", at(9, 30), at(10, 30))
    day.book(a)
    day.book(b)
    day.on_air(a, at(9))
    # A stream that (somehow) went out on A's line too: planned as displaced, not fixed.
    day.db.call(lambda session: _force_line(session, b, "L1"))
    day.on_air(b, at(9, 30))
    day.repair(at(9, 35))
    assert day.line(a) == "L1" and day.line(b) == "L2"


def _force_line(session: Session, hearing_id: int, code: str) -> None:
    booking = bookings.active(session, hearing_id)
    line = session.exec(select(Line).where(Line.code == code)).one()
    assert booking is not None
    booking.line_id = line.id
    booking.line_status = "assigned"
    session.add(booking)


def test_go_live_refuses_a_line_another_hearing_is_on_air_on(day: Day) -> None:
    a = day.hearing("room-01", at(9), at(10))
    b = day.hearing("room-02", at(9, 30), at(10, 30))
    day.book(a)
    day.book(b)
    day.on_air(a, at(9))
    day.db.call(lambda session: _force_line(session, b, "L1"))  # a stale plan

    def target(session: Session) -> object:
        return records.publish_target(session=session, hearing_id=b, rules=RULES)

    with pytest.raises(records.Refused, match="正在直播"):
        day.db.call(target)
    # The repair before a go-live takes the stale line away and says who holds it.
    day.repair(at(9, 31), starting=b)
    assert day.line(b) is None
    reason = day.booking(b).line_reason
    assert reason is not None and day.case(a) in reason["zh"]


def test_the_live_signature_moves_only_when_the_plan_must(day: Day) -> None:
    a = day.hearing("room-01", at(9), at(10))
    day.book(a)

    def signature(now: datetime) -> tuple[tuple[int, str, int], ...]:
        return day.db.call(
            lambda session: planning.live_signature(session=session, now=now, timing=TIMING)
        )

    assert signature(at(8, 50)) == signature(at(9, 5)) == ()  # lateness alone moves nothing
    day.on_air(a, at(9, 12))  # 12 minutes late: expected until 10:12
    on_air = signature(at(9, 30))
    assert on_air and on_air == signature(at(10, 11))
    over = signature(at(10, 13))
    assert over != on_air and over == signature(at(10, 21)) != signature(at(10, 23))
    _outage(day, "L2", at(11))
    assert signature(at(10, 21)) != over
    day.on_air(a, at(10, 25), StreamState.ENDED)
    assert [k for _, k, _ in signature(at(10, 26))] == [k for _, k, _ in signature(at(10, 27))]
    assert not any(k.startswith("on_air") for _, k, _ in signature(at(10, 26)))


def _outage(day: Day, code: str, start: datetime, end: datetime | None = None) -> int:
    def work(session: Session) -> int:
        line = session.exec(select(Line).where(Line.code == code)).one()
        row = LineOutage(
            line_id=line.id or 0, start=start, end=end, reason="推流失败", reported_by="tech"
        )
        session.add(row)
        session.flush()
        return row.id or 0

    return day.db.call(work)


def test_a_line_that_goes_down_moves_its_future_hearings_and_the_one_on_air(day: Day) -> None:
    day.add_line("L2")
    a = day.hearing("room-01", at(9), at(10))
    b = day.hearing("room-02", at(10, 30), at(11, 30))
    day.book(a)
    day.book(b)
    day.on_air(a, at(9))
    assert day.line(a) == "L1"
    day.db.call(lambda session: _force_line(session, b, "L1"))
    _outage(day, "L1", at(9, 20))
    changes = day.repair(at(9, 21))
    # A is on air on L1, which is down: the plan gives it L2 ahead of everyone (it is
    # live; the orchestrator then moves its publisher). B follows it on L2 after 10:05.
    assert day.line(a) == "L2"
    assert day.db.call(lambda session: planning.moved_on_air(session=session)) == [a]
    reason = day.booking(a).line_reason
    assert reason is not None and "推流失败" in reason["zh"] and "down" in reason["en"]
    assert {c.hearing_id for c in changes} >= {a}
    assert day.line(b) == "L2"


def test_a_maintenance_window_keeps_hearings_off_the_line_only_while_it_lasts(day: Day) -> None:
    day.add_line("L2")
    a = day.hearing("room-01", at(9), at(10))
    b = day.hearing("room-02", at(14), at(15))
    day.book(a)
    day.book(b)
    assert day.line(a) == day.line(b) == "L1"
    _outage(day, "L1", at(8), at(12))
    day.repair(at(7))
    assert day.line(a) == "L2" and day.line(b) == "L1"


def test_a_line_taken_out_of_service_moves_its_hearings_and_says_so(day: Day) -> None:
    """The court's config drops a line (its licence ends): the booking moves, and says why."""
    a = day.hearing("room-01", at(9), at(10))
    day.book(a)
    assert day.line(a) == "L1"
    day.add_line("L2")
    day.add_line("L1", active=False)
    changes = day.repair(at(7))
    assert [(c.hearing_id, c.before, c.after) for c in changes] == [(a, "L1", "L2")]
    reason = day.booking(a).line_reason
    assert reason is not None
    assert reason["zh"] == "线路由 L1 改为 L2：L1 已停止使用"
    assert reason["en"] == "moved from L1 to L2: L1 is out of service"
    assert day.repair(at(7, 30)) == [] and day.booking(a).line_reason == reason  # stable


def test_outage_windows_are_the_gaps_between_outages() -> None:
    def row(start: int, end: int | None) -> LineOutage:
        base = datetime(2026, 12, 1, tzinfo=ZONE)
        return LineOutage(
            line_id=1,
            start=base + timedelta(seconds=start),
            end=base + timedelta(seconds=end) if end is not None else None,
            reason="x",
            reported_by="t",
        )

    assert outages.windows([]) is None
    base = int(datetime(2026, 12, 1, tzinfo=ZONE).timestamp())
    got = outages.windows([row(100, 200), row(150, 300), row(500, None)])
    assert got == ((-outages.FOREVER, base + 100), (base + 300, base + 500))
    line = Channel("L1", got)
    assert line.covers(base, base + 100) and not line.covers(base + 99, base + 101)
    assert line.covers(base + 300, base + 500) and not line.covers(base + 500, base + 501)


def test_two_go_lives_at_once_never_share_a_line(day: Day) -> None:
    """A read its line, then B's go-live was planned ahead of it and took that line:
    A's step is refused when written, under the plan lock, so only B goes out."""
    a = day.hearing("room-01", at(9), at(10))
    b = day.hearing("room-02", at(9, 30), at(10, 30))
    day.book(a)
    day.book(b)
    day.on_air(a, at(9), StreamState.READY)
    stream_id = day.db.call(
        lambda session: session.exec(select(Stream).where(Stream.hearing_id == a)).one().id
    )

    def target(session: Session) -> tuple[object, int]:
        return records.publish_target(session=session, hearing_id=a, rules=RULES)

    _, line_id = day.db.call(target)
    day.repair(at(9, 31), starting=b)  # B's clerk, a moment later, is planned first
    assert day.line(b) == "L1" and day.line(a) is None

    def persist(session: Session) -> None:
        records.persist_step(
            session=session,
            stream_id=stream_id,
            action="discipline_announced",
            before=StreamState.READY,
            after=StreamState.LIVE,
            actor="clerk",
            reason=None,
            command=None,
            room="room-01",
            line_id=line_id,
        )

    with pytest.raises(records.Refused, match="线路已改派"):
        day.db.call(persist)
    state = day.db.call(
        lambda session: session.exec(select(Stream).where(Stream.hearing_id == a)).one().state
    )
    assert state == "ready"  # nothing written
