"""The court's vocabulary: enumerations shared by the store, the API and the importer.

Values are the stable English identifiers scripts use; `LABELS_ZH` gives what people read.
"""

from __future__ import annotations

from enum import StrEnum

from streamd.casenumber import Procedure

__all__ = [
    "LABELS_ZH",
    "BookingStatus",
    "HearingStatus",
    "Procedure",
    "Role",
    "SessionKind",
]


class Role(StrEnum):
    CLERK = "clerk"
    JUDGE = "judge"
    DEPARTMENT_HEAD = "department_head"
    COURT_LEADER = "court_leader"
    TECHNICIAN = "technician"
    ADMIN = "admin"
    # The intermediate court's judicial-openness office (司法公开办) on the two-level
    # platform: reads every court's figures and hearings, compares them, writes nothing.
    CITY_OFFICE = "city_office"


class SessionKind(StrEnum):
    HEARING = "hearing"
    EVIDENCE_EXCHANGE = "evidence_exchange"
    CROSS_EXAMINATION = "cross_examination"
    INQUIRY = "inquiry"


class HearingStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class BookingStatus(StrEnum):
    """A stream slot request. `requested` waits for the allocation engine to give a line."""

    REQUESTED = "requested"
    CANCELLED = "cancelled"


ACTIVE_BOOKING_STATUSES = frozenset({BookingStatus.REQUESTED})


class LineStatus(StrEnum):
    """The allocation engine's answer for a booking (`Booking.line_status`)."""

    PENDING = "pending"  # not planned yet
    ASSIGNED = "assigned"  # holds a line
    NO_LINE = "no_line"  # every line taken or down; the reason says by whom
    EXCLUDED = "excluded"  # the rules do not stream it
    RELEASED = "released"  # the booking was cancelled and gave its line back


class CommandStatus(StrEnum):
    """What became of a command sent to an agent (`StreamCommand.status`)."""

    SENT = "sent"
    ACKED = "acked"
    REFUSED = "refused"
    UNACKNOWLEDGED = "unacknowledged"


class RequestStatus(StrEnum):
    """A console action held while no replica led (`ConsoleRequest.status`)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


LABELS_ZH: dict[str, str] = {
    Role.CLERK: "书记员",
    Role.JUDGE: "承办法官",
    Role.DEPARTMENT_HEAD: "庭长",
    Role.COURT_LEADER: "分管院领导",
    Role.TECHNICIAN: "技术人员",
    Role.ADMIN: "司法公开办管理员",
    Role.CITY_OFFICE: "中院司法公开办",
    SessionKind.HEARING: "开庭",
    SessionKind.EVIDENCE_EXCHANGE: "庭前证据交换",
    SessionKind.CROSS_EXAMINATION: "质证",
    SessionKind.INQUIRY: "庭询",
    Procedure.FIRST_INSTANCE: "一审",
    Procedure.SECOND_INSTANCE: "二审",
    Procedure.RETRIAL: "再审",
    Procedure.RETRIAL_REVIEW: "再审审查",
    Procedure.ENFORCEMENT: "执行",
    Procedure.PRESERVATION: "保全",
    Procedure.BANKRUPTCY: "破产",
    Procedure.SPECIAL: "特别程序",
    Procedure.OTHER: "其他",
    HearingStatus.SCHEDULED: "已排期",
    HearingStatus.CANCELLED: "已取消",
    BookingStatus.REQUESTED: "已申请",
    BookingStatus.CANCELLED: "已取消",
}
