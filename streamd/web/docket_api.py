"""The docket as the API keeps it: hearings and their bookings of a streaming line, each
write planned again at once."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from streamd import authz, bookings, changes, hearings
from streamd.config import Settings
from streamd.models import Booking, Hearing
from streamd.policy import Ruleset
from streamd.store import Database
from streamd.web.problems import ApiProblem, field_problem, not_found
from streamd.web.routing import STAFF_VIEW, Api, Call, dump, page_of

HEARING_LINK = {"hearing_id": "$response.body#/id"}
HearingPage = page_of(hearings.HearingPublic)
BookingPage = page_of(bookings.BookingPublic)


def register_docket(
    api: Api, *, db: Database, settings: Settings, rules: Ruleset, aftermath: changes.Aftermath
) -> None:
    """Every write goes through `aftermath` (streamd.changes), as the importer's and the
    CLI's do, so a hearing or booking changed here is planned and announced the same way."""
    zone = settings.zone
    after_hearing_change = aftermath.hearing_changed

    def plan_around(session: Session, booking: Booking, actor: str) -> None:
        hearing = session.get(Hearing, booking.hearing_id)
        assert hearing is not None
        aftermath.plan_hearing(session, hearing, actor)
        session.refresh(booking)

    # ---- hearings ------------------------------------------------------------------------

    @api.route(
        "GET",
        "/hearings",
        summary="List hearings",
        tag="hearings",
        roles=STAFF_VIEW,
        query=hearings.HearingQuery,
        responses={200: HearingPage},
    )
    async def list_hearings(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            assert call.user is not None
            rows, total = hearings.list_hearings(
                session=session, query=call.query, zone=zone, court_id=authz.scope(call.user)
            )
            items = [hearings.to_public(session=session, hearing=h, zone=zone) for h in rows]
            return HearingPage(items=items, total=total)

        return dump(await db.run(work))

    @api.route(
        "GET",
        "/hearings/{hearing_id}",
        summary="Get one hearing",
        tag="hearings",
        roles=STAFF_VIEW,
        responses={200: hearings.HearingPublic},
    )
    async def get_hearing(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            row = session.get(Hearing, call.params["hearing_id"])
            if row is None:
                raise not_found("hearing", call.params["hearing_id"])
            return hearings.to_public(session=session, hearing=row, zone=zone)

        return dump(await db.run(work))

    @api.route(
        "POST",
        "/hearings",
        summary="Create (or update by case number and start)",
        tag="hearings",
        act=authz.Act.HEARING_WRITE,
        body=hearings.HearingCreate,
        responses={201: hearings.HearingPublic, 200: hearings.HearingPublic},
        links={
            "GetHearing": ("get_hearing", HEARING_LINK),
            "UpdateHearing": ("update_hearing", HEARING_LINK),
            "GetDecision": ("get_decision", HEARING_LINK),
            "ApplyNotStreamed": ("apply", HEARING_LINK),
        },
    )
    async def create_hearing(call: Call) -> web.StreamResponse:
        # Re-validate with the court's zone so naive times mean local court time.
        data = hearings.HearingCreate.model_validate(call.body.model_dump(), context={"zone": zone})

        def work(session: Session) -> tuple[BaseModel, str]:
            assert call.user is not None
            try:
                row, outcome = hearings.upsert_hearing(
                    session=session, data=data, actor=call.user.username
                )
            except hearings.UnknownReference as exc:
                raise field_problem(
                    422, "Unprocessable content", f"body.{exc.field}", str(exc)
                ) from None
            after_hearing_change(session, row, call.user.username)
            return hearings.to_public(session=session, hearing=row, zone=zone), outcome

        out, outcome = await db.run(work)
        return dump(out, 201 if outcome == "created" else 200)

    @api.route(
        "PATCH",
        "/hearings/{hearing_id}",
        summary="Change a hearing",
        tag="hearings",
        act=authz.Act.HEARING_WRITE,
        body=hearings.HearingUpdate,
        responses={200: hearings.HearingPublic},
        errors=(409,),
    )
    async def update_hearing(call: Call) -> web.StreamResponse:
        patch = hearings.HearingUpdate.model_validate(
            call.body.model_dump(exclude_unset=True), context={"zone": zone}
        )

        def work(session: Session) -> BaseModel:
            assert call.user is not None
            try:
                row = hearings.update_hearing(
                    session=session,
                    hearing_id=call.params["hearing_id"],
                    patch=patch,
                    actor=call.user.username,
                )
            except hearings.UnknownReference as exc:
                raise field_problem(
                    422, "Unprocessable content", f"body.{exc.field}", str(exc)
                ) from None
            except hearings.HearingConflict as exc:
                raise ApiProblem(409, "Conflict", str(exc)) from None
            except IntegrityError:  # a concurrent change took the same case and start
                raise ApiProblem(
                    409, "Conflict", "another hearing has this case and start"
                ) from None
            if row is None:
                raise not_found("hearing", call.params["hearing_id"])
            after_hearing_change(session, row, call.user.username)
            return hearings.to_public(session=session, hearing=row, zone=zone)

        return dump(await db.run(work))

    # ---- bookings ------------------------------------------------------------------------

    @api.route(
        "GET",
        "/bookings",
        summary="List stream-slot bookings",
        tag="bookings",
        roles=STAFF_VIEW,
        query=bookings.BookingQuery,
        responses={200: BookingPage},
    )
    async def list_bookings(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            assert call.user is not None
            rows, total = bookings.list_bookings(
                session=session, query=call.query, court_id=authz.scope(call.user)
            )
            items = [bookings.to_public(session=session, booking=b) for b in rows]
            return BookingPage(items=items, total=total)

        return dump(await db.run(work))

    @api.route(
        "POST",
        "/bookings",
        summary="Book a stream slot for a hearing (idempotent)",
        tag="bookings",
        act=authz.Act.BOOKING_WRITE,
        body=bookings.BookingCreate,
        responses={201: bookings.BookingPublic, 200: bookings.BookingPublic},
        errors=(404,),
        links={
            "GetBooking": ("get_booking", {"booking_id": "$response.body#/id"}),
            "CancelBooking": ("cancel_booking", {"booking_id": "$response.body#/id"}),
            "GetBookedHearing": ("get_hearing", {"hearing_id": "$response.body#/hearing_id"}),
        },
    )
    async def create_booking(call: Call) -> web.StreamResponse:
        data: bookings.BookingCreate = call.body
        header_key = call.request.headers.get("Idempotency-Key")
        if header_key and not data.idempotency_key:
            if not 8 <= len(header_key) <= 128:
                raise field_problem(
                    422,
                    "Unprocessable content",
                    "header.Idempotency-Key",
                    "must have 8 to 128 characters",
                )
            data = data.model_copy(update={"idempotency_key": header_key})

        def work(session: Session) -> tuple[BaseModel, bool]:
            assert call.user is not None
            try:
                row, created = bookings.book(
                    session=session,
                    data=data,
                    user=call.user,
                    rules=rules,
                    announce=timedelta(days=settings.announce_days),
                )
            except LookupError as exc:
                raise field_problem(404, "Not found", "body.hearing_id", str(exc)) from None
            except bookings.BookingRefused as exc:
                raise field_problem(422, "Booking refused", f"body.{exc.field}", str(exc)) from None
            if created:
                plan_around(session, row, call.user.username)
            return bookings.to_public(session=session, booking=row), created

        out, created = await db.run(work)
        return dump(out, 201 if created else 200)

    @api.route(
        "GET",
        "/bookings/{booking_id}",
        summary="Get one booking",
        tag="bookings",
        roles=STAFF_VIEW,
        responses={200: bookings.BookingPublic},
    )
    async def get_booking(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            row = session.get(Booking, call.params["booking_id"])
            if row is None:
                raise not_found("booking", call.params["booking_id"])
            return bookings.to_public(session=session, booking=row)

        return dump(await db.run(work))

    @api.route(
        "POST",
        "/bookings/{booking_id}/cancel",
        summary="Cancel a booking (idempotent)",
        tag="bookings",
        act=authz.Act.BOOKING_WRITE,
        body=bookings.BookingCancel,
        responses={200: bookings.BookingPublic},
    )
    async def cancel_booking(call: Call) -> web.StreamResponse:
        def work(session: Session) -> BaseModel:
            assert call.user is not None
            row = bookings.cancel(
                session=session,
                booking_id=call.params["booking_id"],
                data=call.body,
                user=call.user,
            )
            if row is None:
                raise not_found("booking", call.params["booking_id"])
            plan_around(session, row, call.user.username)
            return bookings.to_public(session=session, booking=row)

        return dump(await db.run(work))
