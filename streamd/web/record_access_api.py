"""Party grants for a hearing's record, and the record's access log (SPC 2017 Art. 10, 11).

`POST /api/v1/hearings/{id}/record/grants` gives a named party access for a period and
answers the one-time code and its link once (only the code's hash is kept);
`GET .../record/grants` lists the grants without codes; `POST .../grants/{grant_id}/revoke`
ends one at once; `GET .../record/access` is the access log. Who may grant is decided by
streamd.authz (Act.RECORD_GRANT: the hearing's own judges and clerks).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from streamd import authz
from streamd.models import Hearing, RecordGrant
from streamd.record import access
from streamd.store import Database
from streamd.web.problems import ApiProblem, not_found
from streamd.web.routing import Api, Call, dump, page_of

GRANT = authz.Act.RECORD_GRANT


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    party_name: str = Field(min_length=1, max_length=64, description="当事人姓名")
    days: int = Field(ge=1, le=access.MAX_GRANT.days, description="how long the grant lasts")
    allow_audio: bool = False
    allow_transcript: bool = False
    allow_non_public: bool = False


class GrantOut(BaseModel):
    id: int
    hearing_id: int
    party_name: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    allow_audio: bool
    allow_transcript: bool
    allow_non_public: bool
    redeemed_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


class IssuedOut(GrantOut):
    code: str = Field(description="the one-time access code: shown this once, never again")
    link: str


class AccessOut(BaseModel):
    at: str
    kind: str
    who: str
    party: bool
    grant_id: int | None
    remote: str
    user_agent: str


def _out(row: RecordGrant) -> dict[str, Any]:
    return GrantOut.model_validate(row, from_attributes=True).model_dump()


def register_record_access(api: Api, *, db: Database) -> None:
    @api.route(
        "POST",
        "/hearings/{hearing_id}/record/grants",
        summary="Give a named party access to this hearing's record (one-time code, once)",
        tag="record",
        act=GRANT,
        body=GrantIn,
        responses={201: IssuedOut},
        errors=(422,),
    )
    async def create_record_grant(call: Call) -> web.StreamResponse:
        hearing_id, body = call.params["hearing_id"], call.body
        assert call.user is not None
        by = call.user.username

        def work(session: Session) -> access.Issued | None:
            hearing = session.get(Hearing, hearing_id)
            if hearing is None:
                return None
            return access.create(
                session, hearing=hearing, party_name=body.party_name, days=body.days,
                allow_audio=body.allow_audio, allow_transcript=body.allow_transcript,
                allow_non_public=body.allow_non_public, by=by,
            )  # fmt: skip

        try:
            issued = await db.run(work)
        except access.GrantRefused as exc:
            raise ApiProblem(422, "Unprocessable Entity", str(exc)) from None
        if issued is None:
            raise not_found("hearing", hearing_id)
        link = f"/record/access?code={issued.code}"
        out = IssuedOut(**_out(issued.grant), code=issued.code, link=link)
        return dump(out, status=201)

    @api.route(
        "GET",
        "/hearings/{hearing_id}/record/grants",
        summary="The party grants of this hearing's record (without their codes)",
        tag="record",
        act=GRANT,
        responses={200: page_of(GrantOut)},
    )
    async def list_record_grants(call: Call) -> web.StreamResponse:
        hearing_id = call.params["hearing_id"]
        rows = await db.run(access.grants, hearing_id=hearing_id)
        return web.json_response({"items": [_jsonable(_out(r)) for r in rows], "total": len(rows)})

    @api.route(
        "POST",
        "/hearings/{hearing_id}/record/grants/{grant_id}/revoke",
        summary="Revoke a party grant at once (its session ends with it)",
        tag="record",
        act=GRANT,
        responses={200: GrantOut},
    )
    async def revoke_record_grant(call: Call) -> web.StreamResponse:
        hearing_id, grant_id = call.params["hearing_id"], call.params["grant_id"]
        assert call.user is not None
        row = await db.run(
            access.revoke, grant_id=grant_id, hearing_id=hearing_id, by=call.user.username
        )
        if row is None:
            raise not_found("grant", grant_id)
        return dump(GrantOut.model_validate(row, from_attributes=True))

    @api.route(
        "GET",
        "/hearings/{hearing_id}/record/access",
        summary="Who looked at this record: views, seek-heavy minutes, downloads, refusals",
        tag="record",
        act=authz.Act.RECORD_VIEW,
        responses={200: page_of(AccessOut)},
    )
    async def list_record_access(call: Call) -> web.StreamResponse:
        rows = await db.run(access.access_log, hearing_id=call.params["hearing_id"])
        return web.json_response({"items": rows, "total": len(rows)})


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}
