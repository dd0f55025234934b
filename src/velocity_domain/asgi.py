"""The root API over HTTP: every route family as one Litestar ASGI application.

Install the extra (``pip install "velocity-domain[http]"``), then::

    from velocity_domain import Velocity
    from velocity_domain.asgi import create_app

    app = create_app(Velocity.from_url(url, cursor_key=key))   # run it with uvicorn

or ``velocity-domain serve --url ...``. The application serves the route
families of :mod:`velocity_domain.api` under ``/api``, its OpenAPI 3.1
document at ``/openapi.json`` and an interactive page at ``/docs`` (from
files installed with the extra; no internet needed).

What a client can count on:

* **Authentication**: ``Authorization: Bearer <session token>`` (from
  ``velocity.sessions.issue``); no or a bad token is 401. The route's
  permission is checked next (403), then the request is read.
* **Errors** are RFC 9457 ``application/problem+json`` documents with a
  stable ``type`` per error class (:mod:`velocity_domain.api.problems`),
  the refused ``field`` for validation errors, and never a stack trace or SQL.
  Malformed JSON is 400, another content type 415, a body over the limit
  (``max_body_size``) 413, a refused value 422.
* **Versions**: a GET of one record returns its version as a strong
  ``ETag``; a PUT needs ``If-Match`` with it (428 without, 412 when stale).
* **Approval**: a write the writeback policy holds for review answers 202
  with the proposal's address in ``Location``.
* **Pages**: lists take ``limit`` (bounded) and an opaque ``cursor``; the
  next page's address is in ``Link: <...>; rel="next"``.
* **Idempotency**: a POST with ``Idempotency-Key`` is done once; a retry
  with the same key and body gets the first answer (``Idempotent-Replayed:
  true``), with another body 422. Keys are kept 24 hours in the store.
* **Request ids**: ``X-Request-ID`` (given, or made) is returned on every
  response and written as the correlation id of every audit event.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
import re
import tempfile
import uuid
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any, cast
from urllib.parse import urlencode

import anyio.to_thread
import attrs
import msgspec
from litestar import Litestar, Request, Response, get, route
from litestar.connection import ASGIConnection
from litestar.dto import AbstractDTO, DTOConfig
from litestar.dto.data_structures import DTOFieldDefinition
from litestar.dto.field import DTOField
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.params import HeaderParameter, JSONBody, Parameter, QueryParameter
from litestar.static_files import create_static_files_router
from litestar.types import Message, Scope
from litestar.types.empty import Empty
from litestar.typing import FieldDefinition

from velocity_domain import __version__
from velocity_domain.access.operations import OPERATIONS, authorize
from velocity_domain.access.principal import Principal
from velocity_domain.api import FAMILIES
from velocity_domain.api.encoding import unstructure
from velocity_domain.api.problems import (
    MEDIA_TYPE,
    Problem,
    ProblemDocument,
    internal_problem,
    problem_for,
    request_problem,
    status_of,
)
from velocity_domain.api.routing import REQUIRED, Call, Created, Download, Family, NoContent, Route
from velocity_domain.errors import (
    ApprovalRequired,
    ConcurrencyConflict,
    Retryable,
    ValidationFailed,
    VelocityError,
)
from velocity_domain.kernel.convert import from_dict
from velocity_domain.kernel.pagination import Page
from velocity_domain.services.identity.idempotency import StoredResponse
from velocity_domain.velocity import Velocity

__all__ = ["DEFAULT_MAX_BODY_SIZE", "Accepted", "create_app"]

log = logging.getLogger("velocity_domain.asgi")

#: The largest JSON body a route reads unless ``create_app`` says otherwise (1 MiB).
DEFAULT_MAX_BODY_SIZE = 1024 * 1024
#: The largest file an import route takes unless ``create_app`` says otherwise (256 MiB).
DEFAULT_MAX_UPLOAD_SIZE = 256 * 1024 * 1024

_REQUEST_ID = "velocity.request_id"
_PRINCIPAL = "velocity.principal"
_BODY_KEYS = "velocity.body_keys"
_REQUEST_ID_SHAPE = re.compile(r"[!-~]{1,128}")
_ETAG = re.compile(r'\s*"(\d{1,18})"\s*')
_JSON = re.compile(r"application/(?:[\w.+-]+\+)?json\s*(?:;.*)?", re.IGNORECASE)
_encoder = msgspec.json.Encoder()


@attrs.frozen
class Accepted:
    """The body of a 202: the write was stored as a proposal an operator must approve.

    ``proposal_id`` is the writeback to follow (its address is in
    ``Location``); ``reason`` and ``rule`` say why the policy held it.
    """

    proposal_id: str
    reason: str
    rule: str | None = None
    location: str = ""


# -- request ids ---------------------------------------------------------------------------


def _state(scope: Scope) -> dict[str, Any]:
    """The request's scope as a plain dict, for the keys this module keeps in it."""
    return cast("dict[str, Any]", scope)


def _request_id(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The request's id: the client's ``X-Request-ID`` if well formed, else a new one."""
    scope = _state(connection.scope)
    found = scope.get(_REQUEST_ID)
    if isinstance(found, str):
        return found
    given = connection.headers.get("x-request-id")
    request_id = given if given and _REQUEST_ID_SHAPE.fullmatch(given) else uuid.uuid4().hex
    scope[_REQUEST_ID] = request_id
    return request_id


async def _echo_request_id(message: Message, scope: Scope) -> None:
    """Put the request id on every response, also those no route handled (404, 405)."""
    if message["type"] == "http.response.start":
        state = _state(scope)
        found = state.get(_REQUEST_ID)
        if not isinstance(found, str):
            given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
            found = given if _REQUEST_ID_SHAPE.fullmatch(given) else uuid.uuid4().hex
            state[_REQUEST_ID] = found
        headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
        headers.append((b"x-request-id", found.encode("latin-1")))
        message["headers"] = headers


# -- responses -----------------------------------------------------------------------------


def _problem_response(problem: Problem, request_id: str) -> Response[bytes]:
    problem = problem.with_request_id(request_id)
    return Response(
        content=_encoder.encode(problem.body),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=dict(problem.headers),
    )


def _etag(value: Any) -> str | None:
    version = getattr(value, "version", None)
    if isinstance(version, int) and not isinstance(version, bool):
        return f'"{version}"'
    return None


def _json(status: int, payload: Any, headers: dict[str, str]) -> Response[bytes]:
    return Response(
        content=_encoder.encode(unstructure(payload)),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _next_link(request: Request[Any, Any, Any], cursor: str) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    query.append(("cursor", cursor))
    return f'<{request.url.path}?{urlencode(query)}>; rel="next"'


def _answer(route_: Route, request: Request[Any, Any, Any], result: Any) -> Response[bytes]:
    headers: dict[str, str] = {"Cache-Control": "no-store"} if route_.secret else {}
    if isinstance(result, NoContent):
        return Response(content=b"", status_code=204)
    if isinstance(result, Download):
        if result.filename:
            headers["Content-Disposition"] = f'attachment; filename="{result.filename}"'
        return Response(
            content=result.content, status_code=200, media_type=result.media_type, headers=headers
        )
    if isinstance(result, Created):
        headers["Location"] = result.location
        tag = _etag(result.value)
        if tag:
            headers["ETag"] = tag
        return _json(201, result.value, headers)
    if isinstance(result, Page):
        if result.next_cursor is not None:
            headers["Link"] = _next_link(request, result.next_cursor)
        return _json(route_.status, result, headers)
    tag = _etag(result)
    if tag:
        headers["ETag"] = tag
        if request.method == "GET" and tag in _tags(request.headers.get("if-none-match")):
            return Response(content=b"", status_code=304, headers=headers)
    return _json(route_.status, result, headers)


def _tags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {part.strip().removeprefix("W/") for part in header.split(",")}


def _accepted(error: ApprovalRequired) -> Response[bytes]:
    location = f"/api/workflow/writebacks/{error.proposal_id}"
    body = Accepted(str(error.proposal_id), error.reason, error.rule, location)
    return _json(202, body, {"Location": location})


# -- request bodies: read by the library's converter -----------------------------------------


class CattrsBody(AbstractDTO[Any]):
    """Read a JSON request body into the route's attrs type with the library's converter.

    The schema of the body comes from the type's fields; the value is built
    by :func:`velocity_domain.kernel.convert.from_dict`, so a refused value is
    ``ValidationFailed`` naming its field, as the services say it. A field
    the type does not have is refused too (a typo must not be ignored).
    """

    config = DTOConfig()

    @classmethod
    def generate_field_definitions(
        cls, model_type: type[Any]
    ) -> Generator[DTOFieldDefinition, None, None]:
        """The attrs fields of ``model_type``, as Litestar's field definitions."""
        hints = cls.get_model_type_hints(model_type)
        for field in attrs.fields(model_type):
            factory = field.default.factory if isinstance(field.default, attrs.Factory) else None  # type: ignore[arg-type]
            default = Empty if field.default is attrs.NOTHING or factory else field.default
            if isinstance(default, tuple):  # the schema's default is a JSON array
                default = list(default)
            definition = DTOFieldDefinition.from_field_definition(
                field_definition=hints[field.name],
                default_factory=factory,
                dto_field=DTOField(),
                model_name=model_type.__name__,
            )
            yield replace(definition, name=field.name, default=default)

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        """Whether a field holds another attrs class."""
        return attrs.has(field_definition.annotation)

    def decode_bytes(self, value: bytes) -> Any:
        """Check the media type, parse the JSON and build the request object.

        An empty body stands for ``{}``: a request whose fields all have
        defaults (an approval's comment) may be sent without one.
        """
        if not value.strip():
            _state(self.asgi_connection.scope)[_BODY_KEYS] = frozenset()
            return from_dict({}, self.model_type)
        kind = self.asgi_connection.headers.get("content-type", "")
        if not _JSON.fullmatch(kind.strip()):
            raise _RequestRefused(
                request_problem(
                    415,
                    "unsupported_media_type",
                    f"the body must be application/json, not {kind or 'unnamed'}",
                )
            )
        try:
            document = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise _RequestRefused(
                request_problem(400, "malformed_json", f"the body is not valid JSON: {exc}")
            ) from None
        if not isinstance(document, dict):
            raise ValidationFailed("body", f"must be a JSON object, not {type(document).__name__}")
        known = {field.name for field in attrs.fields(self.model_type)}
        unknown = sorted(set(document) - known)
        if unknown:
            raise ValidationFailed(unknown[0], f"is not a field of {self.model_type.__name__}")
        _state(self.asgi_connection.scope)[_BODY_KEYS] = frozenset(document)
        return from_dict(document, self.model_type)


class _RequestRefused(Exception):
    """The HTTP layer refused a request before it reached a service."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.body["detail"])
        self.problem = problem


# -- authentication and permission ---------------------------------------------------------


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _guard(velocity: Velocity, route_: Route) -> Callable[..., Any]:
    operation = OPERATIONS[route_.operation]

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        token = _bearer(connection)
        principal = await anyio.to_thread.run_sync(velocity.sessions.authenticate, token)
        request_id = _request_id(connection)
        if request_id is not None:
            principal = principal.with_correlation(request_id)
        authorize(principal, operation)
        _state(connection.scope)[_PRINCIPAL] = principal

    return guard


# -- the handler of one route --------------------------------------------------------------


@attrs.frozen
class _Settings:
    velocity: Velocity
    idempotency_wait: float
    max_upload_size: int


def _version(route_: Route, request: Request[Any, Any, Any]) -> int | None:
    if not route_.conditional:
        return None
    header = request.headers.get("if-match")
    if header is None:
        raise _RequestRefused(
            request_problem(
                428,
                "precondition_required",
                "this change needs If-Match with the record's ETag (its version)",
                field="If-Match",
                reason="is missing",
            )
        )
    found = _ETAG.fullmatch(header)
    if found is None:
        raise _RequestRefused(
            request_problem(
                400,
                "malformed_if_match",
                'If-Match must be one strong ETag such as "3"',
                field="If-Match",
                reason="is not a strong ETag",
            )
        )
    return int(found.group(1))


def _run(
    settings: _Settings,
    route_: Route,
    request: Request[Any, Any, Any],
    call: Call,
    fingerprint: str | None,
) -> Response[bytes]:
    """Run the route's handler (in a worker thread), honouring an idempotency key."""
    request_id = _request_id(request)
    key = request.headers.get("idempotency-key") if route_.method == "POST" else None
    if key is None or fingerprint is None:
        return _perform(route_, request, call, request_id)
    keys = settings.velocity.idempotency
    claim = keys.begin(call.principal, key, fingerprint, wait=settings.idempotency_wait)
    if claim.replay is not None:
        stored = claim.replay
        headers = {**dict(stored.headers), "Idempotent-Replayed": "true"}
        body = stored.body
        if stored.media_type == MEDIA_TYPE:  # a problem names the request it answers
            body = _encoder.encode({**json.loads(body), "request_id": request_id})
        return Response(
            content=body,
            status_code=stored.status,
            media_type=stored.media_type,
            headers=headers,
        )
    try:
        response = _perform(route_, request, call, request_id)
    except BaseException:
        keys.abandon(call.principal, key)
        raise
    status = response.status_code or 500
    if status >= 500:
        keys.abandon(call.principal, key)
        return response
    kept = tuple(
        (name, value)
        for name, value in response.headers.items()
        if name.lower() in {"location", "etag", "link", "www-authenticate", "retry-after"}
    )
    if route_.secret and status < 300:
        keys.finish(call.principal, key, _secret_kept_back(kept))
        return response
    body = response.content if isinstance(response.content, bytes) else b""
    media = str(response.media_type or "application/json")
    keys.finish(call.principal, key, StoredResponse(status, kept, body, media))
    return response


def _secret_kept_back(headers: tuple[tuple[str, str], ...]) -> StoredResponse:
    """What a retry of a secret answer gets: not the secret, but where the record is."""
    problem = request_problem(
        409,
        "secret_not_replayed",
        "the first request with this Idempotency-Key succeeded; its answer held a secret"
        " that is shown once and not kept, so make a new request with a new key",
    )
    return StoredResponse(409, headers, _encoder.encode(problem.body), MEDIA_TYPE)


def _perform(
    route_: Route, request: Request[Any, Any, Any], call: Call, request_id: str
) -> Response[bytes]:
    try:
        result = route_.handler(call)
    except ApprovalRequired as held:
        return _accepted(held)
    except ConcurrencyConflict as stale:
        status = 412 if route_.conditional else None
        return _problem_response(problem_for(stale, status=status), request_id)
    except VelocityError as error:
        if isinstance(error, Retryable):
            log.warning("request %s: %s", request_id, error)
        return _problem_response(problem_for(error), request_id)
    return _answer(route_, request, result)


def _fingerprint(request: Request[Any, Any, Any], body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query or ""):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update(body)
    return digest.hexdigest()


def _media_type(header: str | None) -> tuple[str, str | None]:
    """The media type of a Content-Type header, lower-cased, and its charset if named."""
    kind, _, parameters = (header or "").partition(";")
    charset = None
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return kind.strip().lower(), charset


async def _spool(request: Request[Any, Any, Any], limit: int) -> tuple[Any, str]:
    """Read a raw upload into a temporary file (in memory up to 8 MiB), hashing it."""
    spooled = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            spooled.close()
            raise _RequestRefused(
                request_problem(413, "body_too_large", f"the file is larger than {limit} bytes")
            )
        digest.update(chunk)
        spooled.write(chunk)
    spooled.seek(0)
    return spooled, digest.hexdigest()


def _generic(origin: Any, argument: Any) -> Any:
    """``origin[argument]`` for a type known only at run time."""
    return origin[argument]


def _parameters(route_: Route) -> list[inspect.Parameter]:
    """The handler's parameters as Litestar reads them: path, query, headers and body."""
    parameters = [
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
    ]
    for param in route_.params:
        bounds: dict[str, Any] = {}
        if param.minimum is not None:
            bounds["ge"] = param.minimum
        if param.maximum is not None:
            bounds["le"] = param.maximum
        if param.description:
            bounds["description"] = param.description
        annotation: Any = param.annotation
        if param.where == "query":
            annotation = Annotated[param.annotation, QueryParameter(name=param.name, **bounds)]
        elif bounds:
            annotation = Annotated[param.annotation, Parameter(**bounds)]
        default = (
            inspect.Parameter.empty
            if param.where == "path" or param.default is REQUIRED
            else param.default
        )
        parameters.append(
            inspect.Parameter(
                param.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
            )
        )
    for name, header, description, wanted in (
        ("if_match", "If-Match", "the record's ETag: its version", route_.conditional),
        (
            "idempotency_key",
            "Idempotency-Key",
            "retrying with the same key and body returns the first answer",
            route_.method == "POST",
        ),
    ):
        if wanted:
            documented = Annotated[
                str | None,
                HeaderParameter(name=header, description=description, max_length=255),
            ]
            parameters.append(
                inspect.Parameter(
                    name, inspect.Parameter.KEYWORD_ONLY, annotation=documented, default=None
                )
            )
    if route_.body is not None:
        parameters.append(
            inspect.Parameter(
                "data",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=_generic(JSONBody, route_.body),
                default=None,
            )
        )
    return parameters


def _handler_for(settings: _Settings, route_: Route) -> Callable[..., Any]:
    """An async handler with the route's parameters in its signature (for Litestar)."""

    async def handler(request: Request[Any, Any, Any], **values: Any) -> Response[bytes]:
        data = values.pop("data", None)
        values.pop("if_match", None)  # read from the headers below, with their own answers
        values.pop("idempotency_key", None)
        principal: Principal = _state(request.scope)[_PRINCIPAL]
        request_id = _request_id(request)
        content = None
        media_type = charset = None
        try:
            version = _version(route_, request)
            if route_.upload:
                media_type, charset = _media_type(request.headers.get("content-type"))
                if media_type.lower() not in route_.upload:
                    allowed = ", ".join(route_.upload)
                    raise _RequestRefused(
                        request_problem(
                            415, "unsupported_media_type", f"send the file as one of: {allowed}"
                        )
                    )
                content, digest = await _spool(request, settings.max_upload_size)
                fingerprint = _fingerprint(request, digest.encode())
            else:
                raw = await request.body() if route_.body is not None else b""
                fingerprint = _fingerprint(request, raw)
            if route_.body is not None and data is None:  # no body: the type's defaults
                data = from_dict({}, route_.body)
        except _RequestRefused as refused:
            return _problem_response(refused.problem, request_id)
        except ValidationFailed as refused:
            return _problem_response(problem_for(refused), request_id)
        call = Call(
            settings.velocity,
            principal,
            values,
            data,
            _state(request.scope).get(_BODY_KEYS, frozenset()),
            version,
            content,
            media_type,
            charset,
        )
        try:
            return await anyio.to_thread.run_sync(
                _run, settings, route_, request, call, fingerprint
            )
        finally:
            if content is not None:
                content.close()

    parameters = _parameters(route_)
    returns: Any = _generic(Page, route_.returns) if route_.many else route_.returns
    handler.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    handler.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
    handler.__name__ = route_.operation_id
    handler.__qualname__ = handler.__name__
    handler.__doc__ = route_.summary
    return handler


def _responses(route_: Route) -> dict[int, ResponseSpec]:
    specs: dict[int, ResponseSpec] = {}
    statuses: dict[int, list[str]] = {}
    for error in route_.all_errors:
        status = status_of(error)
        statuses.setdefault(status, []).append(error.code)
    if route_.method != "GET":
        statuses.setdefault(422, []).append("idempotency_conflict")
        specs[202] = ResponseSpec(
            data_container=Accepted,
            description="held for approval: the proposal to follow is in Location",
        )
    statuses.setdefault(400, []).append("bad_request")
    if route_.body is not None or route_.upload:
        statuses.setdefault(400, []).append("malformed_json")
        statuses.setdefault(413, []).append("body_too_large")
        statuses.setdefault(415, []).append("unsupported_media_type")
    if route_.secret:
        statuses.setdefault(409, []).append("secret_not_replayed")
    if route_.conditional:
        statuses.setdefault(412, []).append("concurrency_conflict")
        statuses.setdefault(428, []).append("precondition_required")
    for status, codes in sorted(statuses.items()):
        specs[status] = ResponseSpec(
            data_container=ProblemDocument,
            media_type=MEDIA_TYPE,
            description="problem: " + ", ".join(dict.fromkeys(codes)),
        )
    return specs


def _route_handler(settings: _Settings, family: Family, route_: Route) -> Any:
    path = family.prefix + route_.path
    for param in route_.params:
        if param.where == "path":
            kind = "uuid" if param.annotation is uuid.UUID else "str"
            path = path.replace("{" + param.name + "}", "{" + param.name + ":" + kind + "}")
    options: dict[str, Any] = {
        "http_method": [route_.method],
        "operation_id": route_.operation_id,
        "media_type": route_.media_type,
        "summary": route_.summary,
        "description": _describe(route_),
        "tags": [family.name],
        "status_code": route_.status,
        "responses": _responses(route_),
        "guards": [] if route_.public else [_guard(settings.velocity, route_)],
        "security": [] if route_.public else [{"bearer": []}],
    }
    if route_.body is not None:
        options["dto"] = _generic(CattrsBody, route_.body)
        options["return_dto"] = None
    if route_.upload:
        options["request_max_body_size"] = None
        options["operation_class"] = _upload_operation(route_.upload)
    return route(path, **options)(_handler_for(settings, route_))


def _upload_operation(media_types: tuple[str, ...]) -> type[Operation]:
    """An OpenAPI operation whose request body is the raw file, in one of ``media_types``."""
    body = RequestBody(
        content={
            kind: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, content_media_type=kind))
            for kind in media_types
        },
        description="the file itself, streamed as the request body",
        required=True,
    )

    @dataclass
    class UploadOperation(Operation):
        def __post_init__(self) -> None:
            if self.request_body is None:
                self.request_body = body

    return UploadOperation


def _describe(route_: Route) -> str:
    permission = route_.permission or "none beyond a valid session"
    lines = [route_.summary, "", f"Permission: `{permission}`. Operation: `{route_.operation}`."]
    if route_.conditional:
        lines.append("Needs `If-Match` with the record's ETag.")
    if route_.method == "POST":
        lines.append("Takes an `Idempotency-Key` header.")
    return "\n".join(lines)


def _openapi(docs: bool) -> OpenAPIConfig:
    plugins: list[Any] = []
    if docs:
        plugins.append(
            SwaggerRenderPlugin(
                js_url="/docs/assets/swagger-ui-bundle.js",
                css_url="/docs/assets/swagger-ui.css",
                standalone_preset_js_url="/docs/assets/swagger-ui-standalone-preset.js",
                favicon="<link rel='icon' type='image/png' href='/docs/assets/favicon-32x32.png'>",
                path="/",
            )
        )
    return OpenAPIConfig(
        title="velocity_domain root API",
        version=__version__,
        description="The route families of the Project Velocity CRM over its canonical model.",
        path="/docs",
        render_plugins=plugins,
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http", scheme="bearer", description="a session token"
                )
            }
        ),
        use_handler_docstrings=False,
    )


def _exception_handlers() -> dict[Any, Callable[..., Response[bytes]]]:
    def velocity_error(request: Request[Any, Any, Any], error: VelocityError) -> Response[bytes]:
        return _problem_response(problem_for(error), _request_id(request))

    def refused(request: Request[Any, Any, Any], error: _RequestRefused) -> Response[bytes]:
        return _problem_response(error.problem, _request_id(request))

    def http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
        status = error.status_code
        if isinstance(error, ValidationException):
            field, reason = _first_invalid(error)
            problem = request_problem(
                422, "validation_failed", f"{field}: {reason}", field=field, reason=reason
            )
        elif status >= 500:
            log.error("request %s: %s", _request_id(request), error)
            problem = internal_problem()
        else:
            code = {
                404: "no_such_route",
                405: "method_not_allowed",
                413: "body_too_large",
            }.get(status, "bad_request")
            problem = request_problem(status, code, error.detail or "bad request")
        headers = dict(problem.headers) | {
            k: v for k, v in (error.headers or {}).items() if k.lower() == "allow"
        }
        return _problem_response(
            attrs.evolve(problem, headers=tuple(headers.items())), _request_id(request)
        )

    def unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
        log.exception("request %s failed", _request_id(request), exc_info=error)
        return _problem_response(internal_problem(), _request_id(request))

    return {
        VelocityError: velocity_error,
        _RequestRefused: refused,
        HTTPException: http_error,
        Exception: unexpected,
    }


_MISSING = re.compile(r"Missing required \w+ parameter '([^']+)'")


# Header parameters as the handler names them, and as the client sent them.
_HEADERS = {"idempotency_key": "Idempotency-Key", "if_match": "If-Match"}


def _first_invalid(error: ValidationException) -> tuple[str, str]:
    extra = error.extra
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        first = extra[0]
        key = str(first.get("key") or "request")
        return _HEADERS.get(key, key), str(first.get("message") or "is not valid")
    missing = _MISSING.search(error.detail or "")
    if missing:
        return missing.group(1), "is required"
    return "request", "is not valid"


class _Purger:
    """Delete expired idempotency keys when the app starts, then every ``every`` seconds."""

    def __init__(self, velocity: Velocity, every: float) -> None:
        self.velocity = velocity
        self.every = every
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _run(self) -> None:
        system = Principal.system("velocity-domain http")
        while True:
            try:
                await anyio.to_thread.run_sync(self.velocity.idempotency.purge_expired, system)
            except VelocityError as error:  # the next round tries again
                log.warning("purging expired idempotency keys failed: %s", error)
            await asyncio.sleep(self.every)


def create_app(
    velocity: Velocity,
    *,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    max_upload_size: int = DEFAULT_MAX_UPLOAD_SIZE,
    idempotency_wait: float = 10.0,
    purge_every: float | None = 3600.0,
    families: Sequence[Family] = FAMILIES,
    docs: bool = True,
    debug: bool = False,
) -> Litestar:
    """Return the ASGI application serving ``families`` over ``velocity``.

    ``max_body_size`` bounds a JSON body (413 above it), ``max_upload_size``
    an import file; ``idempotency_wait`` is how long a retry waits for the
    first request with its key to finish before answering 409. While the
    app runs it deletes idempotency keys older than their 24 hours every
    ``purge_every`` seconds (``None``: the host does it with
    ``velocity.idempotency.purge_expired``). A host runs the app alone
    (``uvicorn``) or mounts it in its own ASGI application.
    """
    settings = _Settings(velocity, idempotency_wait, max_upload_size)
    handlers: list[Any] = [
        _route_handler(settings, family, route_) for family in families for route_ in family.routes
    ]

    @get("/openapi.json", include_in_schema=False, media_type="application/json")
    async def openapi_document(request: Request[Any, Any, Any]) -> Response[bytes]:
        document = request.app.openapi_schema.to_schema()
        return Response(content=_encoder.encode(document), media_type="application/json")

    handlers.append(openapi_document)
    if docs:
        from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # noqa: PLC0415

        handlers.append(
            create_static_files_router(
                path="/docs/assets", directories=[str(swagger_ui_path)], include_in_schema=False
            )
        )
    purger = _Purger(velocity, purge_every) if purge_every else None
    return Litestar(
        route_handlers=handlers,
        on_startup=[purger.start] if purger else [],
        on_shutdown=[purger.stop] if purger else [],
        openapi_config=_openapi(docs),
        exception_handlers=_exception_handlers(),
        before_send=[_echo_request_id],
        request_max_body_size=max_body_size,
        debug=debug,
        logging_config=None,
    )
