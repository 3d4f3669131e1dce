"""Declared routes: one declaration drives validation, authorisation and the OpenAPI document.

A handler states its body model, query model, response models and the roles allowed; the
wrapper parses and validates with exactly those pydantic models and the OpenAPI generator
reads the same declarations, so the published schema cannot drift from what is enforced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic.json_schema import models_json_schema

from streamd import authz
from streamd.domain import Role
from streamd.models import User
from streamd.validation import text_problem
from streamd.web.problems import ApiProblem, Problem, field_problem, from_validation

MAX_ID = 2**31 - 1  # ids are 32-bit on PostgreSQL; larger ones are simply not found


def parse_id(raw: str) -> int | None:
    """An object id from a URL path, or None (the route answers 404). ASCII digits only
    ('²' and '٣' pass str.isdigit()), within the database's id range."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


MAX_BODY_BYTES = 1_000_000
_PATH_PARAM = re.compile(r"{(\w+)}")

Authenticator = Callable[[web.Request], Awaitable[User]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Every reading route for staff: any signed-in role (what each may see is narrowed by authz).
STAFF_VIEW = frozenset(Role)


@dataclass(slots=True)
class Call:
    """What a handler receives: the request, who asks, and the validated input."""

    request: web.Request
    user: User | None
    body: Any
    query: Any
    params: dict[str, int]


HandlerFn = Callable[[Call], Awaitable[web.StreamResponse]]
Authorizer = Callable[[authz.Act | None, Call], Awaitable[None]]


@dataclass(slots=True)
class Route:
    method: str
    path: str
    handler: HandlerFn
    summary: str
    tag: str
    roles: frozenset[Role] | None  # None: no authentication
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    responses: dict[int, type[BaseModel] | None]
    csrf_exempt: bool = False
    errors: tuple[int, ...] = field(default=())
    act: authz.Act | None = None  # every write names its act; streamd.authz decides it
    # OpenAPI links from this route's success responses: name -> (operationId, parameter
    # -> runtime expression). Clients and stateful fuzzers follow them from create to read.
    links: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)


def page_of(model: type[BaseModel]) -> type[BaseModel]:
    """The collection envelope `{"items": [...], "total": n}` for `model`."""
    return create_model(f"{model.__name__}Page", items=(list[model], ...), total=(int, ...))  # type: ignore[valid-type]


def dump(model: BaseModel | dict[str, Any], status: int = 200) -> web.Response:
    data = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    return web.Response(
        status=status, text=json.dumps(data, ensure_ascii=False), content_type="application/json"
    )


MAX_DEPTH = 32  # no body the API takes nests deeper than a few levels
_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


def _check_text(value: Any, where: str, depth: int = 0) -> None:
    """Refuse control characters and lone surrogates up front: databases choke on NUL, XML
    (the XLSX export) on the others, and no client means them (streamd.validation)."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise field_problem(422, "Unprocessable content", where, problem)
    elif isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise field_problem(400, "Malformed request", where, _TOO_DEEP)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where, depth + 1)
            _check_text(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(item, f"{where}[{i}]", depth + 1)


class Api:
    """Collects routes; installs them on an app; renders the OpenAPI 3.1 document."""

    def __init__(
        self, *, prefix: str, authenticate: Authenticator, authorize: Authorizer | None = None
    ) -> None:
        self.prefix = prefix
        self.routes: list[Route] = []
        self._authenticate = authenticate
        self._authorize = authorize

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        roles: Iterable[Role] | None = None,
        act: authz.Act | None = None,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        responses: dict[int, type[BaseModel] | None],
        errors: tuple[int, ...] = (),
        csrf_exempt: bool = False,
        links: dict[str, tuple[str, dict[str, str]]] | None = None,
    ) -> Callable[[HandlerFn], HandlerFn]:
        if method not in SAFE_METHODS and act is None:
            raise ValueError(f"{method} {path}: a write route must name its authz.Act")
        if act is not None and act not in authz.OPEN_ACTS:
            roles = authz.roles_for(act)
        elif act is authz.Act.LOGOUT:
            roles = ()

        def register(fn: HandlerFn) -> HandlerFn:
            self.routes.append(
                Route(
                    method=method,
                    path=path,
                    handler=fn,
                    summary=summary,
                    tag=tag,
                    roles=frozenset(roles) if roles is not None else None,
                    body=body,
                    query=query,
                    responses=responses,
                    csrf_exempt=csrf_exempt,
                    errors=errors,
                    act=act,
                    links=links or {},
                )
            )
            return fn

        return register

    def install(self, app: web.Application) -> None:
        for route in self.routes:
            pattern = _PATH_PARAM.sub(lambda m: "{" + m.group(1) + r":\d{1,10}}", route.path)
            app.router.add_route(route.method, self.prefix + pattern, self._wrap(route))

    def _wrap(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            user = None
            if route.roles is not None:
                user = await self._authenticate(request)
                if route.roles and not route.roles.intersection(Role(r) for r in user.roles):
                    allowed = ", ".join(sorted(r.value for r in route.roles))
                    raise ApiProblem(403, "Forbidden", f"this action needs one of: {allowed}")
            params: dict[str, int] = {}
            for name, raw in request.match_info.items():
                value = parse_id(raw)
                if value is None:
                    raise ApiProblem(404, "Not found", f"no object with {name} {raw}")
                params[name] = value
            query = None
            if route.query is not None:
                raw_query = {k: request.query.getone(k) for k in request.query}
                _check_text(raw_query, "query")
                try:
                    query = route.query.model_validate(raw_query)
                except ValidationError as exc:
                    raise from_validation(exc, where="query") from None
            body = None
            if route.body is not None:
                # A cross-site form can post text/plain or form data without a preflight;
                # only a script allowed by CORS (none is) can send application/json.
                if request.content_type != "application/json":
                    raise ApiProblem(
                        415, "Unsupported media type", "send the body as application/json"
                    )
                body = route.body.model_validate(await _read_json(request))
            call = Call(request=request, user=user, body=body, query=query, params=params)
            # Writes are decided whole; reads of an object named in the path are checked
            # for its court, so another court's object is a 404 like a missing one.
            scoped_read = route.act is None and user is not None and bool(params)
            if (route.act is not None and route.act not in authz.OPEN_ACTS) or scoped_read:
                assert self._authorize is not None, "a write route needs an authoriser"
                try:
                    await self._authorize(route.act, call)
                except authz.Denied as exc:
                    raise ApiProblem(exc.status, _TITLES[exc.status], str(exc)) from None
            return await route.handler(call)

        async def validated(request: web.Request) -> web.StreamResponse:
            try:
                return await handle(request)
            except ValidationError as exc:
                raise from_validation(exc, where="body") from None

        return validated

    # ---- OpenAPI -------------------------------------------------------------------------

    def openapi(self, *, title: str, version: str) -> dict[str, Any]:
        Mode = Literal["validation", "serialization"]
        models: dict[tuple[type[BaseModel], Mode], None] = {(Problem, "serialization"): None}
        for route in self.routes:
            if route.body is not None:
                models[(route.body, "validation")] = None
            for model in route.responses.values():
                if model is not None:
                    models[(model, "serialization")] = None
        refs, top = models_json_schema(
            list(models), ref_template="#/components/schemas/{model}", title=title
        )
        schemas = dict(top.get("$defs", {}))
        paths: dict[str, dict[str, Any]] = {}
        for route in self.routes:
            op: dict[str, Any] = {
                "operationId": route.handler.__name__,
                "summary": route.summary,
                "tags": [route.tag],
                "responses": {},
            }
            parameters: list[dict[str, Any]] = [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                }
                for name in _PATH_PARAM.findall(route.path)
            ]
            if route.query is not None:
                qschema = route.query.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(qschema.pop("$defs", {}))
                required = set(qschema.get("required", []))
                for name, prop in qschema["properties"].items():
                    parameters.append(
                        {"name": name, "in": "query", "required": name in required, "schema": prop}
                    )
            if parameters:
                op["parameters"] = parameters
            if route.body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
                }
            for status, model in route.responses.items():
                response: dict[str, Any] = {"description": _DESCRIPTIONS.get(status, "OK")}
                if model is not None:
                    response["content"] = {
                        "application/json": {"schema": refs[(model, "serialization")]}
                    }
                if route.links and status < 300:
                    response["links"] = {
                        name: {"operationId": op_id, "parameters": params}
                        for name, (op_id, params) in route.links.items()
                    }
                op["responses"][str(status)] = response
            problem_ref = refs[(Problem, "serialization")]
            error_codes = set(route.errors)
            if route.body is not None or route.query is not None:
                error_codes |= {400, 422} if route.body is not None else {422}
            if route.roles is not None:
                error_codes |= {401}
                op["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
                if route.roles:
                    error_codes |= {403}
            if _PATH_PARAM.search(route.path):
                error_codes |= {404}
            for status in sorted(error_codes):
                op["responses"][str(status)] = {
                    "description": _DESCRIPTIONS.get(status, "Error"),
                    "content": {"application/problem+json": {"schema": problem_ref}},
                }
            paths.setdefault(self.prefix + route.path, {})[route.method.lower()] = op
        return {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version},
            "servers": [{"url": "/"}],
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer"},
                    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "streamd_session"},
                },
            },
        }


_TITLES = {403: "Forbidden", 404: "Not found", 409: "Conflict"}
_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not allowed for your role",
    404: "Not found",
    409: "Conflict with the current state",
    422: "Invalid input; `errors` names each field",
}


async def _read_json(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiProblem(413, "Content too large", f"at most {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    if not raw:
        raise field_problem(400, "Malformed request", "body", "a JSON body is required")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise field_problem(400, "Malformed request", "body", f"not valid JSON: {exc}") from None
    except RecursionError:  # `[[[[...` deeper than the parser's stack
        raise field_problem(400, "Malformed request", "body", _TOO_DEEP) from None
    _check_text(data, "body")
    return data


class Empty(BaseModel):
    """The body of a command that takes no arguments: `{}` and nothing else."""

    model_config = ConfigDict(extra="forbid")
