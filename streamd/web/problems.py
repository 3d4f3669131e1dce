"""RFC 9457 problem details: every error the API returns says what went wrong and where."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """The body of every error response."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] = []


class ApiProblem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


def from_validation(exc: ValidationError, *, where: str) -> ApiProblem:
    errors = [
        FieldError(
            field=".".join([where, *(str(p) for p in e["loc"])]) if e["loc"] else where,
            message=e["msg"].removeprefix("Value error, "),
        )
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return ApiProblem(422, "Unprocessable content", detail, errors=errors)


def field_problem(status: int, title: str, field: str, message: str) -> ApiProblem:
    return ApiProblem(
        status, title, f"{field}: {message}", errors=[FieldError(field=field, message=message)]
    )


_TITLES = {403: "Forbidden", 404: "Not found", 409: "Conflict"}


def refusal(status: int, message: str, field: str | None = None) -> ApiProblem:
    """A domain module's refusal (its status, and the field it names, if any)."""
    title = _TITLES.get(status, "Unprocessable content")
    if field:
        return field_problem(status, title, field, message)
    return ApiProblem(status, title, message)


def not_found(kind: str, ident: int) -> ApiProblem:
    return ApiProblem(404, "Not found", f"no {kind} with id {ident}")


def respond(problem: ApiProblem, request: web.Request) -> web.Response:
    body = Problem(
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
        instance=request.path,
        errors=problem.errors,
    )
    return web.Response(
        status=problem.status,
        text=json.dumps(body.model_dump(mode="json", exclude_none=True), ensure_ascii=False),
        content_type=PROBLEM_TYPE,
        headers=problem.headers,
    )


_HTTP_TITLES: dict[int, str] = {
    404: "Not found",
    405: "Method not allowed",
    413: "Content too large",
}


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into problem+json; an unexpected one is logged and hidden."""
    try:
        return await handler(request)
    except ApiProblem as problem:
        return respond(problem, request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        title = _HTTP_TITLES.get(exc.status, exc.reason)
        headers: dict[str, Any] = {}
        if "Allow" in exc.headers:
            headers["Allow"] = exc.headers["Allow"]
        return respond(ApiProblem(exc.status, title, exc.text or None, headers=headers), request)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return respond(ApiProblem(500, "Internal server error"), request)
