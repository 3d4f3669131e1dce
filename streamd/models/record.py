"""The kept record: archived files, the transcript's versions, parties' grants and every
access to a record."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from streamd.models.columns import _text, _time, utcnow


class ArchivedFile(SQLModel, table=True):
    """One file of a hearing's recording, kept in the central archive (streamd.archive).

    Rows are added, never deleted; `state` moves archived → backed_up, or to lost when the
    fixity audit finds both copies bad. The bytes live under STREAMD_ARCHIVE_DIR.
    """

    __tablename__ = "archived_file"
    __table_args__ = (sa.UniqueConstraint("hearing_id", "session", "path"),)
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    room: str = _text(32, index=True)
    session: str = _text(32)
    path: str = _text(255)  # inside the session folder, e.g. video/v000_00003.ts
    kind: str = _text(16)  # streamd_protocol.archive.FileKind
    offset_seconds: float | None = None  # from the session's start (segments only)
    duration_seconds: float | None = None
    bytes: int = Field(sa_type=sa.BigInteger())
    sha256: str = _text(64)
    state: str = _text(16, default="archived")  # streamd_protocol.archive.CopyState
    archived_at: datetime = _time(default_factory=utcnow, index=True)
    backed_up_at: datetime | None = _time(nullable=True, default=None)
    verified_at: datetime | None = _time(nullable=True, default=None)


class TranscriptVersion(SQLModel, table=True):
    """A clerk's correction of one transcript line (SPC 2017 Art. 7): who, when, the text
    before and after. Version 1 is the recorder's own line in `transcript.jsonl`, which is
    never rewritten; rows here are versions 2, 3, ... and are never updated or deleted."""

    __tablename__ = "transcript_version"
    __table_args__ = (sa.UniqueConstraint("hearing_id", "session", "seq", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    session: str = _text(32)
    seq: int
    version: int
    before: str = Field(sa_type=sa.Text())
    after: str = Field(sa_type=sa.Text())
    by: str = _text(64)
    at: datetime = _time(default_factory=utcnow)


class RecordGrant(SQLModel, table=True):
    """A party's access to one hearing's record for a period (SPC 2017 Art. 10, 11).

    Only hashes are stored: the one-time code (handed to the party, consumed on first use)
    and the party session it opened. Revocation is a timestamp, never a delete: the grant
    and everything done with it stay on the record."""

    __tablename__ = "record_grant"
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int = Field(foreign_key="hearing.id", index=True)
    party_name: str = _text(64)
    created_by: str = _text(64)
    created_at: datetime = _time(default_factory=utcnow)
    expires_at: datetime = _time()
    allow_audio: bool = False
    allow_transcript: bool = False
    allow_non_public: bool = False
    code_hash: str = _text(64, unique=True)
    redeemed_at: datetime | None = _time(nullable=True)
    session_hash: str | None = _text(64, nullable=True, unique=True)
    revoked_at: datetime | None = _time(nullable=True)
    revoked_by: str | None = _text(64, nullable=True)


class RecordAccess(SQLModel, table=True):
    """One look at a record: a view, a seek-heavy minute, a download or a refusal, with who
    (a staff username or a party grant), from where and when. Append-only."""

    __tablename__ = "record_access"
    id: int | None = Field(default=None, primary_key=True)
    hearing_id: int | None = Field(default=None, foreign_key="hearing.id", index=True)
    grant_id: int | None = Field(default=None, foreign_key="record_grant.id")
    username: str | None = _text(64, nullable=True)
    kind: str = _text(32)  # streamd.record.access.AccessKind
    at: datetime = _time(default_factory=utcnow)
    remote: str = _text(64)
    user_agent: str = _text(256)
