"""The typed, validated attrs fields every canonical entity is made of.

Each helper checks the value's type and range when the entity is built,
raising :class:`~velocity_domain.errors.ValidationFailed` that names the table
and the field, and records a :class:`FieldSpec` in the field's metadata: what
the schema conformance test, the property tests and the docs read. The entity
base classes are in :mod:`velocity_domain.kernel.model`.
"""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar
from uuid import UUID

import attrs

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.clock import ensure_utc
from velocity_domain.kernel.convert import register_enum
from velocity_domain.kernel.ids import new_id
from velocity_domain.kernel.normalize import normalize_email, normalize_phone

__all__ = [
    "CURRENCY_RE",
    "MEDIA_TYPE_PATTERN",
    "SHA256_HEX_PATTERN",
    "FieldSpec",
    "boolean",
    "choice",
    "count",
    "currency",
    "day",
    "decimal",
    "email",
    "field_spec",
    "id_field",
    "invalid",
    "json_field",
    "labels",
    "long_text",
    "media_type",
    "money",
    "phone",
    "ratio",
    "ref",
    "sha256_hex",
    "text",
    "timestamp",
    "url",
    "utcnow",
]

Kind = Literal[
    "id",
    "ref",
    "text",
    "long_text",
    "email",
    "phone",
    "url",
    "choice",
    "int",
    "decimal",
    "money",
    "ratio",
    "currency",
    "datetime",
    "date",
    "bool",
    "json",
    "labels",
]

E = TypeVar("E", bound=enum.Enum)
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
#: A SHA-256 digest written as 64 lower-case hex characters.
SHA256_HEX_PATTERN = r"[0-9a-f]{64}"
#: A media (MIME) type ``type/subtype`` such as ``audio/mpeg``, without parameters.
MEDIA_TYPE_PATTERN = r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*"
SHORT_TEXT_MAX = 500
LONG_TEXT_MAX = 1_000_000
_META_KEY = "velocity"
_ALLOWED_CONTROL_IN_LONG_TEXT = {"\n", "\r", "\t"}


@attrs.frozen
class FieldSpec:
    """What a field holds, for the schema conformance test, property tests and docs."""

    kind: Kind
    optional: bool = False
    max_length: int | None = None
    choices: type[enum.Enum] | None = None
    minimum: Decimal | int | None = None
    maximum: Decimal | int | None = None
    references: str | None = None  # "table.column" of the row it points at, when known
    pattern: str | None = None  # a regular expression every text (or label) fully matches


def field_spec(field: attrs.Attribute[Any]) -> FieldSpec:
    """Return the :class:`FieldSpec` recorded on an entity field."""
    spec = field.metadata.get(_META_KEY)
    if not isinstance(spec, FieldSpec):
        raise TypeError(f"field {field.name} was not made by velocity_domain.kernel.model")
    return spec


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC (the default for timestamps)."""
    return datetime.now(UTC)


def invalid(instance: object, field: str, reason: str, value: object = None) -> ValidationFailed:
    """Return the ``ValidationFailed`` for ``field`` of ``instance`` (an entity or its class)."""
    return ValidationFailed(
        field, reason, value=value, entity=getattr(type(instance), "table_name", None)
    )


Check = Callable[[object, str, Any], None]


def _validator(check: Check, optional: bool) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    def validate(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            if not optional:
                raise invalid(instance, attribute.name, "is required")
            return
        check(instance, attribute.name, value)

    return validate


def _make(
    spec: FieldSpec,
    check: Check,
    *,
    default: Any = attrs.NOTHING,
    factory: Callable[[], Any] | None = None,
    convert: Callable[[Any, attrs.Attribute[Any], Any], Any] | None = None,
) -> Any:
    if spec.optional and default is attrs.NOTHING and factory is None:
        default = None
    converter = (
        attrs.Converter(convert, takes_self=True, takes_field=True)  # type: ignore[call-overload]
        if convert
        else None
    )
    return attrs.field(
        default=attrs.Factory(factory) if factory else default,
        validator=_validator(check, spec.optional),
        converter=converter,
        metadata={_META_KEY: spec},
        kw_only=True,
    )


def _type_check(expected: type | tuple[type, ...], label: str) -> Check:
    def check(instance: object, name: str, value: Any) -> None:
        if isinstance(value, bool) and bool not in (
            expected if isinstance(expected, tuple) else (expected,)
        ):
            raise invalid(instance, name, f"must be {label}, not bool", value)
        if not isinstance(value, expected):
            raise invalid(instance, name, f"must be {label}, not {type(value).__name__}", value)

    return check


def _uuid_check(instance: object, name: str, value: Any) -> None:
    _type_check(UUID, "a UUID")(instance, name, value)


def id_field() -> Any:
    """The primary key: a UUID, by default a fresh UUIDv7."""
    return _make(FieldSpec("id"), _uuid_check, factory=new_id)


def ref(references: str | None = None, *, optional: bool = False) -> Any:
    """A reference to another row by its UUID (``references`` is ``"table.column"``)."""
    return _make(FieldSpec("ref", optional=optional, references=references), _uuid_check)


def _text_check(max_length: int, multiline: bool) -> Check:
    def check(instance: object, name: str, value: Any) -> None:
        _type_check(str, "a string")(instance, name, value)
        if not value.strip():
            raise invalid(instance, name, "must not be empty or blank", value)
        if len(value) > max_length:
            raise invalid(instance, name, f"is longer than {max_length} characters", value)
        for ch in value:
            category = unicodedata.category(ch)
            if category == "Cc" and not (multiline and ch in _ALLOWED_CONTROL_IN_LONG_TEXT):
                raise invalid(instance, name, f"contains the control character {ch!r}", value)
            if category == "Cs":
                raise invalid(instance, name, "contains a lone surrogate (not valid Unicode)")

    return check


def _pattern_check(max_length: int, pattern: str | None, hint: str | None) -> Check:
    base = _text_check(max_length, multiline=False)
    if pattern is None:
        return base
    compiled = re.compile(pattern)
    reason = f"must be {hint or f'text matching {pattern}'}"

    def check(instance: object, name: str, value: Any) -> None:
        base(instance, name, value)
        if not compiled.fullmatch(value):
            raise invalid(instance, name, reason, value)

    return check


def text(
    *,
    max_length: int = SHORT_TEXT_MAX,
    optional: bool = False,
    default: Any = None,
    pattern: str | None = None,
    pattern_hint: str | None = None,
) -> Any:
    """A short single-line string: not blank, no control characters, bounded length.

    With ``pattern`` the whole value must match that regular expression; a
    mismatch is refused as "must be ``pattern_hint``".

    >>> from velocity_domain.kernel.model import Entity
    >>> @attrs.frozen(kw_only=True)
    ... class Slug(Entity):
    ...     table_name: ClassVar[str] = "slugs"
    ...     key_field: ClassVar[str] = "slug_id"
    ...     slug_id: UUID = id_field()
    ...     slug: str = text(max_length=64, pattern=r"[a-z]+", pattern_hint="lower-case letters")
    >>> Slug(slug="Asha")
    Traceback (most recent call last):
    ...
    velocity_domain.errors.ValidationFailed: slugs.slug: must be lower-case letters
    """
    spec = FieldSpec("text", optional=optional, max_length=max_length, pattern=pattern)
    return _make(
        spec,
        _pattern_check(max_length, pattern, pattern_hint),
        default=default if default is not None else attrs.NOTHING,
    )


def sha256_hex(*, optional: bool = False) -> Any:
    """A SHA-256 digest as 64 lower-case hex characters (content hashes, token hashes)."""
    return text(
        max_length=64,
        optional=optional,
        pattern=SHA256_HEX_PATTERN,
        pattern_hint="a SHA-256 digest as 64 lower-case hex characters",
    )


def media_type(*, max_length: int = 255, optional: bool = False) -> Any:
    """A lower-case media (MIME) type ``type/subtype`` such as ``image/jpeg``."""
    return text(
        max_length=max_length,
        optional=optional,
        pattern=MEDIA_TYPE_PATTERN,
        pattern_hint="a lower-case media type such as image/jpeg",
    )


def long_text(*, max_length: int = LONG_TEXT_MAX, optional: bool = True) -> Any:
    """A long free text (notes, message bodies, transcripts); newlines allowed."""
    spec = FieldSpec("long_text", optional=optional, max_length=max_length)
    return _make(spec, _text_check(max_length, multiline=True))


def _normalised(fn: Callable[[str, str], str]) -> Callable[[Any, attrs.Attribute[Any], Any], Any]:
    def convert(value: Any, instance: object, field: attrs.Attribute[Any]) -> Any:
        if value is None:
            return None
        try:
            return fn(value, field.name)
        except ValidationFailed as err:
            raise invalid(instance, field.name, err.reason, value) from None

    return convert


def email(*, optional: bool = True) -> Any:
    """An email address, stored normalised (trimmed, case-folded, IDNA domain)."""
    spec = FieldSpec("email", optional=optional, max_length=254)
    return _make(
        spec,
        _type_check(str, "a string"),
        convert=_normalised(lambda v, f: normalize_email(v, field=f)),
    )


def phone(*, optional: bool = True) -> Any:
    """A phone number, stored in E.164; national numbers are read as Indian."""
    spec = FieldSpec("phone", optional=optional, max_length=16)
    return _make(
        spec,
        _type_check(str, "a string"),
        convert=_normalised(lambda v, f: normalize_phone(v, field=f)),
    )


_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s/?#]+[^\s]*$", re.IGNORECASE)


def url(*, optional: bool = True, max_length: int = 2048) -> Any:
    """A URL or URI with a scheme (``https://``, ``s3://``, ``gs://`` ...)."""

    def check(instance: object, name: str, value: Any) -> None:
        _text_check(max_length, multiline=False)(instance, name, value)
        if not _URL_RE.match(value):
            raise invalid(instance, name, "is not a URL with a scheme (e.g. https://...)", value)

    return _make(FieldSpec("url", optional=optional, max_length=max_length), check)


def choice(enum_type: type[E], *, default: E | None = None, optional: bool = False) -> Any:
    """One member of ``enum_type``; plain strings are accepted and converted."""
    allowed = ", ".join(str(m.value) for m in enum_type)
    register_enum(enum_type)

    def convert(value: Any, instance: object, field: attrs.Attribute[Any]) -> Any:
        if value is None or isinstance(value, enum_type):
            return value
        try:
            return enum_type(value)
        except ValueError:
            raise invalid(instance, field.name, f"must be one of: {allowed}", value) from None

    spec = FieldSpec("choice", optional=optional, choices=enum_type)
    return _make(
        spec,
        _type_check(enum_type, f"a {enum_type.__name__}"),
        default=default if default is not None else attrs.NOTHING,
        convert=convert,
    )


def count(
    *,
    minimum: int = 0,
    maximum: int | None = None,
    optional: bool = False,
    default: int | None = None,
) -> Any:
    """A whole number within ``[minimum, maximum]``."""

    def check(instance: object, name: str, value: Any) -> None:
        _type_check(int, "an integer")(instance, name, value)
        if value < minimum or (maximum is not None and value > maximum):
            upper = "" if maximum is None else f" and at most {maximum}"
            raise invalid(instance, name, f"must be at least {minimum}{upper}, got {value}", value)

    spec = FieldSpec("int", optional=optional, minimum=minimum, maximum=maximum)
    return _make(spec, check, default=attrs.NOTHING if default is None else default)


def _decimal_check(
    minimum: Decimal | None, maximum: Decimal | None, places: int | None = None
) -> Check:
    def check(instance: object, name: str, value: Any) -> None:
        _type_check(Decimal, "a Decimal")(instance, name, value)
        if not value.is_finite():
            raise invalid(instance, name, "must be a finite number", value)
        if minimum is not None and maximum is not None and not minimum <= value <= maximum:
            raise invalid(instance, name, f"must be between {minimum} and {maximum}, got {value}")
        if minimum is not None and value < minimum:
            raise invalid(instance, name, f"must be at least {minimum}, got {value}", value)
        if maximum is not None and value > maximum:
            raise invalid(instance, name, f"must be at most {maximum}, got {value}", value)
        exponent = value.as_tuple().exponent
        if places is not None and isinstance(exponent, int) and exponent < -places:
            raise invalid(instance, name, f"has more than {places} decimal places", value)

    return check


def _to_decimal(value: Any, instance: object, field: attrs.Attribute[Any]) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_zero():
        return value.copy_abs()  # -0 is 0: PostgreSQL's numeric has no negative zero
    if isinstance(value, float):
        raise invalid(
            instance, field.name, "must be a Decimal or an int (floats lose precision)", value
        )
    return value


def decimal(
    *, minimum: Decimal | None = None, maximum: Decimal | None = None, optional: bool = True
) -> Any:
    """A decimal measure (area, coordinates, a score)."""
    spec = FieldSpec("decimal", optional=optional, minimum=minimum, maximum=maximum)
    return _make(spec, _decimal_check(minimum, maximum), convert=_to_decimal)


def _to_scaled(places: int, maximum: Decimal) -> Callable[[Any, Any, attrs.Attribute[Any]], Any]:
    """Convert to a Decimal with exactly ``places`` decimal places, as the column stores it.

    A value with more places, or outside ``0..maximum``, is left as given for
    the validator to refuse, so nothing is rounded silently and errors show
    the value the caller passed.
    """
    quantum = Decimal(1).scaleb(-places)

    def convert(value: Any, instance: object, field: attrs.Attribute[Any]) -> Any:
        value = _to_decimal(value, instance, field)
        if isinstance(value, Decimal) and value.is_finite() and 0 <= value <= maximum:
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int) and exponent >= -places:
                return (
                    value.quantize(quantum).copy_abs()
                    if value.is_zero()
                    else value.quantize(quantum)
                )
        return value

    return convert


MONEY_MAX = Decimal("9999999999999999.99")


def money(*, optional: bool = True) -> Any:
    """An amount of money: a non-negative Decimal with at most 2 decimal places.

    Stored with exactly two places (``Decimal("5")`` becomes ``Decimal("5.00")``),
    as ``numeric(18, 2)`` holds it. The currency lives in its own
    :func:`currency` field beside it.
    """
    spec = FieldSpec("money", optional=optional, minimum=Decimal(0), maximum=MONEY_MAX)
    return _make(
        spec, _decimal_check(Decimal(0), MONEY_MAX, places=2), convert=_to_scaled(2, MONEY_MAX)
    )


def ratio(*, optional: bool = True) -> Any:
    """A probability or confidence between 0 and 1 inclusive, with at most 5 places.

    Stored with exactly five places, as ``numeric(6, 5)`` holds it.
    """
    spec = FieldSpec("ratio", optional=optional, minimum=Decimal(0), maximum=Decimal(1))
    return _make(
        spec, _decimal_check(Decimal(0), Decimal(1), places=5), convert=_to_scaled(5, Decimal(1))
    )


def currency(*, default: str = "INR") -> Any:
    """An ISO 4217 currency code (three capital letters), default ``INR``."""

    def check(instance: object, name: str, value: Any) -> None:
        _type_check(str, "a string")(instance, name, value)
        if not CURRENCY_RE.match(value):
            raise invalid(instance, name, "must be a three-letter ISO 4217 code such as INR", value)

    return _make(FieldSpec("currency", max_length=3), check, default=default)


def _datetime_convert(value: Any, instance: object, field: attrs.Attribute[Any]) -> Any:
    if isinstance(value, datetime):
        try:
            return ensure_utc(value, field.name)
        except ValidationFailed as err:
            raise invalid(instance, field.name, err.reason, value) from None
    return value


def timestamp(*, optional: bool = False, now: bool = False) -> Any:
    """A timezone-aware datetime, stored in UTC; ``now=True`` defaults it to the current time."""
    spec = FieldSpec("datetime", optional=optional)
    return _make(
        spec,
        _type_check(datetime, "a timezone-aware datetime"),
        factory=utcnow if now else None,
        convert=_datetime_convert,
    )


def day(*, optional: bool = True) -> Any:
    """A calendar date (no time of day)."""

    def check(instance: object, name: str, value: Any) -> None:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise invalid(instance, name, f"must be a date, not {type(value).__name__}", value)

    return _make(FieldSpec("date", optional=optional), check)


def boolean(*, default: bool = False) -> Any:
    """A true/false flag."""
    return _make(FieldSpec("bool"), _type_check(bool, "a bool"), default=default)


def _json_check(instance: object, name: str, value: Any) -> None:
    def walk(item: Any, path: str) -> None:
        if isinstance(item, str):
            if "\x00" in item or (
                not item.isascii() and any(unicodedata.category(ch) == "Cs" for ch in item)
            ):
                raise invalid(instance, name, f"holds a NUL or a lone surrogate at {path}")
            return
        if item is None or isinstance(item, bool | int):
            return
        if isinstance(item, float):
            if not math.isfinite(item):
                raise invalid(instance, name, f"holds a non-finite number at {path}", value)
            return
        if isinstance(item, list | tuple):
            for i, sub in enumerate(item):
                walk(sub, f"{path}[{i}]")
            return
        if isinstance(item, Mapping):
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise invalid(instance, name, f"has a non-string key at {path}", value)
                walk(key, path)
                walk(sub, f"{path}.{key}")
            return
        raise invalid(
            instance, name, f"holds a {type(item).__name__} at {path}; only JSON values", value
        )

    walk(value, "$")


def json_field(*, default: Callable[[], Any] = dict, optional: bool = False) -> Any:
    """A JSON document (``*_json`` columns): dicts, lists, strings, numbers, bools, null."""
    return _make(
        FieldSpec("json", optional=optional),
        _json_check,
        factory=None if optional else default,
    )


def _labels_convert(value: Any, instance: object, field: attrs.Attribute[Any]) -> Any:
    if isinstance(value, list | set | frozenset):
        value = tuple(sorted(value)) if isinstance(value, set | frozenset) else tuple(value)
    return value


def labels(
    *, max_length: int = 64, pattern: str | None = None, pattern_hint: str | None = None
) -> Any:
    """A tuple of short tags (persona labels, tags); duplicates refused, order kept.

    Each label is checked as a :func:`text` of ``max_length``, with ``pattern`` if given.
    """
    check_label = _pattern_check(max_length, pattern, pattern_hint)

    def check(instance: object, name: str, value: Any) -> None:
        _type_check(tuple, "a tuple of strings")(instance, name, value)
        for item in value:
            check_label(instance, name, item)
        if len(set(value)) != len(value):
            raise invalid(instance, name, "holds the same label twice", value)

    spec = FieldSpec("labels", max_length=max_length, pattern=pattern)
    return _make(spec, check, factory=tuple, convert=_labels_convert)
