"""Errors as RFC 9457 problem details: one stable ``type`` and status per error class.

Every :class:`~velocity_domain.errors.VelocityError` has a ``code``; its
problem ``type`` is ``urn:velocity-domain:problem:<code>`` and never changes.
The body carries the error's own facts (``field`` for a validation error,
``expected_version`` for a stale write, ...) and never a stack trace, a SQL
statement or a driver's message: errors that are not the caller's to fix
answer with a fixed text.

>>> from velocity_domain.errors import NotFound, ValidationFailed
>>> problem_for(NotFound("crm_people", "01")).status
404
>>> p = problem_for(ValidationFailed("limit", "must be between 1 and 500"))
>>> p.status, p.type, p.body["field"]
(422, 'urn:velocity-domain:problem:validation_failed', 'limit')
"""

from __future__ import annotations

from typing import Any

import attrs

from velocity_domain.errors import (
    ApprovalRefused,
    AuthenticationFailed,
    BlobTampered,
    ClientError,
    ConcurrencyConflict,
    Conflict,
    IdempotencyConflict,
    NotConfigured,
    NotFound,
    PermissionDenied,
    PolicyDenied,
    Retryable,
    SchemaNotReady,
    UnitOfWorkError,
    ValidationFailed,
    VelocityError,
)

__all__ = [
    "MEDIA_TYPE",
    "Problem",
    "ProblemDocument",
    "ProblemField",
    "internal_problem",
    "problem_for",
    "problem_type",
    "request_problem",
    "status_of",
]

#: The media type of a problem document (RFC 9457).
MEDIA_TYPE = "application/problem+json"

_TYPE_PREFIX = "urn:velocity-domain:problem:"

# The first class in the error's method resolution order found here decides.
_STATUS: dict[type[VelocityError], int] = {
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    PolicyDenied: 403,
    ApprovalRefused: 403,
    NotFound: 404,
    IdempotencyConflict: 422,
    ValidationFailed: 422,
    UnitOfWorkError: 500,
    ClientError: 400,
    ConcurrencyConflict: 409,
    Conflict: 409,
    Retryable: 503,
    SchemaNotReady: 503,
    NotConfigured: 500,
    BlobTampered: 500,
}

# Errors whose facts are an operator's business: the client gets a fixed text.
_OPERATOR_ONLY = (UnitOfWorkError, SchemaNotReady, NotConfigured, BlobTampered)

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    428: "Precondition required",
    500: "Internal error",
    503: "Service unavailable",
}


def problem_type(code: str) -> str:
    """The stable problem ``type`` URI of an error code."""
    return _TYPE_PREFIX + code


def status_of(error: VelocityError | type[VelocityError]) -> int:
    """The HTTP status an error (or error class) answers with."""
    kind = error if isinstance(error, type) else type(error)
    for cls in kind.__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


@attrs.frozen
class ProblemField:
    """One refused field of a validation problem."""

    field: str
    reason: str


@attrs.frozen
class ProblemDocument:
    """The JSON body of every error response (RFC 9457 with the error's facts).

    ``type`` is stable per error class; ``code`` is the same name without the
    URI prefix; ``request_id`` is the ``X-Request-ID`` of the response.
    Validation problems add ``field``, ``reason`` and ``problems``; other
    errors add their own facts (see :mod:`velocity_domain.errors`).
    """

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str | None = None
    field: str | None = None
    reason: str | None = None
    problems: tuple[ProblemField, ...] | None = None


@attrs.frozen
class Problem:
    """A problem ready to send: status, ``type`` and the JSON body."""

    status: int
    type: str
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()

    def with_request_id(self, request_id: str | None) -> Problem:
        """The same problem naming the request it answers."""
        return attrs.evolve(self, body={**self.body, "request_id": request_id})


def _document(status: int, code: str, detail: str, facts: dict[str, Any]) -> Problem:
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update({k: v for k, v in facts.items() if k not in body and k != "message"})
    return Problem(status, body["type"], body)


def problem_for(error: VelocityError, *, status: int | None = None) -> Problem:
    """The problem document of a library error (``status`` overrides the usual one)."""
    answer = status or status_of(error)
    if isinstance(error, _OPERATOR_ONLY):
        return internal_problem(code=error.code, status=answer)
    facts = error.to_dict()
    headers: tuple[tuple[str, str], ...] = ()
    if answer == 401:
        headers = (("WWW-Authenticate", 'Bearer realm="velocity"'),)
    if answer == 503:
        headers = (("Retry-After", "1"),)
    problem = _document(answer, error.code, error.message, facts)
    return attrs.evolve(problem, headers=headers)


def request_problem(
    status: int, code: str, detail: str, *, field: str | None = None, reason: str | None = None
) -> Problem:
    """A problem the HTTP layer finds itself (a malformed body, a missing header)."""
    facts: dict[str, Any] = {}
    if field is not None:
        facts = {
            "field": field,
            "reason": reason or detail,
            "problems": [{"field": field, "reason": reason or detail}],
        }
    return _document(status, code, detail, facts)


def internal_problem(*, code: str = "internal_error", status: int = 500) -> Problem:
    """The answer to a failure that is not the caller's: no facts, a fixed text."""
    detail = (
        "the service could not answer this request; it was logged with its request id"
        if status == 500
        else "the service is not ready; retry later"
    )
    problem = _document(status, code, detail, {})
    return attrs.evolve(problem, headers=(("Retry-After", "5"),) if status == 503 else ())
