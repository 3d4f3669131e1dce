"""Database tables (SQLModel). Schema changes go through Alembic (streamd/migrations).

Times are stored in UTC and always come back timezone-aware, on SQLite as on PostgreSQL,
so that "09:00 in the court" can never be confused with "09:00 UTC". One module per
aggregate; importing this package registers every table on SQLModel.metadata.
"""

from streamd.models.columns import UTCDateTime, utcnow
from streamd.models.court import (
    AuditEntry,
    AuthToken,
    Court,
    Courtroom,
    Department,
    Line,
    LineOutage,
    LoginThrottle,
    User,
)
from streamd.models.docket import Approval, ApprovalStep, Booking, Hearing
from streamd.models.record import ArchivedFile, RecordAccess, RecordGrant, TranscriptVersion
from streamd.models.streams import (
    AgentEvent,
    Alert,
    ConsoleRequest,
    Interruption,
    LeaderLease,
    ObservedRun,
    ReplicaMember,
    Stream,
    StreamCommand,
    StreamTransition,
    TranscriptEntry,
)

__all__ = [
    "AgentEvent",
    "Alert",
    "Approval",
    "ApprovalStep",
    "ArchivedFile",
    "AuditEntry",
    "AuthToken",
    "Booking",
    "ConsoleRequest",
    "Court",
    "Courtroom",
    "Department",
    "Hearing",
    "Interruption",
    "LeaderLease",
    "Line",
    "LineOutage",
    "LoginThrottle",
    "ObservedRun",
    "RecordAccess",
    "RecordGrant",
    "ReplicaMember",
    "Stream",
    "StreamCommand",
    "StreamTransition",
    "TranscriptEntry",
    "TranscriptVersion",
    "UTCDateTime",
    "User",
    "utcnow",
]
