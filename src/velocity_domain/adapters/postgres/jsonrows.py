"""Rows sent back as JSON arrays, and visibility as SQL: shared by the one-statement reads.

A read that gathers several tables in one statement (client 360, the QD
query) sends each table's rows as JSON arrays of their columns and builds
them back into entities here (:class:`JsonRows`); it tests who is visible
with the same SQL a listing of people applies (:func:`seen_select`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

import sqlalchemy as sa

from velocity_domain.adapters.postgres.querying import queries_for
from velocity_domain.adapters.postgres.tables import metadata
from velocity_domain.crm.entities import Person
from velocity_domain.kernel.model import Entity
from velocity_domain.kernel.query import Among, Filter, Query, prepare
from velocity_domain.kernel.tableinfo import table_info

__all__ = ["JsonRows", "seen_select", "table_sql"]

E = TypeVar("E", bound=Entity)


def table_sql(table: str, schema: str | None) -> str:
    """``table`` as SQL, in ``schema`` (``None``: the search path's)."""
    return f'"{schema}"."{table}"' if schema else f'"{table}"'


def _loader(kind: sa.types.TypeEngine[Any]) -> Callable[[Any], Any] | None:
    """How a column's JSON value becomes what the driver gives for it (``None``: as it is)."""
    if isinstance(kind, sa.Uuid):
        return UUID
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        return Decimal
    if isinstance(kind, sa.DateTime):
        return datetime.fromisoformat
    if isinstance(kind, sa.Date):
        return date.fromisoformat
    return None


class JsonRows(Generic[E]):
    """The rows of one entity class as the statement sends them, and built back."""

    def __init__(self, cls: type[E]) -> None:
        info = table_info(cls)
        table = metadata.tables[info.name]
        self._columns = info.columns
        loaders = [_loader(table.c[name].type) for name in info.columns]
        #: The columns whose JSON value is turned into another type, by position.
        self._loaders = [(n, load) for n, load in enumerate(loaders) if load is not None]
        self._build = info.build
        as_text = {
            name
            for name in info.columns
            if isinstance(table.c[name].type, sa.Numeric)
            and not isinstance(table.c[name].type, sa.Float)
        }
        self._values = [f"{{a}}.{n}::text" if n in as_text else f"{{a}}.{n}" for n in self._columns]

    def json(self, alias: str) -> str:
        """A row of ``alias`` as a JSON array of its columns."""
        return "json_build_array(" + ", ".join(v.format(a=alias) for v in self._values) + ")"

    def one(self, values: Sequence[Any]) -> E:
        """The entity of one row's array."""
        loaded = list(values)
        for n, load in self._loaders:
            if loaded[n] is not None:
                loaded[n] = load(loaded[n])
        return cast("E", self._build(dict(zip(self._columns, loaded, strict=True))))

    def many(self, arrays: Sequence[Sequence[Any] | None] | None) -> tuple[E, ...]:
        """The entities of a part's array of rows (``None``: no rows; a ``null`` row: none)."""
        if arrays is None:
            return ()
        return tuple(self.one(values) for values in arrays if values is not None)


@functools.lru_cache(maxsize=256)
def seen_select(
    visible: Filter, schema: str | None, dialect: sa.Dialect
) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """Which of the people in ``named`` pass ``visible``: a SELECT and its parameters.

    The filter is prepared and turned into SQL by the code that applies it
    to a listing of people, so a person is seen here exactly when the
    generic path sees them. A semi-join (the visibility rule) is tested
    person by person, one index probe per source, as a listing's walk does.
    """
    info = table_info(Person)
    prepared = prepare(info.name, info.optional, info.key_field, Query(where=(visible,)))
    (rule,) = prepared.where
    queries = queries_for(info.name, schema)
    people = metadata.tables[info.name]
    if isinstance(rule, Among):
        candidate = people.alias("candidate")
        key, condition = candidate.c.person_id, queries.condition(rule, candidate.c)
    else:
        key, condition = people.c.person_id, queries.condition(rule)
    named: sa.Select[Any] = sa.select(sa.column("person_id")).select_from(sa.text("named"))
    select = sa.select(key).where(key.in_(named), condition)
    options: dict[str, Any] = {"compile_kwargs": {"render_postcompile": True}}
    if schema:
        options.update(schema_translate_map={None: schema}, render_schema_translate=True)
    compiled = select.compile(dialect=dialect, **options)
    return str(compiled), tuple(compiled.params.items())
