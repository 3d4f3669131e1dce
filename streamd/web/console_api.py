"""The hearing console: the clerk's buttons, the picture, the transcript, interruptions.

Console calls are idempotent by meaning: a second press of the same button finds the step
already taken and does nothing (`noop: true`); transcript lines carry a client key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from sqlmodel import Session

from streamd import authz
from streamd.domain import Role
from streamd.lifecycle import StreamAction
from streamd.models import Stream
from streamd.orchestrator import (
    CommandOutcome,
    Orchestrator,
    Refused,
    StaleState,
    UnknownView,
    casefile,
    pending,
    records,
)
from streamd.store import Database
from streamd.web.console_schemas import (
    CommandOut,
    ComposeIn,
    EventOut,
    InterruptionIn,
    OutcomeOut,
    PendingOut,
    ReasonOptional,
    ReasonRequired,
    StreamOut,
    TranscriptIn,
    TranscriptOut,
    TransitionOut,
    _outcome,
)
from streamd.web.operations_api import running_of
from streamd.web.problems import ApiProblem
from streamd.web.routing import Api, Call, Empty, dump

WATCH = frozenset(Role)


Act = authz.Act


RUN, PAUSE = Act.STREAM_RUN, Act.STREAM_PAUSE


def register_console(
    api: Api,
    *,
    db: Database,
    orchestrator: Callable[[], Orchestrator | None],
    zone: Any,
    replica: str = "streamd",
) -> None:
    def running() -> Orchestrator:
        return running_of(orchestrator)

    async def guarded(fn: Any) -> web.StreamResponse:
        try:
            out = await fn
        except LookupError as exc:
            raise ApiProblem(404, "Not found", str(exc)) from None
        except UnknownView as exc:
            raise ApiProblem(422, "Unprocessable Entity", str(exc)) from None
        except (Refused, StaleState) as exc:
            raise ApiProblem(409, "Conflict", str(exc)) from None
        if isinstance(out, CommandOutcome):
            return dump(_outcome(out))
        assert isinstance(out, BaseModel)
        return dump(out)

    async def held(
        hearing_id: int, action: StreamAction, actor: str, reason: str | None
    ) -> web.StreamResponse:
        """No leader (a failover): written down for the next one, shown as pending. A
        pause is never refused."""

        def work(session: Session) -> OutcomeOut:
            row = records.stream_row(session=session, hearing_id=hearing_id)
            if row is None:
                raise ApiProblem(404, "Not found", f"hearing {hearing_id} has no stream yet")
            request = pending.hold(
                session=session,
                hearing_id=hearing_id,
                action=action,
                actor=actor,
                reason=reason,
                received_by=replica,
            )
            return OutcomeOut(
                hearing_id=hearing_id,
                state=row.state,
                noop=False,
                held=True,
                command_id=None,
                command=None,
                delivery="pending",
                message=f"no leader right now: request {request.id} is carried out "
                "as soon as one is in place",
            )

        return dump(await db.run(work))

    def console_route(
        path: str, action: StreamAction, summary: str, body: type[BaseModel], act: authz.Act
    ) -> None:
        @api.route(
            "POST",
            f"/hearings/{{hearing_id}}/stream/{path}",
            summary=summary,
            tag="console",
            act=act,
            body=body,
            responses={200: OutcomeOut},
            errors=(409, 503),
        )
        async def handler(call: Call) -> web.StreamResponse:
            assert call.user is not None
            hearing_id = call.params["hearing_id"]
            reason = getattr(call.body, "reason", None)
            if orchestrator() is None and action in pending.HELD:
                return await held(hearing_id, action, call.user.username, reason)
            return await guarded(
                running().act(hearing_id, action, actor=call.user.username, reason=reason),
            )

        handler.__name__ = f"stream_{action.value}"

    @api.route(
        "POST",
        "/hearings/{hearing_id}/stream/compose",
        summary="Pin a view in the large tile, return to the voice (语音激励), or change layout",
        tag="console",
        act=RUN,
        body=ComposeIn,
        responses={200: OutcomeOut},
        errors=(409, 422, 503),
    )
    async def stream_compose(call: Call) -> web.StreamResponse:
        assert call.user is not None
        body = call.body
        if body.pin is not None and body.auto:
            raise ApiProblem(422, "Unprocessable Entity", "pin a view or return to auto, not both")
        return await guarded(
            running().compose(
                call.params["hearing_id"], actor=call.user.username,
                pin=body.pin, auto=body.auto, layout=body.layout,
            )
        )  # fmt: skip

    console_route("prepare", StreamAction.PREPARE, "Start recording early", ReasonOptional, RUN)
    console_route(
        "discipline-announced",
        StreamAction.DISCIPLINE_ANNOUNCED,
        "Court discipline announced (宣布法庭纪律): go live",
        ReasonOptional,
        Act.STREAM_RUN,
    )
    console_route("pause", StreamAction.PAUSE, "Pause the broadcast (暂停)", ReasonRequired, PAUSE)
    console_route("resume", StreamAction.RESUME, "Resume the broadcast (恢复)", ReasonOptional, RUN)
    console_route(
        "end-stream",
        StreamAction.END_STREAM,
        "End the broadcast for good after an incident; the recording goes on",
        ReasonRequired,
        Act.STREAM_END,
    )
    console_route(
        "adjourned",
        StreamAction.ADJOURNED,
        "Adjourned (闭庭): stop all",
        ReasonOptional,
        Act.STREAM_RUN,
    )
    console_route(
        "abort",
        StreamAction.ABORT,
        "Abort a started stream and its recording (the room's clerk, technicians, admins)",
        ReasonRequired,
        Act.STREAM_ABORT,
    )

    console_route(
        "reopen",
        StreamAction.REOPEN,
        "Reopen an aborted stream (administrators; reason required, audited): back to booked",
        ReasonRequired,
        Act.STREAM_REOPEN,
    )

    @api.route(
        "POST",
        "/hearings/{hearing_id}/stream/restart-publisher",
        summary="Restart the room's public encoder (technicians); the recording is untouched",
        tag="operations",
        act=Act.OPERATE,
        responses={200: OutcomeOut},
        errors=(409, 503),
    )
    async def restart_publisher(call: Call) -> web.StreamResponse:
        assert call.user is not None
        return await guarded(
            running().restart_publisher(call.params["hearing_id"], actor=call.user.username)
        )

    @api.route(
        "POST",
        "/hearings/{hearing_id}/stream/interruptions",
        summary="Start a recording interruption (recess, non-public evidence, mediation)",
        tag="console",
        act=Act.STREAM_RUN,
        body=InterruptionIn,
        responses={200: OutcomeOut},
        errors=(409, 503),
    )
    async def start_interruption(call: Call) -> web.StreamResponse:
        assert call.user is not None
        data: InterruptionIn = call.body
        return await guarded(
            running().start_interruption(
                call.params["hearing_id"],
                kind=data.kind,
                reason=data.reason,
                user=call.user.username,
            ),
        )

    @api.route(
        "POST",
        "/hearings/{hearing_id}/stream/interruptions/end",
        summary="End the open recording interruption",
        tag="console",
        act=Act.STREAM_RUN,
        body=Empty,
        responses={200: OutcomeOut},
        errors=(409, 503),
    )
    async def end_interruption(call: Call) -> web.StreamResponse:
        assert call.user is not None
        return await guarded(
            running().end_interruption(call.params["hearing_id"], user=call.user.username),
        )

    @api.route(
        "POST",
        "/hearings/{hearing_id}/stream/transcript",
        summary="Add a transcript line (forwarded to the courtroom's recorder)",
        tag="console",
        act=Act.STREAM_RUN,
        body=TranscriptIn,
        responses={200: TranscriptOut},
        errors=(409, 503),
    )
    async def add_transcript(call: Call) -> web.StreamResponse:
        assert call.user is not None
        data: TranscriptIn = call.body
        hearing_id = call.params["hearing_id"]

        async def work() -> TranscriptOut:
            seq, created = await running().add_transcript(
                hearing_id,
                speaker=data.speaker,
                text=data.text,
                key=data.client_key,
                user=call.user.username if call.user else "",
            )
            return TranscriptOut(hearing_id=hearing_id, seq=seq, created=created)

        return await guarded(work())

    @api.route(
        "GET",
        "/hearings/{hearing_id}/stream",
        summary="The hearing's stream: state, history, commands and the room's agent",
        tag="console",
        roles=WATCH,
        responses={200: StreamOut},
    )
    async def get_stream(call: Call) -> web.StreamResponse:
        hearing_id = call.params["hearing_id"]

        def work(session: Session) -> tuple[Stream, dict[str, Any]]:
            row = records.stream_row(session=session, hearing_id=hearing_id)
            if row is None or row.id is None:
                raise ApiProblem(404, "Not found", f"hearing {hearing_id} has no stream yet")
            done = records.history(session=session, stream_id=row.id)
            done["events"] = records.events_of(session=session, hearing_id=hearing_id)
            done["pending"] = pending.waiting(session=session, hearing_id=hearing_id)
            return row, done

        row, done = await db.run(work)
        orch = orchestrator()
        agent = orch.agents.get(row.room) if orch is not None else None
        out = StreamOut(
            hearing_id=hearing_id,
            room=row.room,
            state=row.state,
            state_at=row.state_at,
            at_risk=row.at_risk,
            risk_reason=row.risk_reason,
            discipline_at=row.discipline_at,
            adjourned_at=row.adjourned_at,
            agent=agent.public() if agent is not None else None,
            transitions=[
                TransitionOut.model_validate(t, from_attributes=True) for t in done["transitions"]
            ],
            commands=[CommandOut.model_validate(c, from_attributes=True) for c in done["commands"]],
            events=[EventOut.model_validate(e, from_attributes=True) for e in done["events"]],
            pending=[PendingOut.model_validate(p, from_attributes=True) for p in done["pending"]],
        )
        return dump(out)

    @api.route(
        "GET",
        "/hearings/{hearing_id}/stream/case-file",
        summary="Interruption log, pauses and failure explanation for the case file",
        tag="console",
        roles=WATCH,
        responses={200: casefile.CaseFileRecord},
    )
    async def get_case_file(call: Call) -> web.StreamResponse:
        hearing_id = call.params["hearing_id"]

        def work(session: Session) -> BaseModel:
            try:
                return casefile.case_file(session=session, hearing_id=hearing_id, zone=zone)
            except LookupError as exc:
                raise ApiProblem(404, "Not found", str(exc)) from None

        return dump(await db.run(work))
