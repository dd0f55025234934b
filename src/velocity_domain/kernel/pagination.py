"""Keyset pagination: page requests, pages, and opaque tamper-evident cursors.

A cursor carries the sort key of the last row of a page plus the *scope* of
the listing it came from (which table, order and filters). It is signed with
HMAC-SHA256, so a cursor that was edited, cut short, or made for another
listing is refused with :class:`~velocity_domain.errors.InvalidCursor` rather
than silently giving a wrong page.

>>> codec = CursorCodec(b"k" * 32)
>>> token = codec.encode("people:name", ("asha", 7))
>>> codec.decode(token, "people:name")
('asha', 7)
>>> codec.decode(token, "accounts:name")
Traceback (most recent call last):
...
velocity_domain.errors.InvalidCursor: cursor: was made for another listing ...
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

import attrs

from velocity_domain.errors import InvalidCursor, NotConfigured, ValidationFailed

__all__ = [
    "CURSOR_KEY_ENV",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "CursorCodec",
    "CursorValue",
    "Page",
    "PageRequest",
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_SIG_BYTES = 16
_MIN_KEY_BYTES = 16
#: The environment setting a host may use instead of passing ``cursor_key``.
CURSOR_KEY_ENV = "VELOCITY_CURSOR_KEY"
# The in-memory store's key: random, so valid only in this process (as its data is).
_PROCESS_KEY = secrets.token_bytes(32)

T = TypeVar("T")
CursorValue = str | int | bool | None | uuid.UUID | datetime | date | Decimal


def _check_limit(_: object, __: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed("limit", f"must be an integer, not {type(value).__name__}")
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValidationFailed("limit", f"must be between 1 and {MAX_PAGE_SIZE}, got {value}")


@attrs.frozen
class PageRequest:
    """How many rows to return and where to continue (``cursor`` from the last page)."""

    limit: int = attrs.field(default=DEFAULT_PAGE_SIZE, validator=_check_limit)
    cursor: str | None = None


@attrs.frozen
class Page(Generic[T]):
    """One page of results; ``next_cursor`` is ``None`` on the last page."""

    items: tuple[T, ...]
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(value: CursorValue) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, uuid.UUID):
        return {"u": value.hex}
    if isinstance(value, datetime):
        return {"t": value.astimezone(UTC).isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


def _untag(raw: object) -> CursorValue:
    if raw is None or isinstance(raw, bool | int | str):
        return raw
    if isinstance(raw, dict) and len(raw) == 1:
        ((kind, text),) = raw.items()
        if isinstance(text, str):
            try:
                if kind == "u":
                    return uuid.UUID(hex=text)
                if kind == "t":
                    return datetime.fromisoformat(text)
                if kind == "d":
                    return date.fromisoformat(text)
                if kind == "n":
                    return Decimal(text)
            except (ValueError, InvalidOperation):
                pass
    raise InvalidCursor("holds a value this library did not write")


class CursorCodec:
    """Encode and decode keyset cursors, signed so tampering is detected.

    The key gives integrity, not secrecy: a cursor's content is only base64.
    Anyone who knows the key can forge a cursor, so it must not be a value
    published with the library: the in-memory store uses a random key of its
    process, and a PostgreSQL store the host's key (:meth:`from_host`).
    Hosts that run several processes give all of them the same key.
    """

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < _MIN_KEY_BYTES:
            raise ValidationFailed("cursor_key", f"must be at least {_MIN_KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def for_this_process(cls) -> CursorCodec:
        """Return a codec with a random key made when this process started.

        Right for a store that lives in one process (the in-memory one): its
        cursors cannot outlive it, and nobody else can forge them.
        """
        return cls(_PROCESS_KEY)

    @classmethod
    def from_host(cls, key: bytes | str | None) -> CursorCodec:
        """Return a codec with the host's ``key``, or with ``$VELOCITY_CURSOR_KEY`` when it is None.

        A shared store outlives processes and is reached by several, so the
        key must come from the host (the same in every process, kept secret);
        without one, :class:`~velocity_domain.errors.NotConfigured` names both ways to give it.
        """
        source = "cursor_key"
        if key is None:
            key, source = os.environ.get(CURSOR_KEY_ENV) or None, CURSOR_KEY_ENV
        if key is None:
            raise NotConfigured(
                "a PostgreSQL-backed Velocity needs a cursor signing key",
                f"pass Velocity.from_url(..., cursor_key=...) or set {CURSOR_KEY_ENV}"
                f" (a secret of at least {_MIN_KEY_BYTES} bytes, the same in every process)",
            )
        raw = key.encode() if isinstance(key, str) else key
        if not isinstance(raw, bytes) or len(raw) < _MIN_KEY_BYTES:
            raise ValidationFailed(source, f"must be at least {_MIN_KEY_BYTES} bytes")
        return cls(raw)

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIG_BYTES]

    def encode(self, scope: str, values: Sequence[CursorValue]) -> str:
        """Return an opaque cursor for the sort key ``values`` of listing ``scope``."""
        body = {"s": scope, "v": [_tag(v) for v in values]}
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, token: str, scope: str) -> tuple[CursorValue, ...]:
        """Return the sort key in ``token``; refuse a foreign, edited or malformed cursor."""
        if not isinstance(token, str) or token.count(".") != 1:
            raise InvalidCursor("is not a cursor issued by this library")
        body_part, sig_part = token.split(".")
        try:
            payload, signature = _unb64(body_part), _unb64(sig_part)
        except (binascii.Error, ValueError):
            raise InvalidCursor("is not valid base64") from None
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidCursor("was altered or signed with another key")
        try:
            body = json.loads(payload)
        except ValueError:
            raise InvalidCursor("is not valid JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("v"), list):
            raise InvalidCursor("has an unexpected shape")
        if body.get("s") != scope:
            raise InvalidCursor(
                "was made for another listing (different table, order or filters);"
                " start again without a cursor"
            )
        return tuple(_untag(v) for v in body["v"])
