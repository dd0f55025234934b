"""The PostgreSQL store: the ports over SQLAlchemy Core and psycopg 3.

Every table operation is one statement (a page of a listing is one SELECT,
``get_many`` one ``IN`` query, ``add_many`` one batched INSERT), so no read
path costs a statement per row. Text columns are declared ``COLLATE "C"``,
so the order is the in-memory store's code-point order and the indexes
serve every comparison (see :mod:`.querying`). Rows read back are trusted:
entities are built from them without validating them again. Driver errors
become :mod:`velocity_domain.errors` types in :func:`translate`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

import sqlalchemy as sa

from velocity_domain.adapters.postgres import bulk
from velocity_domain.adapters.postgres.querying import EXPECTED, KEY, queries_for, value_param
from velocity_domain.adapters.postgres.tables import metadata
from velocity_domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    ConstraintViolation,
    NotFound,
    SerializationFailure,
    StorageUnavailable,
    UnitOfWorkError,
    ValidationFailed,
    VelocityError,
)
from velocity_domain.kernel.clock import Clock, SystemClock
from velocity_domain.kernel.fields import FieldSpec
from velocity_domain.kernel.model import Entity, VersionedEntity
from velocity_domain.kernel.pagination import CursorCodec, Page
from velocity_domain.kernel.query import (
    Among,
    Eq,
    Filter,
    In,
    PreparedQuery,
    Query,
    plain,
    prepare,
)
from velocity_domain.kernel.repository import (
    AppendTable,
    MutableTable,
    check_lookup,
    mutable_table,
)
from velocity_domain.kernel.tableinfo import TableInfo, row_values, table_info

__all__ = ["PostgresStore", "PostgresTransaction", "translate"]

E = TypeVar("E", bound=Entity)
V = TypeVar("V", bound=VersionedEntity)

#: ``add_many`` of this many rows or more streams them with COPY.
COPY_FROM = 64

_UNIQUE, _FOREIGN_KEY, _CHECK, _NOT_NULL = "23505", "23503", "23514", "23502"
#: serialization_failure and deadlock_detected: another transaction won; run this one again.
_SERIALIZATION = {"40001": "serialization failure", "40P01": "deadlock"}
#: The server ended the session: admin_shutdown, crash_shutdown, cannot_connect_now.
_SESSION_ENDED = {"57P01", "57P02", "57P03"}

#: How many rows per row of a page a substring search tests in order before it
#: asks the trigram index instead (see ``PostgresTable._walk_first``).
WALK = 100


def translate(
    exc: sa.exc.SQLAlchemyError,
    info: TableInfo | None = None,
    row: Mapping[str, Any] | None = None,
    *,
    context: str | None = None,
) -> VelocityError:
    """Turn a driver error into the library error the in-memory store raises for the same case.

    This is the adapter's one translation place. A serialization failure or
    a deadlock becomes :class:`~velocity_domain.errors.SerializationFailure`;
    a connection that was lost, refused or not had from the pool in time
    becomes :class:`~velocity_domain.errors.StorageUnavailable`; a unique,
    foreign-key or check violation ``AlreadyExists`` or ``ConstraintViolation``;
    a value the server refuses (SQLSTATE class 22) ``ValidationFailed``.
    ``info`` and ``row`` are the table and values written, when known;
    ``context`` says what was being done (``"commit"``, ``"connect ..."``).
    """
    orig = getattr(exc, "orig", None)
    sqlstate = str(getattr(orig, "sqlstate", None) or "")
    detail = str(orig or exc).strip().splitlines()[0] if str(orig or exc).strip() else repr(exc)
    diag = getattr(orig, "diag", None)
    entity = info.name if info is not None else str(getattr(diag, "table_name", None) or "")
    where = f"{entity or 'PostgreSQL'}{f' ({context})' if context else ''}"
    if sqlstate in _SERIALIZATION:
        return SerializationFailure(
            f"{where}: {_SERIALIZATION[sqlstate]} ({sqlstate}): a concurrent transaction won"
            " and this one was rolled back; run it again"
        )
    if isinstance(exc, sa.exc.TimeoutError):  # the pool's timeout
        return StorageUnavailable(
            f"{where}: no pooled connection came free in time ({detail}); retry later"
        )
    if _connection_lost(exc, sqlstate):
        if context is not None and context.startswith("connect"):
            return StorageUnavailable(f"cannot reach PostgreSQL ({context}): {detail}")
        unknown = "; the commit may or may not have happened" if context == "commit" else ""
        return StorageUnavailable(f"{where}: lost the connection to PostgreSQL ({detail}){unknown}")
    constraint = str(getattr(diag, "constraint_name", None) or "unknown")
    if sqlstate == _UNIQUE:
        return AlreadyExists(entity or "unknown", constraint, _unique_key(info, constraint, row))
    if sqlstate == _FOREIGN_KEY:
        return ConstraintViolation(
            entity or "unknown", constraint, _missing_reference(info, constraint, row)
        )
    if sqlstate in (_CHECK, _NOT_NULL):
        return ConstraintViolation(entity or "unknown", constraint, detail)
    if sqlstate.startswith("22"):  # data exception: a value the server cannot take
        column = str(getattr(diag, "column_name", None) or "value")
        return ValidationFailed(column, f"refused by PostgreSQL: {detail}", entity=entity or None)
    return StorageUnavailable(f"{where}: {detail}")


def _connection_lost(exc: sa.exc.SQLAlchemyError, sqlstate: str) -> bool:
    """Whether ``exc`` says the connection is gone (or could not be made)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if sqlstate.startswith("08") or sqlstate in _SESSION_ENDED:
        return True
    # psycopg reports a closed socket as an OperationalError without a SQLSTATE.
    return not sqlstate and isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)


def _unique_key(
    info: TableInfo | None, constraint: str, row: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The values of the unique key ``constraint`` in the row written."""
    if info is None:
        return {}
    if constraint == f"pk_{info.name}":
        fields: tuple[str, ...] = (info.key_field,)
    else:
        fields = next((u.fields for u in info.uniques if u.name_for(info.name) == constraint), ())
    return {f: (row or {}).get(f) for f in fields}


def _missing_reference(
    info: TableInfo | None, constraint: str, row: Mapping[str, Any] | None
) -> str:
    """Say which reference of the row written names no row."""
    if info is not None:
        for ref in info.references:
            if info.fk_name(ref.field) == constraint and row is not None:
                return f"{ref.field} {row.get(ref.field)} names no row of {ref.table}"
        for cref in info.composite_refs:
            if cref.name_for(info.name) == constraint:
                return f"({', '.join(cref.fields)}) names no row of {cref.table}"
    return "a referenced row is missing or in use"


class PostgresStore:
    """A store on a PostgreSQL database migrated with ``velocity-domain db upgrade``."""

    def __init__(
        self,
        engine: sa.Engine,
        entity_classes: Iterable[type[Entity]],
        *,
        clock: Clock | None = None,
        cursor_codec: CursorCodec | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.codec = cursor_codec or CursorCodec.from_host(None)
        self.infos = {info.name: info for info in map(table_info, entity_classes)}
        translated = engine.get_execution_options().get("schema_translate_map") or {}
        #: The PostgreSQL schema of the canonical tables (``None``: the search path's).
        self.schema: str | None = translated.get(None)
        self.queries = {name: queries_for(name, self.schema) for name in self.infos}

    def begin(self, *, read_only: bool = False) -> PostgresTransaction:
        """Open a connection from the pool and begin a transaction on it.

        A ``read_only`` one runs in autocommit: no BEGIN or ROLLBACK round
        trips, each statement on the data committed when it runs; writes are
        refused.
        """
        try:
            connection = self.engine.connect()
            if read_only:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            else:
                connection.begin()
        except sa.exc.SQLAlchemyError as exc:
            raise translate(exc, context="connect") from exc
        return PostgresTransaction(self, connection, read_only=read_only)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


class PostgresTransaction:
    """One transaction on one pooled connection."""

    def __init__(
        self, store: PostgresStore, connection: sa.Connection, *, read_only: bool = False
    ) -> None:
        self.store = store
        self.read_only = read_only
        self._connection: sa.Connection | None = connection
        self._tables: dict[str, PostgresTable[Any]] = {}
        self.failure: VelocityError | None = None

    @property
    def connection(self) -> sa.Connection:
        """The connection, while the transaction is open and has broken no rule."""
        if self._connection is None:
            raise UnitOfWorkError("the transaction has ended; open a new unit of work")
        if self.failure is not None:
            raise UnitOfWorkError.after_failure(self.failure)
        return self._connection

    def table(self, cls: type[E]) -> AppendTable[E]:
        """Return the table of ``cls`` inside this transaction."""
        info = self.store.infos.get(cls.table_name)
        if info is None or info.cls is not cls:
            raise ValidationFailed("entity", f"{cls.__name__} is not a table of this store")
        if info.name not in self._tables:
            self._tables[info.name] = PostgresTable(self, info)
        return cast("AppendTable[E]", self._tables[info.name])

    def mutable(self, cls: type[V]) -> MutableTable[V]:
        """Return the table of the mutable entity class ``cls`` inside this transaction."""
        return mutable_table(self, cls)

    def writing(self) -> sa.Connection:
        """The connection, for a write: refused in a read-only transaction."""
        if self.read_only:
            raise UnitOfWorkError("this unit of work only reads; open one that writes")
        return self.connection

    def commit(self) -> None:
        """Commit and give the connection back to the pool."""
        connection = self.connection
        if self.read_only:
            self._close()
            return
        try:
            connection.commit()
        except sa.exc.SQLAlchemyError as exc:
            raise translate(exc, context="commit") from exc
        finally:
            self._close()

    @contextmanager
    def translating(self) -> Iterator[None]:
        """Turn a statement's driver error into the library's error; fail the transaction."""
        try:
            yield
        except sa.exc.DBAPIError as exc:
            error = translate(exc)
            self.failure = error
            raise error from exc

    def extension(self, port: type[Any]) -> Any:
        """This store's set-based implementation of a bulk step, or its answer to ``port``.

        (Its idempotency keys and its reading of a session token are such ports: a
        store's own table, and a read asked for on every request, not bulk steps.)
        """
        from velocity_domain.adapters.postgres import (  # noqa: PLC0415
            artifacts,
            client360,
            client_summaries,
            duplicates,
            idempotency,
            imports,
            qd,
            sessions,
        )

        # Sessions first: every HTTP request asks for them.
        modules = (
            sessions,
            imports,
            duplicates,
            client360,
            client_summaries,
            artifacts,
            qd,
            idempotency,
        )
        for module in modules:
            make = module.EXTENSIONS.get(port)
            if make is not None:
                return make(self)
        return None

    def rollback(self) -> None:
        """Roll back and give the connection back to the pool."""
        connection = self._connection
        if connection is None:
            raise UnitOfWorkError("the transaction has ended; open a new unit of work")
        try:
            connection.rollback()
        finally:
            self._close()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresTable(Generic[E]):
    """One table inside a :class:`PostgresTransaction`."""

    def __init__(self, tx: PostgresTransaction, info: TableInfo) -> None:
        self._tx = tx
        self._info = info
        self._table = metadata.tables[info.name]
        self._key = self._table.c[info.key_field]
        self._queries = tx.store.queries[info.name]
        self._build = info.build

    @contextmanager
    def _errors(self, row: Mapping[str, Any] | None = None) -> Iterator[None]:
        try:
            yield
        except sa.exc.DBAPIError as exc:
            error = translate(exc, self._info, row)
            self._tx.failure = error
            raise error from exc

    def _entity(self, row: sa.Row[Any]) -> E:
        return cast("E", self._build(cast("Mapping[str, Any]", row._mapping)))

    def _select(self, *where: sa.ColumnElement[bool]) -> list[sa.Row[Any]]:
        with self._errors():
            return list(self._tx.connection.execute(sa.select(self._table).where(*where)))

    def get(self, key: UUID) -> E:
        """Return the row ``key`` or raise ``NotFound``."""
        found = self.find(key)
        if found is None:
            raise NotFound(self._info.name, key)
        return found

    def find(self, key: UUID) -> E | None:
        """Return the row ``key`` or ``None``."""
        with self._errors():
            row = self._tx.connection.execute(self._queries.by_key, {KEY: key}).first()
        return None if row is None else self._entity(row)

    def get_many(self, keys: Iterable[UUID]) -> Mapping[UUID, E]:
        """Return the rows among ``keys`` that exist, with one query."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        entities = (self._entity(r) for r in self._select(self._key.in_(wanted)))
        found = {e.key: e for e in entities}
        return {k: found[k] for k in wanted if k in found}

    def where_in(self, field: str, values: Collection[Any], *also: Filter) -> list[E]:
        """Every row whose ``field`` is among ``values`` (and matches ``also``): one SELECT."""
        wanted = check_lookup(field, values)
        if not wanted:
            return []
        info = self._info
        prepared = prepare(info.name, info.optional, info.key_field, Query(where=also))
        conditions = [self._queries.condition(In(field, tuple(wanted)))]
        conditions += [self._queries.condition(f) for f in prepared.where]
        return [self._entity(r) for r in self._select(*conditions)]

    def list(self, query: Query | None = None) -> Page[E]:
        """Return one page of the rows matching ``query``, with one SELECT.

        A substring search is answered in at most two: see :meth:`_walk_first`.
        """
        info = self._info
        prepared = prepare(info.name, info.optional, info.key_field, query or Query())
        queries = self._queries
        keyset: list[sa.ColumnElement[bool]] = []
        if prepared.cursor is not None:
            after = self._tx.store.codec.decode(prepared.cursor, prepared.scope)
            if len(after) != len(prepared.order_by):
                raise ValidationFailed("cursor", "does not fit this listing's order")
            keyset.append(queries.after(prepared.order_by, after))
        rows = self._walk_first(prepared, keyset)
        if rows is None:
            conditions = [queries.condition(f) for f in prepared.where] + keyset
            statement = (
                sa.select(self._table)
                .where(*conditions)
                .order_by(*queries.ordering(prepared.order_by))
                .limit(prepared.limit + 1)
            )
            with self._errors():
                rows = list(self._tx.connection.execute(statement))
        entities = [self._entity(r) for r in rows[: prepared.limit]]
        next_cursor = None
        if len(rows) > prepared.limit:
            last = entities[-1]
            values = [plain(getattr(last, k.field)) for k in prepared.order_by]
            next_cursor = self._tx.store.codec.encode(prepared.scope, values)
        return Page(tuple(entities), next_cursor)

    def _walk_first(
        self, prepared: PreparedQuery, keyset: Sequence[sa.ColumnElement[bool]]
    ) -> Sequence[sa.Row[Any]] | None:
        """A page from the first rows in the listing's order, if they hold a page.

        PostgreSQL cannot estimate well how many rows a substring search or a
        semi-join (record visibility) keeps, so it may fetch every match and
        sort them where walking the order's index would meet a page of
        matches at once (an agent holding 4 % of a million people: 120 ms
        against a few), or the reverse. So such a query first tests the next
        ``WALK`` rows per row of the page in order, one bounded index walk;
        only when they hold less than a page does the full query run. Either
        way the page is exactly the same.
        """
        key = self._info.key_field
        if any(isinstance(f, Eq | In) and f.field == key for f in prepared.where):
            return None  # a lookup by key: nothing to walk
        queries = self._queries
        picky = [f for f in prepared.where if self._through_others(f) or queries.indexed_search(f)]
        if not picky:
            return None
        rest = [queries.condition(f) for f in prepared.where if f not in picky]
        ordering = queries.ordering(prepared.order_by)
        budget = WALK * (prepared.limit + 1)
        inner = (
            sa.select(self._table).where(*rest, *keyset).order_by(*ordering).limit(budget)
        ).subquery()
        outer = (
            sa.select(inner)
            .where(*(queries.condition(f, inner.c) for f in picky))
            .order_by(
                *(
                    inner.c[k.field].desc() if k.descending else inner.c[k.field].asc()
                    for k in prepared.order_by
                )
            )
            .limit(prepared.limit + 1)
        )
        with self._errors():
            rows = list(self._tx.connection.execute(outer))
        return rows if len(rows) > prepared.limit else None

    def _through_others(self, item: Filter) -> bool:
        """Whether ``item`` is a semi-join through other tables (not only lookups of this one).

        Visibility mixes both (the people a user owns, and their leads and
        deals); tested row by row, each source is one indexed probe.
        """
        return isinstance(item, Among) and any(s.table != self._info.name for s in item.sources)

    def count(self, *where: Filter) -> int:
        """Return how many rows match every filter, with one query."""
        info = self._info
        prepared = prepare(info.name, info.optional, info.key_field, Query(where=where))
        statement = sa.select(sa.func.count()).select_from(self._table)
        statement = statement.where(*(self._queries.condition(f) for f in prepared.where))
        with self._errors():
            return int(self._tx.connection.execute(statement).scalar_one())

    def count_by(self, field: str, *where: Filter) -> dict[Any, int]:
        """Return how many rows match every filter, by their value of ``field``: one GROUP BY."""
        info = self._info
        if field not in info.specs:
            raise ValidationFailed(field, f"{info.name} has no field {field}")
        prepared = prepare(info.name, info.optional, info.key_field, Query(where=where))
        column = self._table.c[field]
        statement = sa.select(column, sa.func.count()).select_from(self._table).group_by(column)
        statement = statement.where(*(self._queries.condition(f) for f in prepared.where))
        with self._errors():
            rows = self._tx.connection.execute(statement).all()
        spec = info.specs[field]
        return {_as_field(spec, value): int(n) for value, n in rows}

    def _check_type(self, entity: Entity) -> None:
        if type(entity) is not self._info.cls:
            raise ValidationFailed(
                "entity", f"expected a {self._info.cls.__name__}, got {type(entity).__name__}"
            )

    def add(self, entity: E) -> E:
        """Insert ``entity``."""
        self._check_type(entity)
        values = row_values(entity, self._info)
        with self._errors(values):
            self._tx.writing().execute(self._queries.insert, values)
        return entity

    def add_many(self, entities: Sequence[E]) -> None:
        """Insert every entity with one batched INSERT, all or none."""
        if not entities:
            return
        for entity in entities:
            self._check_type(entity)
        rows = [row_values(e, self._info) for e in entities]
        try:
            if len(rows) >= COPY_FROM:
                bulk.copy_rows(self._tx.writing(), self._table, rows)  # driver errors wrapped
            else:
                self._tx.writing().execute(self._queries.insert, rows)
        except sa.exc.DBAPIError as exc:
            error = translate(exc, self._info, _offending(exc, rows))
            self._tx.failure = error
            raise error from exc

    def update(self, entity: E, *, expected_version: int | None = None) -> E:
        """Replace the row if its version is still ``expected_version``, in one UPDATE."""
        info = self._info
        if not isinstance(entity, VersionedEntity) or type(entity) is not info.cls:
            raise ValidationFailed("entity", f"{info.name} rows cannot be updated")
        expected = entity.version if expected_version is None else expected_version
        values = row_values(entity, info)
        for fixed in (info.key_field, "created_at"):
            values.pop(fixed)
        values["version"] = expected + 1
        values["updated_at"] = self._tx.store.clock.now()
        params = {value_param(name): value for name, value in values.items()}
        params[KEY], params[EXPECTED] = entity.key, expected
        assert self._queries.update is not None
        with self._errors({**values, info.key_field: entity.key}):
            row = self._tx.writing().execute(self._queries.update, params).first()
        if row is None:
            self._raise_missing_or_stale(entity.key, expected)
        assert row is not None
        return self._entity(row)

    def update_if(
        self, key: UUID, values: Mapping[str, Any], *, where: Sequence[Filter] = ()
    ) -> E | None:
        """Set ``values`` on the row ``key`` if it matches ``where``: one UPDATE ... RETURNING."""
        info = self._info
        info.check_settable(values)
        prepared = prepare(info.name, info.optional, info.key_field, Query(where=where))
        stored = {name: _stored(value) for name, value in values.items()}
        statement, params = self._queries.compare_and_set(tuple(stored), prepared.where)
        params = {
            **params,
            **{value_param(name): value for name, value in stored.items()},
            KEY: key,
            value_param("updated_at"): self._tx.store.clock.now(),
        }
        with self._errors({**stored, info.key_field: key}):
            row = self._tx.writing().execute(statement, params).first()
        if row is None:
            return None
        try:
            # What was written is checked whole, as a constructor checks it.
            return cast("E", info.cls(**{f: row._mapping[f] for f in info.init_fields}))
        except ValidationFailed as error:
            self._tx.failure = error
            raise

    def update_many(self, changes: Sequence[tuple[UUID, int, Mapping[str, Any]]]) -> set[UUID]:
        """Set each row's values where its version still matches: one UPDATE per field set."""
        self._info.check_bulk_settable({name for _, _, values in changes for name in values})
        stored = [(k, v, {n: _stored(x) for n, x in values.items()}) for k, v, values in changes]
        now = self._tx.store.clock.now()
        with self._errors():
            return bulk.update_many(
                self._tx.writing(), self._table, self._info.key_field, stored, now
            )

    def relink(self, field: str, moves: Sequence[tuple[UUID, UUID, UUID]]) -> set[UUID]:
        """Point ``field`` of each row from ``old`` to ``new`` while it holds ``old``."""
        info = self._info
        info.check_relinkable(field)
        now = self._tx.store.clock.now()
        with self._errors():
            return bulk.relink(
                self._tx.writing(), self._table, info.key_field, field, moves, now, info.versioned
            )

    def remove_unreferenced(self, keys: Sequence[tuple[UUID, int]]) -> set[UUID]:
        """Delete the rows still at their version that nothing refers to: one DELETE."""
        with self._errors():
            return bulk.remove_unreferenced(
                self._tx.writing(), self._table, self._info.key_field, keys
            )

    def _raise_missing_or_stale(self, key: UUID, expected: int) -> None:
        assert self._queries.version_of is not None
        with self._errors():
            current = self._tx.connection.execute(self._queries.version_of, {KEY: key}).scalar()
        if current is None:
            raise NotFound(self._info.name, key)
        raise ConcurrencyConflict(self._info.name, key, expected, int(current))

    def delete(self, key: UUID, *, expected_version: int | None = None) -> None:
        """Remove the row ``key`` (only for deletable entity classes)."""
        info = self._info
        if not info.deletable:
            raise ConstraintViolation(
                info.name, "append_only", f"{info.name} rows are never deleted"
            )
        conditions = [self._key == key]
        if info.versioned and expected_version is not None:
            conditions.append(self._table.c.version == expected_version)
        statement = sa.delete(self._table).where(*conditions).returning(self._key)
        with self._errors():
            gone = self._tx.writing().execute(statement).first()
        if gone is None:
            if info.versioned and expected_version is not None:
                self._raise_missing_or_stale(key, expected_version)
            raise NotFound(info.name, key)


def _as_field(spec: FieldSpec, value: Any) -> Any:
    """A column's value as the entity's field holds it (an enum member, not its text)."""
    if spec.choices is not None and value is not None:
        return spec.choices(value)
    return value


def _stored(value: Any) -> Any:
    """A value as a column holds it: enum members as their values, tuples as arrays."""
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return plain(value)


def _offending(exc: sa.exc.DBAPIError, rows: list[dict[str, Any]]) -> Mapping[str, Any] | None:
    """Best effort: the first row whose values appear in the driver's error detail."""
    detail = str(getattr(getattr(exc.orig, "diag", None), "message_detail", "") or "")
    for row in rows:
        if any(str(v) in detail for v in row.values() if v is not None and str(v)):
            return row
    return rows[0] if len(rows) == 1 else None
