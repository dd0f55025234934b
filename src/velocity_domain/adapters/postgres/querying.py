"""The query language in SQL: filters, keyset conditions and orderings that indexes serve.

Text columns are declared ``COLLATE "C"`` (revision 0005), so comparisons
and orderings carry no collation wrapper and the plain indexes serve them.
Keyset conditions are row comparisons (``(a, id) > (:a, :id)``), which a
btree walks from the cursor's position instead of filtering from the start.
``Contains`` on columns with a trigram index adds an index condition over the
needle's three-character pieces, and the exact substring test rechecks it.
``Among`` is a semi-join: ``field IN (SELECT column FROM ... UNION ALL ...)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from velocity_domain.adapters.postgres.tables import metadata
from velocity_domain.adapters.postgres.tables._columns import TRIGRAMS_FUNCTION
from velocity_domain.errors import ValidationFailed
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
    Source,
)

#: An ``In`` filter with more values than this binds them as one array (``= ANY``).
LONG_IN = 32

__all__ = ["SqlQueries", "queries_for", "trigram_query"]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_MAX_PIECES = 32


def _lexeme(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def trigram_query(needle: str) -> str | None:
    """Return the ``tsquery`` text that every value containing ``needle`` satisfies.

    A needle of three or more characters needs all its pieces; a shorter one
    is the start of some piece (values are padded, see revision 0005). The
    needle is lower-cased as PostgreSQL's ``lower()`` does under ``"C"``
    (ASCII letters only). ``None`` for an empty needle, which matches everything.

    >>> trigram_query("Asha")
    "'ash' & 'sha'"
    >>> trigram_query("d'")
    "'d''':*"
    """
    text = needle.translate(_ASCII_LOWER)
    if not text:
        return None
    if len(text) < 3:
        return _lexeme(text) + ":*"
    pieces = sorted({text[i : i + 3] for i in range(len(text) - 2)})[:_MAX_PIECES]
    return " & ".join(_lexeme(p) for p in pieces)


def _runs(order: Sequence[SortKey]) -> list[list[int]]:
    """Group the positions of ``order`` into runs of keys sorted the same way."""
    runs: list[list[int]] = []
    for i, key in enumerate(order):
        if runs and order[runs[-1][0]].descending == key.descending:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


#: Names of the bound parameters of the prepared statements (``k_`` + the column name).
KEY, EXPECTED = "k_key", "k_expected"


def value_param(column: str) -> str:
    """The name of the bound parameter that carries ``column``'s new value."""
    return f"v_{column}"


def _where_param(column: str) -> str:
    return f"w_{column}"


class SqlQueries:
    """Turns filters, orders and cursors on one table into SQLAlchemy expressions.

    It also holds the table's single-row statements, built once with bound
    parameters, so SQLAlchemy compiles each of them once per process: the
    lookup by key, the insert, and the versioned update.
    """

    def __init__(self, table: sa.Table, schema: str | None = None) -> None:
        self.table = table
        self._schema = schema
        self._trigrams = {
            index.info["trigrams"] for index in table.indexes if "trigrams" in index.info
        }
        (key,) = table.primary_key.columns
        self.key = key
        self.by_key = sa.select(table).where(key == sa.bindparam(KEY))
        self.insert = sa.insert(table)
        self.update: sa.Update | None = None
        self.version_of: sa.Select[Any] | None = None
        if "version" in table.c:
            self.version_of = sa.select(table.c.version).where(key == sa.bindparam(KEY))
            changing = [c.name for c in table.c if c.name not in (key.name, "created_at")]
            self.update = (
                sa.update(table)
                .where(key == sa.bindparam(KEY), table.c.version == sa.bindparam(EXPECTED))
                .values({name: sa.bindparam(value_param(name)) for name in changing})
                .returning(*table.c)
            )

    def _column(self, name: str) -> sa.ColumnElement[Any]:
        try:
            return self.table.c[name]
        except KeyError:
            raise ValidationFailed("where", f"{self.table.name} has no field {name!r}") from None

    def _pieces(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        function = getattr(sa.func, self._schema) if self._schema else sa.func
        return sa.func.array_to_tsvector(
            getattr(function, TRIGRAMS_FUNCTION)(sa.func.lower(column))
        )

    def condition(
        self, item: Filter, columns: sa.ColumnCollection[str, Any] | None = None
    ) -> sa.ColumnElement[bool]:
        """The SQL condition of one filter.

        With ``columns`` (a subquery's), a search or a semi-join tests those
        columns, with no index condition; other filters always test the table.
        """
        if columns is not None:
            if isinstance(item, Contains):
                return self.substring(item, columns)
            if isinstance(item, Among):
                return self._among_each(item, columns[item.field])
        if isinstance(item, Eq):
            column = self._column(item.field)
            return column.is_(None) if item.value is None else column == item.value
        if isinstance(item, In):
            if not item.values:
                return sa.false()
            column = self._column(item.field)
            if len(item.values) > LONG_IN:
                # One array parameter, not a parameter per value: the statement stays small.
                values = sa.bindparam(None, list(item.values), type_=pg.ARRAY(column.type))
                return column == sa.any_(values)
            return column.in_(list(item.values))
        if isinstance(item, Range):
            ranged = self._column(item.field)
            parts: list[sa.ColumnElement[bool]] = [ranged.is_not(None)]
            for bound, op in (
                (item.gte, ranged.__ge__),
                (item.gt, ranged.__gt__),
                (item.lte, ranged.__le__),
                (item.lt, ranged.__lt__),
            ):
                if bound is not None:
                    parts.append(op(bound))
            return sa.and_(*parts)
        if isinstance(item, IsNull):
            nullable = self._column(item.field)
            return nullable.is_(None) if item.is_null else nullable.is_not(None)
        if isinstance(item, HasLabel):
            column = self._column(item.field)
            return column.contains(sa.cast(pg.array([item.label]), column.type))
        if isinstance(item, Contains):
            return self._contains(item)
        if isinstance(item, Among):
            return self._among(item)
        raise TypeError(f"unknown filter {item!r}")  # pragma: no cover

    def compare_and_set(
        self, names: tuple[str, ...], where: Sequence[Filter]
    ) -> tuple[sa.Update, dict[str, Any]]:
        """The conditional UPDATE of ``names`` on one row, and the parameters of ``where``.

        Conditions that are all ``Eq`` on a value use a statement built once per
        shape (columns set, columns tested); any other ``where`` is built anew.
        """
        if all(isinstance(f, Eq) and f.value is not None for f in where):
            tested = tuple(cast(Eq, f).field for f in where)
            params = {_where_param(cast(Eq, f).field): cast(Eq, f).value for f in where}
            return self._shaped_update(names, tested), params
        return self._update_statement(names, [self.condition(f) for f in where]), {}

    def _update_statement(
        self, names: tuple[str, ...], conditions: Sequence[sa.ColumnElement[bool]]
    ) -> sa.Update:
        table = self.table
        return (
            sa.update(table)
            .where(self.key == sa.bindparam(KEY), *conditions)
            .values(
                {
                    **{name: sa.bindparam(value_param(name)) for name in names},
                    "version": table.c.version + 1,
                    "updated_at": sa.bindparam(value_param("updated_at")),
                }
            )
            .returning(*table.c)
        )

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one SqlQueries per table lives for the process
    def _shaped_update(self, names: tuple[str, ...], tested: tuple[str, ...]) -> sa.Update:
        conditions = [self._column(f) == sa.bindparam(_where_param(f)) for f in tested]
        return self._update_statement(names, conditions)

    def substring(
        self, item: Contains, columns: sa.ColumnCollection[str, Any] | None = None
    ) -> sa.ColumnElement[bool]:
        """The exact test of ``item`` (on ``columns``, by default the table's own)."""
        needle = sa.func.lower(sa.literal(item.text, sa.Text))
        fields = [self._column(f) if columns is None else columns[f] for f in item.fields]
        return sa.or_(*(sa.func.strpos(sa.func.lower(f), needle) > 0 for f in fields))

    def indexed_search(self, item: Filter) -> bool:
        """Whether ``item`` is a substring search the trigram indexes answer."""
        return (
            isinstance(item, Contains)
            and trigram_query(item.text) is not None
            and set(item.fields) <= self._trigrams
        )

    def _contains(self, item: Contains) -> sa.ColumnElement[bool]:
        exact = self.substring(item)
        query = trigram_query(item.text)
        if query is None or not set(item.fields) <= self._trigrams:
            return exact
        wanted = sa.cast(sa.literal(query, sa.Text), pg.TSQUERY)
        indexed = sa.or_(*(self._pieces(self.table.c[f]).op("@@")(wanted) for f in item.fields))
        # The cheap exact test first: PostgreSQL orders the rest by cost when it filters.
        return sa.and_(exact, indexed)

    def _among(
        self, item: Among, column: sa.ColumnElement[Any] | None = None
    ) -> sa.ColumnElement[bool]:
        selects = [self._source(source) for source in item.sources]
        if not selects:
            return sa.false()
        inner = selects[0] if len(selects) == 1 else sa.union_all(*selects)
        return (self._column(item.field) if column is None else column).in_(inner)

    def _among_each(self, item: Among, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        """``item`` as one ``EXISTS`` per source, which a walk tests row by row and stops early."""
        tests = []
        for source in item.sources:
            select = self._source(source)
            found = select.selected_columns[0]
            tests.append(sa.exists(select.where(found == column)))
        return sa.or_(*tests) if tests else sa.false()

    def _source(self, source: Source) -> sa.Select[Any]:
        if source.table not in metadata.tables:
            raise ValidationFailed("where", f"Among names no table {source.table!r}")
        queries = queries_for(source.table, self._schema)
        column = queries._column(source.column)
        return sa.select(column).where(*(queries.condition(f) for f in source.where))

    def after(self, order: Sequence[SortKey], values: Sequence[Any]) -> sa.ColumnElement[bool]:
        """Rows strictly after ``values`` in ``order``, as row comparisons an index walks.

        Keys sorted the same way form one row comparison; an order that
        changes direction is a chain of them, led by the first run's
        ``>=`` so the index still bounds the walk.
        """
        runs = _runs(order)

        def row(run: list[int]) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any]]:
            columns = [self._column(order[i].field) for i in run]
            bound = [sa.literal(values[i], type_=c.type) for i, c in zip(run, columns, strict=True)]
            return sa.tuple_(*columns), sa.tuple_(*bound)

        def beyond(k: int) -> sa.ColumnElement[bool]:
            left, right = row(runs[k])
            step = left < right if order[runs[k][0]].descending else left > right
            if k == len(runs) - 1:
                return step
            return sa.or_(step, sa.and_(left == right, beyond(k + 1)))

        condition = beyond(0)
        if len(runs) > 1:
            left, right = row(runs[0])
            bound_first = left <= right if order[0].descending else left >= right
            condition = sa.and_(bound_first, condition)
        return condition

    def ordering(self, order: Sequence[SortKey]) -> list[sa.ColumnElement[Any]]:
        """The ORDER BY of ``order``."""
        return [
            self._column(k.field).desc() if k.descending else self._column(k.field).asc()
            for k in order
        ]


@functools.cache
def queries_for(table: str, schema: str | None) -> SqlQueries:
    """The :class:`SqlQueries` of a canonical table, built once per process and schema."""
    return SqlQueries(metadata.tables[table], schema)
