"""Storage rules an entity class declares, so every store can enforce the same ones.

PostgreSQL enforces them with constraints and indexes; the in-memory store
reads these declarations and enforces them itself; a conformance test keeps
the two in step. References to single rows come from the ``ref()`` fields
of :mod:`velocity_domain.kernel.model`; rows that carry both
``source_system`` and ``source_ref`` are unique on that pair without saying so.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from velocity_domain.kernel.query import Filter


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _filters(value: Iterable[Filter]) -> tuple[Filter, ...]:
    return tuple(value)


__all__ = ["CompositeRef", "Unique", "source_key_name", "unique_name"]


def unique_name(table: str, fields: tuple[str, ...]) -> str:
    """Return the name the schema gives a unique constraint over ``fields``."""
    return f"uq_{table}_{'_'.join(fields)}"


def source_key_name(table: str) -> str:
    """Return the name of a table's ``(source_system, source_ref)`` unique constraint."""
    return unique_name(table, ("source_system", "source_ref"))


@attrs.frozen
class Unique:
    """No two rows may share ``fields`` (rows with a NULL in them never clash).

    ``where`` makes it partial: only rows matching every filter take part.
    ``name`` defaults to the schema's naming convention.
    """

    fields: tuple[str, ...] = attrs.field(converter=_names)
    where: tuple[Filter, ...] = attrs.field(default=(), converter=_filters)
    name: str | None = None

    def name_for(self, table: str) -> str:
        """Return the constraint's name in ``table``."""
        return self.name or unique_name(table, self.fields)


@attrs.frozen
class CompositeRef:
    """``fields`` together must name an existing row of ``table`` (by ``columns``)."""

    fields: tuple[str, ...] = attrs.field(converter=_names)
    table: str
    columns: tuple[str, ...] = attrs.field(converter=_names)

    def name_for(self, table: str) -> str:
        """Return the constraint's name in ``table`` (named after its first column)."""
        return f"fk_{table}_{self.fields[0]}"
