"""Argument checks for service methods: each refusal is a ValidationFailed naming its field."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import attrs

from velocity_domain.errors import ValidationFailed

__all__ = ["check_changes", "coordinate_arg", "enum_arg", "number_arg", "uuid_arg", "version_arg"]

En = TypeVar("En", bound=enum.Enum)


def enum_arg(cls: type[En], value: object, field: str) -> En:
    """Return ``value`` as a member of ``cls`` or refuse it, listing the allowed values."""
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        raise ValidationFailed(field, f"must be one of: {allowed}", value=value) from None


def version_arg(value: object, field: str = "expected_version") -> int:
    """Return a valid version (an integer of at least 1); ``field`` names it in errors."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(field, f"must be an integer, not {type(value).__name__}")
    if value < 1:
        raise ValidationFailed(field, f"must be at least 1, got {value}")
    return value


def uuid_arg(value: object, field: str) -> UUID:
    """Return ``value`` if it is a UUID, else refuse it."""
    if not isinstance(value, UUID):
        raise ValidationFailed(field, f"must be a UUID, not {type(value).__name__}", value=value)
    return value


def number_arg(value: object, field: str, low: float, high: float) -> float:
    """Return ``value`` as a float within ``[low, high]``, else refuse it."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationFailed(field, f"must be a number, not {type(value).__name__}")
    number = float(value)
    if not low <= number <= high:
        raise ValidationFailed(field, f"must be between {low:g} and {high:g}, got {value}")
    return number


def coordinate_arg(value: object, field: str, bound: int) -> Decimal:
    """Return a latitude or longitude within ``±bound`` as an exact Decimal."""
    number_arg(value, field, -bound, bound)
    if isinstance(value, float):
        return Decimal(repr(value))
    assert isinstance(value, int | Decimal)
    return Decimal(value)


def check_changes(changes: Mapping[str, Any], entity: type[Any], fixed: frozenset[str]) -> None:
    """Refuse changes naming unknown fields of ``entity`` or fields in ``fixed``."""
    names = {f.name for f in attrs.fields(entity)}
    for name in changes:
        if name not in names:
            raise ValidationFailed(name, f"{entity.table_name} has no such field")
        if name in fixed:
            raise ValidationFailed(name, "cannot be changed")
