"""Running the query language over Python objects, exactly as PostgreSQL would.

Text compares by code point (PostgreSQL ``COLLATE "C"``), ``Contains`` folds
ASCII letters only (PostgreSQL ``lower()`` under ``"C"``), a NULL never
satisfies a comparison, and orderings are total (the key is the last sort key).
An ``Among`` filter needs the values its sources yield, which live in other
tables: the store resolves them once per query and passes them in ``allowed``
(keyed by the filter's position in ``where``). :class:`Ordering` turns sort
keys into plain tuples that Python sorts and bisects in the order
:func:`compare_keys` defines, which is what lets the store keep sorted indexes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence, Set
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any
from uuid import UUID

from velocity_domain.kernel.query import (
    Among,
    Contains,
    Eq,
    Filter,
    HasLabel,
    In,
    IsNull,
    Range,
    SortKey,
    plain,
)

__all__ = [
    "Allowed",
    "Ordering",
    "Values",
    "ascii_lower",
    "compare_keys",
    "matches",
    "predicate",
    "sort_key",
    "sort_rows",
]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

Allowed = Mapping[int, Container[Any]]
"""The resolved values of each ``Among`` filter, by its position in ``where``."""


class Values:
    """A set of plain values that holds UUIDs by their integers.

    Testing a UUID against a set calls ``UUID.__hash__``, a Python function;
    testing its integer does not, which matters over thousands of rows. A
    value that cannot be hashed (a JSON document) is kept in a list.
    """

    __slots__ = ("others", "unhashable", "uuids")

    def __init__(self, values: Iterable[Any] = ()) -> None:
        self.uuids: dict[int, UUID] = {}
        self.others: set[Any] = set()
        self.unhashable: list[Any] = []
        for value in values:
            self.add(value)

    def add(self, value: Any) -> None:
        """Hold ``value`` too."""
        if type(value) is UUID:
            self.uuids[value.int] = value
            return
        try:
            self.others.add(value)
        except TypeError:
            self.unhashable.append(value)

    def update(self, other: Values) -> None:
        """Hold every value of ``other`` too."""
        self.uuids.update(other.uuids)
        self.others |= other.others
        self.unhashable += other.unhashable

    def __contains__(self, value: object) -> bool:
        if type(value) is UUID:
            return value.int in self.uuids
        try:
            if value in self.others:
                return True
        except TypeError:
            pass
        return any(value == held for held in self.unhashable)

    def __len__(self) -> int:
        return len(self.uuids) + len(self.others) + len(self.unhashable)

    def __iter__(self) -> Iterator[Any]:
        yield from self.uuids.values()
        yield from self.others
        yield from self.unhashable


Check = Callable[[Any], bool]

# Types whose values ``plain`` returns unchanged (no enum ``value`` to unwrap).
_SIMPLE = frozenset({str, int, bool, float, UUID, datetime, date, Decimal, tuple, type(None)})


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, as PostgreSQL's ``lower()`` does under ``COLLATE "C"``."""
    # str.lower is many times faster than translate and the same on ASCII text.
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def _value(row: Any, field: str) -> Any:
    value = getattr(row, field)
    return value if type(value) in _SIMPLE else plain(value)


def _compare(value: Any, bound: Any, test: Callable[[Any, Any], bool]) -> bool:
    return bound is None or (value is not None and test(value, bound))


def _allowed(allowed: Allowed | None, position: int, item: Among) -> Container[Any]:
    if allowed is None or position not in allowed:
        raise TypeError(f"{item!r} needs its sources resolved into values first")
    return allowed[position]


def matches(row: Any, where: Sequence[Filter], allowed: Allowed | None = None) -> bool:
    """Say whether ``row`` satisfies every filter (``allowed``: see :data:`Allowed`)."""
    for position, item in enumerate(where):
        if isinstance(item, Eq):
            value = _value(row, item.field)
            ok = value is None if item.value is None else value == item.value
        elif isinstance(item, In):
            ok = _value(row, item.field) in item.values
        elif isinstance(item, Range):
            value = _value(row, item.field)
            ok = (
                value is not None
                and _compare(value, item.gte, lambda a, b: a >= b)
                and _compare(value, item.gt, lambda a, b: a > b)
                and _compare(value, item.lte, lambda a, b: a <= b)
                and _compare(value, item.lt, lambda a, b: a < b)
            )
        elif isinstance(item, IsNull):
            ok = (_value(row, item.field) is None) == item.is_null
        elif isinstance(item, HasLabel):
            ok = item.label in (getattr(row, item.field) or ())
        elif isinstance(item, Contains):
            needle = ascii_lower(item.text)
            ok = any(
                isinstance(v := _value(row, f), str) and needle in ascii_lower(v)
                for f in item.fields
            )
        elif isinstance(item, Among):
            values = _allowed(allowed, position, item)
            value = _value(row, item.field)
            ok = value is not None and value in values
        else:  # pragma: no cover - the Filter union is closed
            raise TypeError(f"unknown filter {item!r}")
        if not ok:
            return False
    return True


def _check_eq(item: Eq) -> Check:
    field, wanted = item.field, item.value
    if wanted is None:
        return lambda row: _value(row, field) is None
    return lambda row: _value(row, field) == wanted


def _check_range(item: Range) -> Check:
    field = item.field
    gte, gt, lte, lt = item.gte, item.gt, item.lte, item.lt

    def check(row: Any) -> bool:
        value = _value(row, field)
        return (
            value is not None
            and (gte is None or value >= gte)
            and (gt is None or value > gt)
            and (lte is None or value <= lte)
            and (lt is None or value < lt)
        )

    return check


def _check_contains(item: Contains) -> Check:
    needle = ascii_lower(item.text)
    fields = tuple(dict.fromkeys(item.fields))
    get = attrgetter(*fields) if len(fields) > 1 else lambda row: (getattr(row, fields[0]),)
    table = _ASCII_LOWER

    def check(row: Any) -> bool:
        for value in get(row):
            if type(value) is not str:
                value = plain(value)  # noqa: PLW2901 - an enum member holds its text
                if not isinstance(value, str):
                    continue
            if needle in (value.lower() if value.isascii() else value.translate(table)):
                return True
        return False

    return check


def _check_among(field: str, values: Container[Any]) -> Check:
    if isinstance(values, Values):
        uuids = values.uuids

        def check_values(row: Any) -> bool:
            value = _value(row, field)
            if type(value) is UUID:
                return value.int in uuids
            return value is not None and value in values

        return check_values

    def check(row: Any) -> bool:
        value = _value(row, field)
        return value is not None and value in values

    return check


def _check(position: int, item: Filter, allowed: Allowed | None) -> Check:
    if isinstance(item, Eq):
        return _check_eq(item)
    if isinstance(item, In):
        field, values = item.field, item.values
        return lambda row: _value(row, field) in values
    if isinstance(item, Range):
        return _check_range(item)
    if isinstance(item, IsNull):
        field, is_null = item.field, item.is_null
        return lambda row: (_value(row, field) is None) == is_null
    if isinstance(item, HasLabel):
        field, label = item.field, item.label
        return lambda row: label in (getattr(row, field) or ())
    if isinstance(item, Contains):
        return _check_contains(item)
    if isinstance(item, Among):
        return _check_among(item.field, _allowed(allowed, position, item))
    raise TypeError(f"unknown filter {item!r}")  # pragma: no cover - the union is closed


def _always(row: Any) -> bool:
    return True


def predicate(
    where: Sequence[Filter], allowed: Allowed | None = None, *, skip: Set[int] = frozenset()
) -> Check:
    """Return a function that says what :func:`matches` says, built once for many rows.

    ``skip`` names positions of ``where`` an index has already answered.
    """
    checks = [_check(i, item, allowed) for i, item in enumerate(where) if i not in skip]
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def all_hold(row: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a loop beats all() over a generator here
            if not check(row):
                return False
        return True

    return all_hold


def sort_key(row: Any, order: Sequence[SortKey]) -> tuple[Any, ...]:
    """Return the values of ``row`` that ``order`` sorts on."""
    return tuple(_value(row, key.field) for key in order)


def compare_keys(a: Sequence[Any], b: Sequence[Any], order: Sequence[SortKey]) -> int:
    """Compare two sort-key tuples under ``order`` (negative: ``a`` comes first)."""
    for left, right, key in zip(a, b, order, strict=True):
        if left == right:
            continue
        before = left < right
        return (1 if before else -1) if key.descending else (-1 if before else 1)
    return 0


def sort_rows(rows: list[Any], order: Sequence[SortKey]) -> list[Any]:
    """Return ``rows`` sorted by ``order``."""
    cmp = functools.cmp_to_key(
        lambda x, y: compare_keys(sort_key(x, order), sort_key(y, order), order)
    )
    return sorted(rows, key=cmp)


class _Reversed:
    """A value that sorts before the values it would follow: a descending key part."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and bool(self.value == other.value)

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.value < self.value)

    def __gt__(self, other: _Reversed) -> bool:
        return bool(self.value < other.value)

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"desc({self.value!r})"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ascending(value: Any) -> Any:
    # A UUID compares by its integer; comparing the integers skips UUID.__lt__.
    kind = type(value)
    if kind is UUID:
        return value.int
    return value if kind in _SIMPLE else plain(value)


def _descending(value: Any) -> Any:
    # Exact order-reversing maps where one exists (C-speed comparisons), else a wrapper.
    kind = type(value)
    if kind is UUID:
        return -value.int
    if kind not in _SIMPLE:
        value = plain(value)
        kind = type(value)
    if kind is int or kind is bool or kind is float:
        return -value
    if isinstance(value, datetime):
        return _EPOCH - value if value.tzinfo is not None else _Reversed(value)
    if kind is Decimal:
        return value.copy_negate()
    if kind is date:
        return -value.toordinal()
    return _Reversed(value)


class Ordering:
    """Sort keys as tuples that Python's ``<`` orders exactly as :func:`compare_keys` does.

    >>> from velocity_domain.kernel.query import asc, desc
    >>> o = Ordering((desc("n"), asc("s")))
    >>> sorted([(1, "b"), (2, "a"), (1, "a")], key=o.of_values)
    [(2, 'a'), (1, 'a'), (1, 'b')]
    """

    def __init__(self, order: Sequence[SortKey]) -> None:
        self.order = tuple(order)
        self._steps = tuple(_descending if key.descending else _ascending for key in self.order)
        names = [key.field for key in self.order]
        self._get: Callable[[Any], tuple[Any, ...]] = (
            attrgetter(*names) if len(names) > 1 else lambda row: (getattr(row, names[0]),)
        )

    def of_row(self, row: Any) -> tuple[Any, ...]:
        """Return the sortable tuple of ``row``."""
        return tuple([step(v) for step, v in zip(self._steps, self._get(row), strict=True)])

    def of_values(self, values: Sequence[Any]) -> tuple[Any, ...]:
        """Return the sortable tuple of sort-key ``values`` (a cursor's, say)."""
        return tuple([step(v) for step, v in zip(self._steps, values, strict=True)])

    def first(self, value: Any) -> Any:
        """Return the sortable form of a value of the first sort key."""
        return self._steps[0](value)
