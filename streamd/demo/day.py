"""The demo's court day and its script, on a compressed clock. Pure: no I/O.

Ten hearings in three courtrooms, chosen so that every part of streamd shows in one run:
more streamable hearings than lines at 09:30 (the allocation engine leaves one without a
line and says why), a divorce case and a non-public case (never streamed, still
recorded: 三同步), an incident pause (the slate, and a ledger that stays at 100 %) and
an encoder that hangs (the agent's stall watchdog restarts it; the monitor counts the
gap, 漏播).

A day's clock time `t` happens at `start + (t - opening) / speed` in real time, so a
45-minute hearing lasts 45 s at speed 60. Nothing else is virtual: the database, the
broker, the agents and ffmpeg all run on the real clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum


class CueKind(StrEnum):
    OPEN = "open"  # 宣布法庭纪律: the clerk's go-live
    PAUSE = "pause"  # 暂停: an incident in the courtroom
    RESUME = "resume"  # 恢复
    HANG = "hang"  # the room's public encoder freezes (SIGSTOP), unannounced
    ADJOURN = "adjourn"  # 休庭


@dataclass(frozen=True, slots=True)
class Incident:
    kind: CueKind  # PAUSE (ends with a RESUME) or HANG
    at: time
    until: time | None = None  # a pause's end
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DemoHearing:
    key: str
    case_number: str
    cause: str
    room: str
    department: str
    start: time
    end: time
    parties: tuple[str, ...]
    judge: str
    clerk: str
    public: bool = True
    non_public_reason: str | None = None
    incident: Incident | None = None


def _h(hh: int, mm: int) -> time:
    return time(hh, mm)


DAY: tuple[DemoHearing, ...] = (
    DemoHearing(
        "A",
        "（2026）粤0111民初9001号",
        "民间借贷纠纷",
        "room-01",
        "civil-1",
        _h(9, 0),
        _h(9, 45),
        ("原告 张伟", "被告 李娜"),
        "李明",
        "王敏",
        incident=Incident(CueKind.PAUSE, _h(9, 20), _h(9, 30), "旁听人员喧哗，暂停直播"),
    ),
    DemoHearing(
        "B",
        "（2026）粤0111刑初901号",
        "盗窃罪",
        "room-04",
        "criminal",
        _h(9, 0),
        _h(10, 0),
        ("公诉机关 示例区人民检察院", "被告人 赵某"),
        "孙立",
        "周婷",
    ),
    DemoHearing(
        "C",
        "（2026）粤0111民初9002号",
        "股权转让纠纷",
        "room-03",
        "civil-2",
        _h(9, 30),
        _h(10, 30),
        ("原告 广州市恒信贸易有限公司", "被告 广州华南物流有限公司"),
        "陈晓峰",
        "孙悦",
    ),
    DemoHearing(
        "D",
        "（2026）粤0111民初9003号",
        "买卖合同纠纷",
        "room-01",
        "civil-1",
        _h(10, 0),
        _h(11, 0),
        ("原告 广州市南粤建材有限公司", "被告 刘强"),
        "李明",
        "王敏",
    ),
    DemoHearing(
        "E",
        "（2026）粤0111民初9004号",
        "技术秘密许可使用合同纠纷",
        "room-03",
        "civil-2",
        _h(10, 45),
        _h(11, 30),
        ("原告 广州智造科技有限公司", "被告 深圳新航电子有限公司"),
        "陈晓峰",
        "孙悦",
        public=False,
        non_public_reason="涉及商业秘密，当事人申请不公开审理",
    ),
    DemoHearing(
        "F",
        "（2026）粤0111刑初902号",
        "诈骗罪",
        "room-04",
        "criminal",
        _h(10, 30),
        _h(11, 45),
        ("公诉机关 示例区人民检察院", "被告人 钱某"),
        "孙立",
        "周婷",
    ),
    DemoHearing(
        "G",
        "（2026）粤0111民初9005号",
        "离婚纠纷",
        "room-01",
        "civil-1",
        _h(13, 30),
        _h(14, 15),
        ("原告 陈某", "被告 黄某"),
        "李明",
        "王敏",
    ),
    DemoHearing(
        "H",
        "（2026）粤0111民初9006号",
        "金融借款合同纠纷",
        "room-03",
        "civil-2",
        _h(13, 30),
        _h(14, 30),
        ("原告 示例银行股份有限公司广州分行", "被告 林某"),
        "陈晓峰",
        "孙悦",
        incident=Incident(CueKind.HANG, _h(14, 0)),
    ),
    DemoHearing(
        "I",
        "（2026）粤0111民初9007号",
        "劳动争议",
        "room-01",
        "civil-1",
        _h(14, 30),
        _h(15, 30),
        ("原告 吴某", "被告 广州市达安物业管理有限公司"),
        "李明",
        "王敏",
    ),
    DemoHearing(
        "J",
        "（2026）粤0111刑初903号",
        "危险驾驶罪",
        "room-04",
        "criminal",
        _h(14, 0),
        _h(15, 0),
        ("公诉机关 示例区人民检察院", "被告人 孙某"),
        "孙立",
        "周婷",
    ),
)
ROOMS = ("room-01", "room-03", "room-04")
LINES = 2  # fewer than the rooms: at 09:30 three streamable hearings want two lines
DEFAULT_SPEED = 40.0  # the day, 09:00-15:30 less most of lunch, in about seven minutes
IDLE_KEPT = timedelta(minutes=5)  # of a court-wide break, what the compressed day keeps


@dataclass(frozen=True, slots=True)
class Cue:
    at: datetime
    clock: time  # the court's time of day it stands for
    kind: CueKind
    hearing: str  # DemoHearing.key
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Timed:
    """A demo hearing placed on the real clock."""

    hearing: DemoHearing
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Script:
    hearings: tuple[Timed, ...]
    cues: tuple[Cue, ...]  # in time order; at equal times, in CueKind order of the day
    speed: float

    @property
    def ends(self) -> datetime:
        return max(t.end for t in self.hearings)

    def timed(self, key: str) -> Timed:
        return next(t for t in self.hearings if t.hearing.key == key)


# At one instant, adjourning frees the room before another hearing opens in it.
_ORDER = {
    CueKind.ADJOURN: 0,
    CueKind.RESUME: 1,
    CueKind.HANG: 2,
    CueKind.PAUSE: 3,
    CueKind.OPEN: 4,
}


def _idle_cuts(day: tuple[DemoHearing, ...], base: date) -> list[tuple[datetime, timedelta]]:
    """Where no hearing runs for longer than IDLE_KEPT (the lunch break), the time the
    compressed day leaves out: (the court time the next hearing opens, how much)."""
    spans = sorted((datetime.combine(base, h.start), datetime.combine(base, h.end)) for h in day)
    cuts: list[tuple[datetime, timedelta]] = []
    reach = spans[0][1]
    for begin, end in spans[1:]:
        if begin - reach > IDLE_KEPT:
            cuts.append((begin, begin - reach - IDLE_KEPT))
        reach = max(reach, end)
    return cuts


def compress(day: tuple[DemoHearing, ...], *, start: datetime, speed: float) -> Script:
    """The day on the real clock from `start` (aware), `speed` times faster than life;
    a stretch with no hearing at all (lunch) is kept to IDLE_KEPT of court time, since
    nothing happens in it that anyone would wait to see."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if not day:
        raise ValueError("the day has no hearings")
    base = date(2026, 1, 1)  # any date: only clock-time differences matter
    opening = min(datetime.combine(base, h.start) for h in day)
    cuts = _idle_cuts(day, base)

    def real(t: time) -> datetime:
        moment = datetime.combine(base, t)
        skipped = sum((cut for at, cut in cuts if at <= moment), timedelta())
        return start + (moment - opening - skipped) / speed

    timed: list[Timed] = []
    cues: list[Cue] = []
    for h in day:
        if h.end <= h.start:
            raise ValueError(f"hearing {h.key}: ends before it starts")
        timed.append(Timed(h, real(h.start), real(h.end)))
        cues.append(Cue(real(h.start), h.start, CueKind.OPEN, h.key))
        cues.append(Cue(real(h.end), h.end, CueKind.ADJOURN, h.key))
        inc = h.incident
        if inc is None:
            continue
        if not h.start < inc.at < h.end:
            raise ValueError(f"hearing {h.key}: the incident is outside the hearing")
        cues.append(Cue(real(inc.at), inc.at, inc.kind, h.key, inc.reason))
        if inc.kind is CueKind.PAUSE:
            if inc.until is None or not inc.at < inc.until < h.end:
                raise ValueError(f"hearing {h.key}: the pause must end inside the hearing")
            cues.append(Cue(real(inc.until), inc.until, CueKind.RESUME, h.key))
    cues.sort(key=lambda c: (c.at, _ORDER[c.kind], c.hearing))
    return Script(tuple(timed), tuple(cues), speed)
