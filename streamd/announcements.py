"""Hearing announcements (开庭公告): the upcoming streamed hearings the public may watch.

Only a hearing that holds a line is announced, so the public is never promised a stream
the court cannot give; party names are masked as the court configures, because an
announcement is published to the whole internet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from sqlmodel import Session, col, select

from streamd.domain import BookingStatus, HearingStatus, LineStatus
from streamd.models import Booking, Courtroom, Hearing

# Role words court exports put before a party's name ("原告 张伟").
PARTY_ROLES = (
    "原告", "被告", "上诉人", "被上诉人", "第三人", "申请人", "被申请人", "申请执行人",
    "被执行人", "公诉机关", "被告人", "自诉人", "再审申请人", "被申请人", "原审原告", "原审被告",
)  # fmt: skip
# Words that mark an organisation, whose name is public (公司、机关 ...).
# Only unambiguous words: when unsure, a name is masked (an announcement cannot be recalled).
ORGANISATION = (
    "公司", "银行", "局", "委员会", "政府", "集团", "中心", "学校", "大学", "医院",
    "合作社", "厂", "事务所", "研究院", "检察院", "办事处", "协会", "商行", "工作室",
)  # fmt: skip
COMPOUND_SURNAMES = (
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
    "宇文", "司徒", "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "呼延",
)  # fmt: skip


class PartyMask(StrEnum):
    NONE = "none"  # names as filed
    SURNAME = "surname"  # 张伟 → 张某; organisations in full
    HIDDEN = "hidden"  # roles only: 原告、被告


def mask_party(party: str, mode: PartyMask) -> str:
    text = party.strip()
    role, name = "", text
    head, _, rest = text.partition(" ")
    if rest and head in PARTY_ROLES:
        role, name = head, rest.strip()
    else:
        for word in sorted(PARTY_ROLES, key=len, reverse=True):
            if text.startswith(word) and len(text) > len(word) and text[len(word)] in ":：":
                role, name = word, text[len(word) + 1 :].strip()
                break
    if mode is PartyMask.NONE:
        shown = name
    elif mode is PartyMask.HIDDEN:
        return role or "当事人"
    elif any(word in name for word in ORGANISATION):
        shown = name
    else:
        surname = next((s for s in COMPOUND_SURNAMES if name.startswith(s)), name[:1])
        shown = f"{surname}某" if name else name
    return f"{role} {shown}" if role else shown


@dataclass(frozen=True, slots=True)
class Announcement:
    hearing_id: int
    case_number: str
    cause: str
    parties: tuple[str, ...]
    courtroom: str
    start: datetime
    end: datetime
    watch_url: str
    late: bool


def upcoming(
    session: Session,
    *,
    now: datetime,
    days: int,
    zone: tzinfo,
    mask: PartyMask,
    watch_url: str,
    court_id: int | None = None,
) -> list[Announcement]:
    """Streamed hearings that have not ended and start within `days`, earliest first; one
    court's (`court_id`) or, on the platform's own page, every court's."""
    where = [] if court_id is None else [col(Courtroom.court_id) == court_id]
    rows = session.exec(
        select(Hearing, Booking, Courtroom)
        .join(Booking, col(Booking.hearing_id) == col(Hearing.id))
        .join(Courtroom, col(Courtroom.id) == col(Hearing.courtroom_id))
        .where(
            Booking.status != BookingStatus.CANCELLED.value,
            Booking.line_status == LineStatus.ASSIGNED,
            Hearing.status != HearingStatus.CANCELLED.value,
            Hearing.is_public == True,  # noqa: E712 (SQL, belt and braces: never announce these)
            col(Hearing.planned_end) > now,
            col(Hearing.planned_start) < now + timedelta(days=days),
            *where,
        )
        .order_by(col(Hearing.planned_start), col(Hearing.id))
    ).all()
    return [
        Announcement(
            hearing_id=hearing.id or 0,
            case_number=hearing.case_number,
            cause=hearing.cause,
            parties=tuple(mask_party(p, mask) for p in hearing.parties),
            courtroom=room.name,
            start=hearing.planned_start.astimezone(zone),
            end=hearing.planned_end.astimezone(zone),
            watch_url=watch_url.format(hearing_id=hearing.id),
            late=booking.late_announcement,
        )
        for hearing, booking, room in rows
    ]


def to_json(items: list[Announcement]) -> list[dict[str, object]]:
    return [
        {
            "hearing_id": a.hearing_id,
            "case_number": a.case_number,
            "cause": a.cause,
            "parties": list(a.parties),
            "courtroom": a.courtroom,
            "start": a.start.isoformat(),
            "end": a.end.isoformat(),
            "watch_url": a.watch_url,
        }
        for a in items
    ]


def to_ics(items: list[Announcement], *, court: str, now: datetime) -> bytes:
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//streamd//开庭公告//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{court} 开庭公告")
    for a in items:
        event = Event()
        event.add("uid", f"hearing-{a.hearing_id}@streamd")
        event.add("dtstamp", now)
        event.add("dtstart", a.start)
        event.add("dtend", a.end)
        event.add("summary", f"{a.case_number} {a.cause}")
        event.add("location", a.courtroom)
        event.add("url", a.watch_url)
        event.add("description", "当事人：" + "、".join(a.parties) + f"\n观看直播：{a.watch_url}")
        cal.add_component(event)
    return bytes(cal.to_ical())
