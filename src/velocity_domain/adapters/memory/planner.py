"""How the in-memory store answers a list or a count: from an index, never a full sort.

A page either walks the sorted index of its order from the cursor (two
bisects) until it has ``limit + 1`` rows, or gathers the few candidate keys an
index gives (a hash index, an ``Among``'s resolved values) and sorts only
those. A walk skips rows cheaply where it can: by key against an
exact candidate set, or by ``str.find`` over the index's text for a substring
filter. A cost estimate picks the cheapest way; all give the same page.
``Among`` sources are resolved once per query through their tables' indexes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from operator import attrgetter, itemgetter
from typing import Any
from uuid import UUID

import attrs

from velocity_domain.adapters.memory.evaluate import (
    Allowed,
    Ordering,
    Values,
    ascii_lower,
    predicate,
)
from velocity_domain.adapters.memory.indexes import HashIndex, TableIndexes
from velocity_domain.adapters.memory.ordered import fingerprint, number_print
from velocity_domain.adapters.memory.search import TextReader, searchable
from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.query import (
    Among,
    Contains,
    Eq,
    Filter,
    HasLabel,
    In,
    IsNull,
    PreparedQuery,
    Range,
    Source,
    plain,
)

__all__ = ["Planner", "ReadStats"]

# What a row costs, roughly in microseconds: walked and checked; walked and
# skipped by its key; scanned by str.find; a candidate's key collected; a
# candidate fetched, checked and given its sort key (sorting adds a log).
_WALK_ROW = 0.6
_KEY_ROW = 0.12
_TEXT_ROW = 0.035
_COLLECT_ROW = 0.15
_GATHER_ROW = 2.0
_SORT_STEP = 0.05
# A candidate set this small is gathered without weighing the alternatives.
_SMALL = 64
_first = itemgetter(0)


@attrs.define
class ReadStats:
    """How many rows the store's reads have looked at; tests use it to see an index answer."""

    rows_examined: int = 0


@attrs.frozen
class _Candidates:
    """The keys an index gives for one filter, and how many (at most) there are.

    ``answers`` is the position of the filter they answer exactly; ``sized``
    says ``size`` is exactly how many rows match that filter (candidates by
    key may name rows that do not exist).
    """

    size: int
    answers: int
    collect: Callable[[], Iterable[tuple[Hashable, Any]]]
    sized: bool = False
    prints: Callable[[], set[int]] | None = None

    def skip(self) -> frozenset[int]:
        """Return the positions of ``where`` these candidates need not check again."""
        return frozenset({self.answers})

    def fingerprints(self) -> set[int]:
        """Return the fingerprints of the candidate keys (see :func:`.ordered.fingerprint`)."""
        if self.prints is not None:
            return self.prints()
        return {fingerprint(key) for key, _ in self.collect()}


@attrs.frozen
class _Text:
    """A substring filter a sorted index can search: its position, columns and needle."""

    position: int
    reader: TextReader
    needle: str


def _present(rows: Mapping[Hashable, Any], keys: Iterable[Any]) -> list[tuple[Hashable, Any]]:
    found = []
    for key in keys:
        try:
            row = rows.get(key)
        except TypeError:  # an unhashable value names no row
            continue
        if row is not None:
            found.append((key, row))
    return found


def _union(index: HashIndex, values: Collection[Any]) -> Iterable[tuple[Hashable, Any]]:
    if len(values) == 1:
        return index.items(next(iter(values)))
    found: dict[Hashable, Any] = {}
    for value in values:
        found.update(index.rows(value))
    return found.items()


def _uuid_prints(values: Iterable[Any]) -> set[int]:
    return {fingerprint(v) for v in values if type(v) is UUID}


def _number_prints(values: Values) -> set[int]:
    return {number_print(number) for number in values.uuids}


def _gather_cost(size: int) -> float:
    return size * (_GATHER_ROW + _SORT_STEP * math.log2(size + 1))


class Planner:
    """Runs prepared queries against the tables' rows and indexes."""

    def __init__(self, tables: Mapping[str, TableIndexes], stats: ReadStats) -> None:
        self._tables = tables
        self.stats = stats
        self.prefer: str | None = None
        """For tests: take this way (``gather``, ``keys``, ``text``, ``scan``) when it applies."""

    # -- Among --------------------------------------------------------------

    def _source_values(self, source: Source) -> Values:
        table = self._tables.get(source.table)
        if table is None:
            raise ValidationFailed("where", f"Among names a table {source.table!r} it lacks")
        where: Sequence[Filter] = source.where
        if not all(isinstance(f, Eq | In | Range | IsNull) for f in where):
            raise ValidationFailed("where", "a Source filters with Eq, In, Range or IsNull only")
        for name in (source.column, *(f.field for f in source.where)):
            if name not in table.info.optional:
                raise ValidationFailed("where", f"{source.table} has no field {name!r}")
        best = self._best(self._exact(table, where, {}))
        pairs = table.rows.items() if best is None else best.collect()
        skip = frozenset() if best is None else best.skip()
        check = predicate(where, skip=skip) if len(skip) < len(where) else None
        get = attrgetter(source.column)
        values = Values()
        uuids = values.uuids
        examined = 0
        for _, row in pairs:
            examined += 1
            if check is None or check(row):
                value = get(row)
                if type(value) is UUID:
                    uuids[value.int] = value
                elif value is not None:
                    values.add(plain(value))
        self.stats.rows_examined += examined
        return values

    def _resolve(self, where: Sequence[Filter]) -> dict[int, Values]:
        allowed: dict[int, Values] = {}
        for position, item in enumerate(where):
            if isinstance(item, Among):
                values = Values()
                for source in item.sources:
                    values.update(self._source_values(source))
                allowed[position] = values
        return allowed

    # -- candidates ---------------------------------------------------------

    def _exact(
        self, table: TableIndexes, where: Sequence[Filter], allowed: Mapping[int, Values]
    ) -> list[_Candidates]:
        """Return the candidate sets the hash indexes give for ``where``, cheaply sized.

        Candidates by the table's key are not looked up: there may be fewer rows.
        """
        found: list[_Candidates] = []
        key_field = table.info.key_field
        for position, item in enumerate(where):
            try:
                values: Collection[Any]
                collect: Callable[[], Iterable[tuple[Hashable, Any]]]
                if isinstance(item, Eq | In | Among):
                    if isinstance(item, Eq):
                        hash(item.value)
                        values = (item.value,)
                    elif isinstance(item, In):
                        values = set(item.values)
                    else:
                        values = allowed[position]
                    if item.field == key_field:
                        prints = (
                            partial(_number_prints, values)
                            if isinstance(values, Values)
                            else partial(_uuid_prints, values)
                        )
                        collect = partial(_present, table.rows, values)
                        found.append(_Candidates(len(values), position, collect, prints=prints))
                        continue
                    index = table.equality(item.field)
                    if index is None:
                        continue
                    size = sum(index.count(v) for v in values)
                    collect = partial(_union, index, values)
                    found.append(_Candidates(size, position, collect, sized=True))
                elif isinstance(item, HasLabel):
                    index = table.labels(item.field)
                    if index is None:
                        continue
                    label = item.label
                    size = index.count(label)
                    collect = partial(index.items, label)
                    found.append(_Candidates(size, position, collect, sized=True))
            except TypeError:  # an unhashable value: leave that filter to the row checks
                continue
        return found

    @staticmethod
    def _best(found: Sequence[_Candidates]) -> _Candidates | None:
        return min(found, key=lambda c: c.size) if found else None

    @staticmethod
    def _text_filter(table: TableIndexes, where: Sequence[Filter]) -> _Text | None:
        """Pick the substring filter the indexes can search (the longest needle)."""
        best: _Text | None = None
        for position, item in enumerate(where):
            if isinstance(item, Contains):
                needle = ascii_lower(item.text)
                if searchable(needle) and (best is None or len(needle) > len(best.needle)):
                    reader = table.reader(tuple(dict.fromkeys(item.fields)))
                    best = _Text(position, reader, needle)
        return best

    # -- pages --------------------------------------------------------------

    def page(
        self, table: TableIndexes, query: PreparedQuery, after: Sequence[Any] | None
    ) -> list[Any]:
        """Return up to ``limit + 1`` rows of ``query`` after the cursor values ``after``."""
        where = query.where
        allowed = self._resolve(where)
        if any(not values for values in allowed.values()) or not table.rows:
            return []
        exact = self._best(self._exact(table, where, allowed))
        if exact is not None and exact.size <= _SMALL and self.prefer is None:
            return self._gather(table, query, allowed, exact, after)
        text = self._text_filter(table, where)
        ways = self._walk_costs(table, query, exact, text)
        if exact is not None:
            ways["gather"] = _gather_cost(exact.size)
        way = min(ways, key=ways.__getitem__)
        if self.prefer in ways:
            way = self.prefer
        if way == "gather":
            assert exact is not None
            return self._gather(table, query, allowed, exact, after)
        prints = None
        if way == "keys":
            assert exact is not None
            prints = exact.fingerprints()
        return self._walk(table, query, allowed, after, prints=prints, text=text)

    def _ranges(self, query: PreparedQuery) -> list[Range]:
        first = query.order_by[0].field
        return [f for f in query.where if isinstance(f, Range) and f.field == first]

    def _walk_costs(
        self,
        table: TableIndexes,
        query: PreparedQuery,
        exact: _Candidates | None,
        text: _Text | None,
    ) -> dict[str, float]:
        """Estimate the cost of each way of walking the sorted index to a full page.

        Filters are taken as independent: the share of rows that pass is the
        exact candidates' share times the substring's share, sampled from the
        sorted index's text (which is built for it: walks will want it too).
        """
        n = len(table.rows)
        span, share = n, 1.0
        if text is not None or table.has_sorted(query.order_by):
            index = table.sorted(query.order_by)
            ranges = self._ranges(query)
            if ranges:
                span = index.span(*index.bounds(ranges))
            if text is not None:
                share = index.share(text.reader, text.needle)
        picked = 1.0 if exact is None else exact.size / n
        walked = min(span, (query.limit + 1) / max(picked * share, 1 / n))
        costs = {"scan": walked * _WALK_ROW}
        if exact is not None:
            by_key = exact.size * _COLLECT_ROW + walked * (_KEY_ROW + picked * _WALK_ROW)
            costs["keys"] = by_key
        if text is not None:
            costs["text"] = walked * (_TEXT_ROW + share * _WALK_ROW)
        return costs

    def _walk(
        self,
        table: TableIndexes,
        query: PreparedQuery,
        allowed: Allowed,
        after: Sequence[Any] | None,
        *,
        prints: set[int] | None,
        text: _Text | None,
    ) -> list[Any]:
        index = table.sorted(query.order_by)
        lo, hi = index.bounds(self._ranges(query))
        if after is not None:
            lo = max(lo, index.after(after))
        found: Iterable[Hashable]
        if prints is not None:
            # Fingerprints may (rarely) let a stranger through: check every filter.
            found = index.keys(lo, hi, among=prints)
            check = predicate(query.where, allowed)
        elif text is not None:
            found = index.holding(lo, hi, text.reader, text.needle)
            check = predicate(query.where, allowed, skip={text.position})
        else:
            found = index.keys(lo, hi)
            check = predicate(query.where, allowed)
        return self._take(table, found, check, query.limit + 1)

    def _take(
        self, table: TableIndexes, keys: Iterable[Hashable], check: Callable[[Any], bool], want: int
    ) -> list[Any]:
        rows = table.rows
        out: list[Any] = []
        examined = 0
        for key in keys:
            row = rows[key]
            examined += 1
            if check(row):
                out.append(row)
                if len(out) == want:
                    break
        self.stats.rows_examined += examined
        return out

    def _gather(
        self,
        table: TableIndexes,
        query: PreparedQuery,
        allowed: Allowed,
        best: _Candidates,
        after: Sequence[Any] | None,
    ) -> list[Any]:
        ordering = Ordering(query.order_by)
        of_row = ordering.of_row
        probe = None if after is None else ordering.of_values(after)
        check = predicate(query.where, allowed, skip=best.skip())
        items: list[tuple[tuple[Any, ...], Any]] = []
        examined = 0
        for _, row in best.collect():
            examined += 1
            if check(row):
                sortable = of_row(row)
                if probe is None or sortable > probe:
                    items.append((sortable, row))
        self.stats.rows_examined += examined
        items.sort(key=_first)
        return [row for _, row in items[: query.limit + 1]]

    # -- counts -------------------------------------------------------------

    def count(self, table: TableIndexes, where: Sequence[Filter]) -> int:
        """Return how many rows match every filter of ``where``."""
        rows = table.rows
        if not where:
            return len(rows)
        allowed = self._resolve(where)
        if any(not values for values in allowed.values()):
            return 0
        best = self._best(self._exact(table, where, allowed))
        if best is not None and best.sized and len(where) == 1 and self.prefer is None:
            return best.size
        text = self._text_filter(table, where)
        if text is not None and len(where) == 1 and self._way(table, best, text) == "text":
            return table.any_sorted().count_holding(text.reader, text.needle)
        return sum(1 for _ in self._matching(table, where, allowed, best, text))

    def count_by(self, table: TableIndexes, field: str, where: Sequence[Filter]) -> dict[Any, int]:
        """Return how many rows match every filter of ``where``, by their value of ``field``."""
        allowed = self._resolve(where)
        if any(not values for values in allowed.values()):
            return {}
        best = self._best(self._exact(table, where, allowed))
        text = self._text_filter(table, where)
        counts: dict[Any, int] = {}
        for row in self._matching(table, where, allowed, best, text):
            value = getattr(row, field)
            counts[value] = counts.get(value, 0) + 1
        return counts

    def _way(self, table: TableIndexes, best: _Candidates | None, text: _Text | None) -> str:
        """The cheapest way to walk the rows a filter matches: scan, gather or text."""
        n = len(table.rows)
        ways = {"scan": n * _WALK_ROW}
        if best is not None:
            ways["gather"] = best.size * _WALK_ROW
        if text is not None:
            ways["text"] = n * _TEXT_ROW
        way = min(ways, key=ways.__getitem__)
        if self.prefer in ways:
            way = self.prefer
        return way

    def _matching(
        self,
        table: TableIndexes,
        where: Sequence[Filter],
        allowed: dict[int, Values],
        best: _Candidates | None,
        text: _Text | None,
    ) -> Iterator[Any]:
        """The rows matching every filter, walked the cheapest way."""
        rows = table.rows
        way = self._way(table, best, text)
        found: Iterable[Any]
        if way == "gather":
            assert best is not None
            found = (row for _, row in best.collect())
            check = predicate(where, allowed, skip=best.skip())
        elif way == "text":
            assert text is not None
            keys = table.any_sorted().holding(
                (0, 0), table.any_sorted().end, text.reader, text.needle
            )
            found = (rows[key] for key in keys)
            check = predicate(where, allowed, skip={text.position})
        else:
            found = rows.values()
            check = predicate(where, allowed)
        examined = 0
        try:
            for row in found:
                examined += 1
                if check(row):
                    yield row
        finally:
            self.stats.rows_examined += examined
