"""The parts of the court's config folder both sides read: `court.toml`'s `[court]` table
and a courtroom file's `[room]` table. The server loads the rest of the court (departments,
lines) into its tables; the agent reads only these to know whose room it runs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

COURT_FILE = "court.toml"
CODE = r"^[A-Za-z0-9_\-]{1,32}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CourtSpec(_Strict):
    code: str = Field(min_length=2, max_length=16, description="Court code used in case numbers.")
    name: str = Field(min_length=1, max_length=128)
    stream_target_ratio: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="The court's stream target (直播率目标), set by the intermediate court.",
    )


class RoomSpec(_Strict):
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=128)
    department: str | None = Field(default=None, pattern=CODE)
