"""The base classes of the canonical entities and the checks that span several fields.

An entity is a frozen attrs class whose fields are made by the helpers of
:mod:`velocity_domain.kernel.fields`; each checks its value when the entity
is built, raising :class:`~velocity_domain.errors.ValidationFailed` that
names the table and the field.

>>> from decimal import Decimal
>>> from velocity_domain.kernel.fields import id_field, ratio
>>> @attrs.frozen(kw_only=True)
... class Demo(Entity):
...     table_name: ClassVar[str] = "demo"
...     key_field: ClassVar[str] = "demo_id"
...     demo_id: UUID = id_field()
...     score: Decimal = ratio()
>>> Demo(score=Decimal("1.5"))
Traceback (most recent call last):
...
velocity_domain.errors.ValidationFailed: demo.score: must be between 0 and 1, got 1.5
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Protocol
from uuid import UUID

import attrs

from velocity_domain.kernel.fields import count, invalid, timestamp

__all__ = [
    "Entity",
    "VersionedEntity",
    "check_not_before",
    "check_only_when",
    "check_set_exactly_when",
    "check_source_pair",
]


class _Sourced(Protocol):
    @property
    def source_system(self) -> str | None: ...
    @property
    def source_ref(self) -> str | None: ...


def check_source_pair(entity: _Sourced) -> None:
    """Refuse an entity that has only one of ``source_system`` and ``source_ref``.

    Rows that come from outside name their origin by both fields or by neither;
    the error names ``source_ref``.
    """
    if (entity.source_system is None) != (entity.source_ref is None):
        raise invalid(
            entity, "source_ref", "source_system and source_ref are given together or not at all"
        )


def check_not_before(
    entity: object, field: str, earlier_field: str, *, strict: bool = False
) -> None:
    """Refuse ``field`` earlier than ``earlier_field`` when both are set.

    With ``strict=True`` the two may not be equal either ("must be after").
    Works for any ordered values: datetimes, dates, numbers.
    """
    later, earlier = getattr(entity, field), getattr(entity, earlier_field)
    if later is None or earlier is None:
        return
    if strict and later <= earlier:
        raise invalid(entity, field, f"must be after {earlier_field}", later)
    if later < earlier:
        raise invalid(entity, field, f"must not be before {earlier_field}", later)


def check_set_exactly_when(entity: object, field: str, condition: bool, when: str) -> None:
    """Refuse ``field`` set while ``condition`` is false, or missing while it is true.

    ``when`` says the condition in words, for the reason "is set exactly when ``when``".
    """
    value = getattr(entity, field)
    if condition != (value is not None):
        raise invalid(entity, field, f"is set exactly when {when}", value)


def check_only_when(entity: object, field: str, allowed: bool, reason: str) -> None:
    """Refuse ``field`` set while ``allowed`` is false (it may still be missing when true)."""
    value = getattr(entity, field)
    if not allowed and value is not None:
        raise invalid(entity, field, reason, value)


@attrs.frozen(kw_only=True)
class Entity:
    """Base of every canonical row: names its table and its primary-key field."""

    table_name: ClassVar[str]
    key_field: ClassVar[str]

    @property
    def key(self) -> UUID:
        """The primary key of this row."""
        value = getattr(self, self.key_field)
        assert isinstance(value, UUID)
        return value

    def __attrs_post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Check rules that span several fields; subclasses extend it (call ``super``)."""


@attrs.frozen(kw_only=True)
class VersionedEntity(Entity):
    """A mutable canonical row: optimistic ``version`` and creation/update times."""

    version: int = count(minimum=1, default=1)
    created_at: datetime = timestamp(now=True)
    updated_at: datetime = timestamp(now=True)

    def check(self) -> None:  # noqa: D102
        super().check()
        check_not_before(self, "updated_at", "created_at")
