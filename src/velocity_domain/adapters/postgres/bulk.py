"""Bulk writes on PostgreSQL: COPY, array-driven UPDATE and guarded DELETE.

The import gateway writes tens of thousands of rows at a time. Each function
here costs one statement (or one COPY) however many rows it is given:
``copy_rows`` streams rows with COPY, ``update_many`` sets per-row values
from one JSON document (``jsonb_to_recordset``) with a version check, and
``remove_unreferenced`` deletes only rows still at their version that no
foreign key points to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from velocity_domain.errors import ValidationFailed

__all__ = [
    "array_type",
    "copy_rows",
    "qualified",
    "relink",
    "remove_unreferenced",
    "update_many",
]


def array_type(column: sa.Column[Any]) -> str:
    """The PostgreSQL type name an array parameter for ``column`` is cast to."""
    kind = column.type
    if isinstance(kind, pg.JSONB):
        return "jsonb"
    if isinstance(kind, sa.ARRAY):
        raise ValidationFailed(column.name, "array columns are not set in bulk")
    if isinstance(kind, sa.String):
        return "text"
    if isinstance(kind, sa.Uuid):
        return "uuid"
    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.Integer):
        return "bigint"
    if isinstance(kind, sa.Numeric):
        return "numeric"
    if isinstance(kind, sa.DateTime):
        return "timestamptz"
    if isinstance(kind, sa.Date):
        return "date"
    raise ValidationFailed(column.name, f"cannot be set in bulk ({kind})")  # pragma: no cover


def copy_rows(
    connection: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` (column -> value, as the store keeps them) with one COPY."""
    if not rows:
        return
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    jsonb = [isinstance(c.type, pg.JSONB) for c in columns]
    quoted = ", ".join(f'"{name}"' for name in names)
    target = qualified(connection, table)
    statement = f"COPY {target} ({quoted}) FROM STDIN"
    raw = connection.connection.driver_connection
    assert raw is not None
    import psycopg  # noqa: PLC0415 - the driver loads on first use
    from psycopg.types.json import Jsonb  # noqa: PLC0415

    try:
        _copy(connection, raw, statement, rows, names, jsonb, Jsonb)
    except psycopg.Error as orig:  # as SQLAlchemy wraps it, for the one translation place
        raise sa.exc.DBAPIError.instance(statement, None, orig, psycopg.Error) from orig


def _copy(  # noqa: PLR0917
    connection: sa.Connection,
    raw: Any,
    statement: str,
    rows: Sequence[Mapping[str, Any]],
    names: list[str],
    jsonb: list[bool],
    wrap: Any,
) -> None:
    with raw.cursor() as cursor:
        # Statement listeners (tracing, the statement-count tests) see the COPY too.
        if connection._has_events or connection.engine._has_events:
            connection.dispatch.before_cursor_execute(
                connection, cursor, statement, None, None, False
            )
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [
                        wrap(row[name]) if is_json and row[name] is not None else row[name]
                        for name, is_json in zip(names, jsonb, strict=True)
                    ]
                )


def _json_value(value: Any) -> Any:
    """A value as JSON carries it to ``jsonb_to_recordset``, which casts it to the column."""
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} in a bulk update")


def update_many(
    connection: sa.Connection,
    table: sa.Table,
    key_field: str,
    changes: Sequence[tuple[UUID, int, Mapping[str, Any]]],
    now: datetime,
) -> set[UUID]:
    """Set each row's values where its version still matches; return the keys updated.

    Rows are grouped by the set of fields they change; each group is one
    ``UPDATE ... FROM jsonb_to_recordset(...)`` statement whose values travel
    as one JSON document (no per-value quoting of arrays).
    """
    groups: dict[tuple[str, ...], list[tuple[UUID, int, Mapping[str, Any]]]] = {}
    for change in changes:
        groups.setdefault(tuple(sorted(change[2])), []).append(change)
    done: set[UUID] = set()
    for fields, group in groups.items():
        columns = [table.c[name] for name in fields]
        shape = "".join(f', "{c.name}" {array_type(c)}' for c in columns)
        sets = "".join(f', "{c.name}" = v."{c.name}"' for c in columns)
        # Every name in the text comes from the table metadata; values are bound parameters.
        statement = sa.text(
            f"UPDATE {qualified(connection, table)} AS t"
            f" SET version = t.version + 1, updated_at = :now{sets}"
            f" FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(k uuid, ver bigint{shape})"
            f' WHERE t."{key_field}" = v.k AND t.version = v.ver RETURNING t."{key_field}"'
        )
        rows = [{"k": key, "ver": version, **values} for key, version, values in group]
        document = json.dumps(rows, default=_json_value, separators=(",", ":"))
        done.update(connection.execute(statement, {"now": now, "rows": document}).scalars())
    return done


def relink(  # noqa: PLR0917 - the statement's own parts
    connection: sa.Connection,
    table: sa.Table,
    key_field: str,
    field: str,
    moves: Sequence[tuple[UUID, UUID, UUID]],
    now: datetime,
    versioned: bool,
) -> set[UUID]:
    """Point ``field`` of each row from its old id to its new one, where it still holds the old.

    One ``UPDATE ... FROM unnest(keys, olds, news)``; a versioned row also
    goes up one version and takes ``updated_at`` from ``now``.
    """
    if not moves:
        return set()
    column = table.c[field].name
    bump = ", version = t.version + 1, updated_at = :now" if versioned else ""
    # Every name in the text comes from the table metadata; values are bound parameters.
    statement = sa.text(
        f'UPDATE {qualified(connection, table)} AS t SET "{column}" = v.new{bump}'
        " FROM unnest(CAST(:keys AS uuid[]), CAST(:olds AS uuid[]), CAST(:news AS uuid[]))"
        f' AS v(k, old, new) WHERE t."{key_field}" = v.k AND t."{column}" = v.old'
        f' RETURNING t."{key_field}"'
    )
    keys, olds, news = (list(part) for part in zip(*moves, strict=True))
    params: dict[str, Any] = {"keys": keys, "olds": olds, "news": news}
    if versioned:
        params["now"] = now
    return set(connection.execute(statement, params).scalars())


def remove_unreferenced(
    connection: sa.Connection,
    table: sa.Table,
    key_field: str,
    keys: Sequence[tuple[UUID, int]],
) -> set[UUID]:
    """Delete the rows among ``keys`` still at their version that no foreign key points to."""
    if not keys:
        return set()
    guards = []
    for other in table.metadata.tables.values():
        for fk in other.foreign_keys:
            if fk.column.table is not table:
                continue
            same = (
                f' AND o."{other.c[key_field].name}" <> t."{key_field}"' if other is table else ""
            )
            guards.append(  # names from the metadata only
                f"NOT EXISTS (SELECT 1 FROM {qualified(connection, other)} AS o"
                f' WHERE o."{fk.parent.name}" = t."{key_field}"{same})'
            )
    where = "".join(f" AND {g}" for g in guards)
    statement = sa.text(
        f"DELETE FROM {qualified(connection, table)} AS t"
        f" USING unnest(CAST(:keys AS uuid[]), CAST(:versions AS bigint[])) AS v(k, ver)"
        f' WHERE t."{key_field}" = v.k AND t.version = v.ver{where}'
        f' RETURNING t."{key_field}"'
    )
    params = {"keys": [k for k, _ in keys], "versions": [v for _, v in keys]}
    return set(connection.execute(statement, params).scalars())


def qualified(connection: sa.Connection, table: sa.Table) -> str:
    """The table's name as SQL, in the schema the connection maps canonical tables to."""
    schema = table.schema or connection.get_execution_options().get("schema_translate_map", {}).get(
        None
    )
    return f'"{schema}"."{table.name}"' if schema else f'"{table.name}"'
