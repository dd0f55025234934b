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
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

import attrs

from velocity_domain.errors import InvalidCursor, ValidationFailed

__all__ = [
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
_DEFAULT_KEY = b"velocity-domain cursor integrity key v1"

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
    Hosts that run several processes give all of them the same key.
    """

    def __init__(self, key: bytes = _DEFAULT_KEY) -> None:
        if len(key) < 16:
            raise ValidationFailed("cursor_key", "must be at least 16 bytes")
        self._key = key

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
