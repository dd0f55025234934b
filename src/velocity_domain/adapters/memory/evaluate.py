"""Running the query language over Python objects, exactly as PostgreSQL would.

Text compares by code point (PostgreSQL ``COLLATE "C"``), ``Contains`` folds
ASCII letters only (PostgreSQL ``lower()`` under ``"C"``), a NULL never
satisfies a comparison, and orderings are total (the key is the last sort key).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from velocity_domain.kernel.query import (
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

__all__ = ["ascii_lower", "matches", "sort_key", "sort_rows"]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, as PostgreSQL's ``lower()`` does under ``COLLATE "C"``."""
    return text.translate(_ASCII_LOWER)


def _value(row: Any, field: str) -> Any:
    return plain(getattr(row, field))


def _compare(value: Any, bound: Any, test: Callable[[Any, Any], bool]) -> bool:
    return bound is None or (value is not None and test(value, bound))


def matches(row: Any, where: Sequence[Filter]) -> bool:
    """Say whether ``row`` satisfies every filter."""
    for item in where:
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
        else:  # pragma: no cover - the Filter union is closed
            raise TypeError(f"unknown filter {item!r}")
        if not ok:
            return False
    return True


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
