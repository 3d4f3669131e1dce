"""Which court a row belongs to, as SQL conditions: the one place lists are scoped by.

A hearing is its department's court's; what hangs on a hearing (its booking, approvals,
stream, alerts) is the hearing's court's. A list's scope (streamd.authz.scope) is a court's
id, EVERY_COURT for the roles that read every court, or None for an account without a
court, which sees nothing (fail closed: `= NULL` matches no row).
"""

from __future__ import annotations

from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlmodel import col, select

from streamd.models import Courtroom, Department, Hearing

EVERY_COURT: Final = "*"
Scope = int | None | Literal["*"]


def departments_of(court_id: int | None) -> Any:
    """The ids of one court's departments (a subquery)."""
    return select(Department.id).where(Department.court_id == court_id)


def room_codes_of(court_id: int | None) -> Any:
    """The codes of one court's courtrooms (a subquery): rooms are keyed by code in the
    running system (agents, alerts, the feed), unique across the platform."""
    return select(Courtroom.code).where(Courtroom.court_id == court_id)


def hearings_of(scope: Scope) -> Any:
    """The condition "the hearing is in scope"."""
    if scope == EVERY_COURT:
        return sa.true()
    return col(Hearing.department_id).in_(departments_of(scope))


def hearing_ids_of(scope: Scope) -> Any:
    """The ids of the hearings in scope (a subquery), for what hangs on a hearing."""
    return select(Hearing.id).where(hearings_of(scope))
