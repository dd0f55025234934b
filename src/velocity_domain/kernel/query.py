"""The small query language every repository speaks: filters, sort keys, a query.

Ports take these values instead of SQL or callables, so the in-memory store
and PostgreSQL can give the same answer to the same question. Text compares
by code point in both (PostgreSQL uses ``COLLATE "C"``), and ``Contains`` is
a substring test that ignores the case of ASCII letters only (PostgreSQL's
``lower()`` under ``COLLATE "C"``), so both stores agree on every input;
search normalised columns for accents and other scripts.

>>> q = Query(where=(Eq("channel", "call"),), order_by=(desc("happened_at"),), limit=20)
>>> q.order_by[0]
SortKey(field='happened_at', descending=True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import attrs

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

__all__ = [
    "Among",
    "Contains",
    "Eq",
    "Filter",
    "HasLabel",
    "In",
    "IsNull",
    "PreparedQuery",
    "Query",
    "Range",
    "SortKey",
    "Source",
    "asc",
    "desc",
    "equal",
    "plain",
    "prepare",
    "scope_of",
]


def _values(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Eq:
    """``field = value`` (``value=None`` means ``field IS NULL``)."""

    field: str
    value: Any


@attrs.frozen
class In:
    """``field`` is one of ``values`` (an empty tuple matches nothing)."""

    field: str
    values: tuple[Any, ...] = attrs.field(converter=_values)


@attrs.frozen
class Range:
    """Bounds on ``field``; any bound may be left out. A NULL never matches."""

    field: str
    gte: Any = None
    gt: Any = None
    lte: Any = None
    lt: Any = None


@attrs.frozen
class IsNull:
    """``field IS NULL`` (or ``IS NOT NULL`` with ``is_null=False``)."""

    field: str
    is_null: bool = True


@attrs.frozen
class HasLabel:
    """A labels (array) field holds ``label``."""

    field: str
    label: str


@attrs.frozen
class Contains:
    """Any of ``fields`` holds ``text`` as a substring, ignoring ASCII letter case."""

    fields: tuple[str, ...] = attrs.field(converter=_names)
    text: str = ""


@attrs.frozen
class Source:
    """The values of ``column`` in the rows of ``table`` that match every filter of ``where``."""

    table: str
    column: str
    where: tuple[Eq | In | Range | IsNull, ...] = attrs.field(default=(), converter=_values)


def _sources(value: Iterable[Source]) -> tuple[Source, ...]:
    return tuple(value)


@attrs.frozen
class Among:
    """``field`` is one of the values any of ``sources`` yields: a semi-join, run in the store.

    Record visibility is one: a person is visible to an agent when a lead or
    an opportunity assigned to them names that person, so
    ``Among("person_id", (Source("crm_leads", "person_id", (Eq("assigned_user_id", u),)), ...))``.
    No source means no row matches.
    """

    field: str
    sources: tuple[Source, ...] = attrs.field(default=(), converter=_sources)


Filter = Eq | In | Range | IsNull | HasLabel | Contains | Among


@attrs.frozen
class SortKey:
    """One key of an ordering."""

    field: str
    descending: bool = False


def equal(**values: Any) -> list[Filter]:
    """An ``Eq`` filter for each field given a value; ``None`` adds none (a list's optional filter).

    >>> equal(city="Pune", status=None)
    [Eq(field='city', value='Pune')]
    """
    return [Eq(field, value) for field, value in values.items() if value is not None]


def asc(field: str) -> SortKey:
    """Sort by ``field``, smallest first."""
    return SortKey(field)


def desc(field: str) -> SortKey:
    """Sort by ``field``, largest first."""
    return SortKey(field, descending=True)


def _check_limit(_: object, __: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed("limit", f"must be an integer, not {type(value).__name__}")
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValidationFailed("limit", f"must be between 1 and {MAX_PAGE_SIZE}, got {value}")


def _filters(value: Iterable[Filter]) -> tuple[Filter, ...]:
    return tuple(value)


def _keys(value: Iterable[SortKey]) -> tuple[SortKey, ...]:
    return tuple(value)


@attrs.frozen
class Query:
    """Which rows (``where``, all must hold), in which order, and which page.

    The table's primary key is always added as the last sort key (in the
    direction of the key before it), so every ordering is total and keyset
    pagination never skips or repeats a row.
    """

    where: tuple[Filter, ...] = attrs.field(default=(), converter=_filters)
    order_by: tuple[SortKey, ...] = attrs.field(default=(), converter=_keys)
    limit: int = attrs.field(default=DEFAULT_PAGE_SIZE, validator=_check_limit)
    cursor: str | None = None


def scope_of(table: str, order: tuple[SortKey, ...], where: tuple[Filter, ...]) -> str:
    """Return the cursor scope of a listing: table, order and a digest of the filters.

    A cursor only continues the listing it came from; changing the filters or
    the order makes old cursors foreign.
    """
    order_text = ",".join(f"{'-' if k.descending else ''}{k.field}" for k in order)
    digest = hashlib.sha256(repr(where).encode()).hexdigest()[:16]
    return f"{table}|{order_text}|{digest}"


def plain(value: Any) -> Any:
    """Return ``value`` as stored: enum members become their values."""
    member_value = getattr(value, "value", None)
    if member_value is not None and hasattr(value, "name"):
        return member_value
    return value


@attrs.frozen
class PreparedQuery:
    """A query checked against an entity class, ready for a store to run."""

    table: str
    where: tuple[Filter, ...]
    order_by: tuple[SortKey, ...]
    limit: int
    cursor: str | None
    scope: str


def prepare(table: str, fields: dict[str, bool], key_field: str, query: Query) -> PreparedQuery:
    """Check ``query`` against a table's ``fields`` (name -> optional) and complete its order.

    Unknown fields in filters or sort keys, and sorting on a field that may be
    NULL, raise ``ValidationFailed``; the primary key is appended to the order.
    """

    def known(name: str, where: str) -> None:
        if name not in fields:
            raise ValidationFailed(where, f"{table} has no field {name!r}")

    for item in query.where:
        names = item.fields if isinstance(item, Contains) else (item.field,)
        if isinstance(item, Among) and not all(isinstance(s, Source) for s in item.sources):
            raise ValidationFailed("where", "Among takes Source values")
        for name in names:
            known(name, "where")
        if isinstance(item, Contains) and not isinstance(item.text, str):
            raise ValidationFailed("where", "Contains needs a text")
    order = list(query.order_by)
    for key in order:
        known(key.field, "order_by")
        if fields[key.field]:
            raise ValidationFailed(
                "order_by", f"{table}.{key.field} may be NULL; sort on a required field"
            )
    if not any(k.field == key_field for k in order):
        # In the direction of the last key, so one index walks the whole order.
        order.append(SortKey(key_field, descending=bool(order) and order[-1].descending))
    order_t = tuple(order)
    where = tuple(_plain_filter(f) for f in query.where)
    return PreparedQuery(
        table=table,
        where=where,
        order_by=order_t,
        limit=query.limit,
        cursor=query.cursor,
        scope=scope_of(table, order_t, where),
    )


def _plain_filter(item: Filter) -> Filter:
    if isinstance(item, Eq):
        return Eq(item.field, plain(item.value))
    if isinstance(item, In):
        return In(item.field, tuple(plain(v) for v in item.values))
    if isinstance(item, Range):
        return Range(item.field, plain(item.gte), plain(item.gt), plain(item.lte), plain(item.lt))
    if isinstance(item, Among):
        return Among(
            item.field,
            tuple(
                Source(s.table, s.column, tuple(_plain_filter(f) for f in s.where))
                for s in item.sources
            ),
        )
    return item
