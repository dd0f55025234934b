"""Idempotency keys: what a store keeps so a retried request is answered, not run, again.

A host's HTTP layer claims the ``Idempotency-Key`` of a request before doing
its work and stores the response afterwards; a retry with the same key gets
that response back. The records live in the store beside the canonical
data (``api_idempotency_keys`` on PostgreSQL) but are not canonical rows:
they carry no UUID key, no version and no audit trail, and expire. This
module holds the record types and the store port
(:class:`IdempotencyKeys`, an extension port every store of the library
offers); the rules (leases, retention, waiting) are the service's, in
:mod:`velocity_domain.services.identity.idempotency`.

>>> StoredResponse(201, [("Location", "/api/crm/contacts/1")], b"{}", "application/json").headers
(('Location', '/api/crm/contacts/1'),)
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Protocol

import attrs

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.arguments import text_problem

__all__ = [
    "IDEMPOTENCY_TABLE",
    "IdempotencyKeys",
    "IdempotencyRecord",
    "IdempotencyState",
    "StoredResponse",
]

#: The name of the table the records live in (in errors; PostgreSQL's table is named so too).
IDEMPOTENCY_TABLE = "api_idempotency_keys"
#: The longest media type and header name kept.
_SHORT_TEXT = 255
#: The longest header value kept.
_HEADER_VALUE = 8192


def _header_text(value: object, field: str, limit: int) -> str:
    """``value`` if it is text a header may carry (and JSON store), else ``ValidationFailed``."""
    if not isinstance(value, str):
        raise ValidationFailed(field, f"must be text, not {type(value).__name__}")
    problem = text_problem(value)
    if problem is not None:
        raise ValidationFailed(field, problem)
    if "\r" in value or "\n" in value:
        raise ValidationFailed(field, "must not contain a line break")
    if len(value) > limit:
        raise ValidationFailed(field, f"must be at most {limit} characters, got {len(value)}")
    return value


def _pairs(value: Any) -> Any:
    """Headers given as a list (or any sequence) of pairs, as a tuple of tuples."""
    if isinstance(value, list | tuple) and all(isinstance(p, list | tuple) for p in value):
        return tuple(tuple(pair) for pair in value)
    return value


def _bytes(value: Any) -> Any:
    """A ``bytearray`` or ``memoryview`` body as ``bytes`` (anything else is left to the check)."""
    return bytes(value) if isinstance(value, bytearray | memoryview) else value


def _check_status(_: StoredResponse, __: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed("status", f"must be an integer, not {type(value).__name__}")
    if not 100 <= value <= 599:
        raise ValidationFailed("status", f"must be an HTTP status (100 to 599), got {value}")


def _check_headers(
    _: StoredResponse, __: attrs.Attribute[tuple[tuple[str, str], ...]], value: object
) -> None:
    if not isinstance(value, tuple):
        raise ValidationFailed("headers", "must be a sequence of (name, value) pairs")
    for index, pair in enumerate(value):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ValidationFailed(f"headers[{index}]", "must be a (name, value) pair")
        name = _header_text(pair[0], f"headers[{index}]", _SHORT_TEXT)
        if not name:
            raise ValidationFailed(f"headers[{index}]", "a header name must not be empty")
        _header_text(pair[1], f"headers[{index}]", _HEADER_VALUE)


def _check_body(_: StoredResponse, __: attrs.Attribute[bytes], value: object) -> None:
    if not isinstance(value, bytes):
        raise ValidationFailed("body", f"must be bytes, not {type(value).__name__}")


def _check_media_type(_: StoredResponse, __: attrs.Attribute[str], value: object) -> None:
    if not _header_text(value, "media_type", _SHORT_TEXT):
        raise ValidationFailed("media_type", "must not be empty")


@attrs.frozen
class StoredResponse:
    """The response a request made with an idempotency key got, kept to answer its retries.

    Checked when made: ``status`` an HTTP status, ``headers`` (name, value)
    text pairs without line breaks (a list of pairs is taken as a tuple),
    ``body`` bytes (a ``bytearray`` is taken), ``media_type`` non-empty text.
    A bad value is ``ValidationFailed`` naming the field.
    """

    status: int = attrs.field(validator=_check_status)
    headers: tuple[tuple[str, str], ...] = attrs.field(converter=_pairs, validator=_check_headers)
    body: bytes = attrs.field(converter=_bytes, validator=_check_body, repr=False)
    media_type: str = attrs.field(validator=_check_media_type)


class IdempotencyState(enum.StrEnum):
    """Where a claimed key stands."""

    #: Claimed: the first request is doing its work.
    PENDING = "pending"
    #: Finished: the response is stored.
    DONE = "done"


@attrs.frozen
class IdempotencyRecord:
    """One key of one owner, as stored (built by stores from trusted rows)."""

    #: Whose key it is: a user's id, or ``system:<name>`` (keys are scoped per owner).
    owner: str
    key: str
    #: The caller's hash of the first request (method, path, body).
    fingerprint: str
    state: IdempotencyState
    #: When the key was (last) claimed: the start of its lease and of its retention.
    claimed_at: datetime
    completed_at: datetime | None = None
    #: The stored response, once ``DONE``.
    response: StoredResponse | None = None


class IdempotencyKeys(Protocol):
    """A store's idempotency keys inside one transaction (an extension port).

    Each method is one statement on PostgreSQL; in memory the transaction's
    lock makes each as atomic. Every write is a conditional one, so of
    several transactions racing for the same key exactly one succeeds.
    """

    def claim(self, owner: str, key: str, fingerprint: str, at: datetime) -> bool:
        """Insert a pending claim of ``key`` unless the owner has one (``ON CONFLICT DO NOTHING``).

        Returns whether this call inserted it. A concurrent claim not yet
        committed makes this call wait for it, as a unique key does.
        """
        ...

    def find(self, owner: str, key: str) -> IdempotencyRecord | None:
        """The owner's record of ``key``, or ``None``."""
        ...

    def reclaim(
        self,
        owner: str,
        key: str,
        fingerprint: str,
        at: datetime,
        *,
        claimed_before: datetime,
        pending_only: bool,
    ) -> bool:
        """Make the key a fresh pending claim of ``fingerprint`` if it was claimed before a time.

        One conditional update: only if the record was claimed before
        ``claimed_before`` (and, with ``pending_only``, is still pending)
        does it become pending again, claimed ``at``, its response dropped.
        Returns whether this call did it; of racing callers only one does.
        """
        ...

    def complete(self, owner: str, key: str, response: StoredResponse, at: datetime) -> bool:
        """Store ``response`` on the owner's pending claim of ``key`` and mark it done.

        Returns ``False`` (writing nothing) when there is no pending claim.
        """
        ...

    def release(self, owner: str, key: str) -> bool:
        """Delete the owner's pending claim of ``key``; ``False`` when there is none."""
        ...

    def purge(self, claimed_before: datetime) -> int:
        """Delete every record (of any owner) claimed before ``claimed_before``; return how many."""
        ...
