"""The one cattrs converter of the library: entities to JSON-safe dicts and back.

UUIDs and datetimes become ISO strings, Decimals become strings (never floats,
so money keeps its precision), enums become their values and tuples become
lists. ``structure`` runs the entity's validation, so a bad document raises
:class:`~velocity_domain.errors.ValidationFailed` naming the field.

>>> import uuid
>>> converter.unstructure(Decimal("12.50"))
'12.50'
>>> converter.structure("2026-01-01T00:00:00+00:00", datetime).year
2026
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import cattrs
from cattrs.v import format_exception

from velocity_domain.errors import ValidationFailed, VelocityError

__all__ = ["converter", "from_dict", "register_enum", "to_dict"]

T = TypeVar("T")


def _structure_uuid(value: Any, _: type) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


def _structure_datetime(value: Any, _: type) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _structure_date(value: Any, _: type) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _structure_decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, float):
        raise ValueError("money and measures are exchanged as strings, not floats")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"must be a number written as a string, not {type(value).__name__}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None


def _structure_str(value: Any, _: type) -> str:
    # cattrs would call str() on anything; a document's text must already be text.
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {type(value).__name__}")
    return value


def _structure_any(value: Any, _: type) -> Any:
    return value


def _is_homogeneous_tuple(type_: Any) -> bool:
    args: tuple[Any, ...] = getattr(type_, "__args__", ())
    return getattr(type_, "__origin__", None) is tuple and args[1:] == (...,)


def _homogeneous_tuple(type_: Any, conv: cattrs.Converter) -> Any:
    """``tuple[X, ...]`` from a list or tuple; text is refused, never split into letters."""
    item = type_.__args__[0]

    def structure(value: Any, _: type) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise ValueError(f"must be a list of values, not {type(value).__name__}")
        return tuple(conv.structure(element, item) for element in value)

    return structure


def _build() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(uuid.UUID, str)
    conv.register_structure_hook(uuid.UUID, _structure_uuid)
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(date, _structure_date)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(Any, _structure_any)
    conv.register_structure_hook_factory(
        _is_homogeneous_tuple, lambda t: _homogeneous_tuple(t, conv)
    )
    conv.register_unstructure_hook_func(
        lambda t: t is tuple or getattr(t, "__origin__", None) is tuple, list
    )
    return conv


converter: cattrs.Converter = _build()


def _enum_value(member: enum.Enum) -> Any:
    return member.value


def register_enum(enum_type: type[enum.Enum]) -> None:
    """Make ``enum_type`` unstructure to its value.

    cattrs passes ``str``-based enums through unchanged; entity fields made with
    :func:`velocity_domain.kernel.model.choice` register their enum here so that
    :func:`to_dict` gives plain strings.
    """
    converter.register_unstructure_hook(enum_type, _enum_value)


def to_dict(entity: object) -> dict[str, Any]:
    """Return ``entity`` as a JSON-safe dict."""
    result = converter.unstructure(entity)
    assert isinstance(result, dict)
    return result


def from_dict(data: Any, cls: type[T]) -> T:
    """Build a ``cls`` from a dict made by :func:`to_dict` (or by a client).

    Structure and validation errors become ``ValidationFailed`` naming the first
    field that is wrong.
    """
    try:
        return converter.structure(data, cls)
    except VelocityError:
        raise
    except cattrs.BaseValidationError as exc:
        raise _first_problem(exc, cls) from None
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise ValidationFailed("$", str(exc), entity=getattr(cls, "table_name", None)) from None


def _reason(exc: BaseException, type_: type | None) -> str:
    """Our own hooks' messages say what is wrong; keep them instead of cattrs' generic one."""
    if isinstance(exc, ValueError) and str(exc) and not isinstance(exc, InvalidOperation):
        return str(exc)
    return format_exception(exc, type_)


def _first_problem(exc: cattrs.BaseValidationError, cls: type) -> VelocityError:
    entity = getattr(cls, "table_name", None)
    for sub in exc.exceptions:
        if isinstance(sub, VelocityError):
            return sub
    messages = cattrs.transform_error(exc, format_exception=_reason)
    problems: list[tuple[str, str]] = []
    for message in messages:
        reason, _, where = message.rpartition(" @ ")
        field = where.removeprefix("$.") if where else "$"
        problems.append((field, reason or message))
    if not problems:
        problems.append(("$", str(exc)))
    field, reason = problems[0]
    return ValidationFailed(field, reason, entity=entity, problems=problems)
