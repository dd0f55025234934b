"""The in-memory store: real rules, real transactions, no server.

Every rule PostgreSQL enforces for the ports is enforced here from the entity
declarations: primary and unique keys (partial ones too), references to
existing rows, optimistic versions, orderings and keyset pagination. A
transaction keeps an undo log, so a rollback restores exactly the previous
state. Transactions are serialised by one lock: a second thread waits until
the first commits or rolls back, which makes every transaction see a
consistent state (as PostgreSQL's SERIALIZABLE would) at the price of
concurrency. Reads are served by indexes built on first use (:mod:`.indexes`,
:mod:`.ordered`, :mod:`.search`) and chosen per query by :mod:`.planner`;
every write, undo included, goes through ``_Data.put``, which keeps them
right, so a read costs about what it costs PostgreSQL with its indexes.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

import attrs

from velocity_domain.adapters.memory import idempotency
from velocity_domain.adapters.memory.evaluate import matches, sort_key
from velocity_domain.adapters.memory.indexes import TableIndexes
from velocity_domain.adapters.memory.planner import Planner, ReadStats
from velocity_domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    ConstraintViolation,
    NotFound,
    StorageUnavailable,
    UnitOfWorkError,
    ValidationFailed,
    VelocityError,
)
from velocity_domain.identity.idempotency import IdempotencyRecord
from velocity_domain.kernel.clock import Clock, SystemClock
from velocity_domain.kernel.model import Entity, VersionedEntity
from velocity_domain.kernel.pagination import CursorCodec, Page
from velocity_domain.kernel.query import Among, Filter, Query, plain, prepare
from velocity_domain.kernel.repository import (
    AppendTable,
    MutableTable,
    check_lookup,
    mutable_table,
)
from velocity_domain.kernel.tableinfo import TableInfo, row_values, table_info

__all__ = ["MemoryStore", "MemoryTransaction"]

E = TypeVar("E", bound=Entity)
V = TypeVar("V", bound=VersionedEntity)


class _Data:
    """Rows by table and key, one lookup per unique key, and each table's indexes."""

    def __init__(self, classes: Iterable[type[Entity]]) -> None:
        self.infos = {info.name: info for info in map(table_info, classes)}
        self.rows: dict[str, dict[UUID, Entity]] = {name: {} for name in self.infos}
        self.unique: dict[tuple[str, str], dict[tuple[Any, ...], UUID]] = {
            (info.name, u.name_for(info.name)): {}
            for info in self.infos.values()
            for u in info.uniques
        }
        self.indexes = {
            name: TableIndexes(info, self.rows[name]) for name, info in self.infos.items()
        }
        #: The idempotency keys, by (owner, key): not canonical rows (see ``.idempotency``).
        self.idempotency: dict[tuple[str, str], IdempotencyRecord] = {}

    def unique_entries(self, info: TableInfo, row: Entity) -> list[tuple[str, tuple[Any, ...]]]:
        entries = []
        for u in info.uniques:
            values = tuple(getattr(row, f) for f in u.fields)
            values = tuple(getattr(v, "value", v) if hasattr(v, "name") else v for v in values)
            if any(v is None for v in values) or not matches(row, u.where):
                continue
            entries.append((u.name_for(info.name), values))
        return entries

    def put(self, info: TableInfo, key: UUID, row: Entity | None) -> None:
        """Replace (or remove, with ``None``) the row ``key`` and keep the lookups right."""
        table = self.rows[info.name]
        old = table.get(key)
        if old is not None:
            for name, values in self.unique_entries(info, old):
                self.unique[(info.name, name)].pop(values, None)
            del table[key]
        if row is not None:
            table[key] = row
            for name, values in self.unique_entries(info, row):
                self.unique[(info.name, name)][values] = key
        self.indexes[info.name].change(key, old, row)


class MemoryStore:
    """A store that keeps every table in this process's memory."""

    def __init__(
        self,
        entity_classes: Iterable[type[Entity]],
        *,
        clock: Clock | None = None,
        cursor_codec: CursorCodec | None = None,
        wait_timeout: float = 30.0,
    ) -> None:
        self._data = _Data(entity_classes)
        self._lock = threading.Lock()
        #: Seconds a new transaction waits for the one running in another thread
        #: (as a PostgreSQL pool waits for a free connection) before
        #: ``StorageUnavailable`` is raised.
        self.wait_timeout = wait_timeout
        self._owner: int | None = None
        self.clock = clock or SystemClock()
        self.codec = cursor_codec or CursorCodec.for_this_process()
        self.stats = ReadStats()
        """How many rows reads have looked at (an index answers in few)."""
        self.planner = Planner(self._data.indexes, self.stats)

    def begin(self, *, read_only: bool = False) -> MemoryTransaction:
        """Open a transaction, waiting for any other thread's transaction to end.

        A ``read_only`` one refuses every write. Waiting longer than
        ``wait_timeout`` raises ``StorageUnavailable``, as a PostgreSQL pool
        with no free connection does.
        """
        if self._owner == threading.get_ident():
            raise UnitOfWorkError(
                "this thread already has an open transaction on this store;"
                " finish it before starting another"
            )
        if not self._lock.acquire(timeout=self.wait_timeout):
            raise StorageUnavailable(
                f"the in-memory store stayed busy with another thread's transaction for"
                f" {self.wait_timeout:g} s; retry later"
            )
        self._owner = threading.get_ident()
        return MemoryTransaction(self, read_only=read_only)

    def _release(self) -> None:
        self._owner = None
        self._lock.release()

    def close(self) -> None:
        """Nothing to release: the data lives as long as the store object."""


class MemoryTransaction:
    """One transaction on a :class:`MemoryStore`, with an undo log for rollback."""

    def __init__(self, store: MemoryStore, *, read_only: bool = False) -> None:
        self._store = store
        self.read_only = read_only
        self._data = store._data
        self._undo: list[tuple[TableInfo, UUID, Entity | None]] = []
        self._key_undo: list[tuple[tuple[str, str], IdempotencyRecord | None]] = []
        self._open = True
        self.failure: VelocityError | None = None
        self._tables: dict[str, MemoryTable[Any]] = {}

    def _info(self, cls: type[Entity]) -> TableInfo:
        info = self._data.infos.get(cls.table_name)
        if info is None or info.cls is not cls:
            raise ValidationFailed("entity", f"{cls.__name__} is not a table of this store")
        return info

    def table(self, cls: type[E]) -> AppendTable[E]:
        """Return the table of ``cls`` inside this transaction."""
        info = self._info(cls)
        if info.name not in self._tables:
            self._tables[info.name] = MemoryTable(self, info)
        return cast("AppendTable[E]", self._tables[info.name])

    def mutable(self, cls: type[V]) -> MutableTable[V]:
        """Return the table of the mutable entity class ``cls`` inside this transaction."""
        return mutable_table(self, cls)

    def check_open(self) -> None:
        """Refuse to work once the transaction has ended or a write broke a rule."""
        if not self._open:
            raise UnitOfWorkError("the transaction has ended; open a new unit of work")
        if self.failure is not None:
            raise UnitOfWorkError.after_failure(self.failure)

    def write(self, info: TableInfo, key: UUID, row: Entity | None) -> None:
        """Change one row, remembering how to undo it."""
        if self.read_only:
            raise UnitOfWorkError("this unit of work only reads; open one that writes")
        self._undo.append((info, key, self._data.rows[info.name].get(key)))
        self._data.put(info, key, row)

    @property
    def idempotency_records(self) -> dict[tuple[str, str], IdempotencyRecord]:
        """The idempotency keys by (owner, key), to read (write with ``put_idempotency_record``)."""
        return self._data.idempotency

    def put_idempotency_record(
        self, ident: tuple[str, str], record: IdempotencyRecord | None
    ) -> None:
        """Store (or, with ``None``, delete) one idempotency record, remembering how to undo it."""
        self.check_open()
        if self.read_only:
            raise UnitOfWorkError("this unit of work only reads; open one that writes")
        records = self._data.idempotency
        self._key_undo.append((ident, records.get(ident)))
        if record is None:
            records.pop(ident, None)
        else:
            records[ident] = record

    def commit(self) -> None:
        """Keep every change and end the transaction."""
        self.check_open()
        if self.failure is not None:  # pragma: no cover - check_open raised already
            raise UnitOfWorkError.after_failure(self.failure)
        self._undo.clear()
        self._key_undo.clear()
        self._end()

    def rollback(self) -> None:
        """Undo every change and end the transaction."""
        if not self._open:
            raise UnitOfWorkError("the transaction has ended; open a new unit of work")
        for info, key, previous in reversed(self._undo):
            self._data.put(info, key, previous)
        self._undo.clear()
        records = self._data.idempotency
        for ident, before in reversed(self._key_undo):
            if before is None:
                records.pop(ident, None)
            else:
                records[ident] = before
        self._key_undo.clear()
        self._end()

    def extension(self, port: type[Any]) -> Any:
        """The store's own answer to ``port``, where it has one (its idempotency keys).

        No bulk step of its own: for those the generic code runs over the indexes.
        """
        self.check_open()
        make = idempotency.EXTENSIONS.get(port)
        return None if make is None else make(self)

    def _end(self) -> None:
        self._open = False
        self._store._release()


class MemoryTable(Generic[E]):
    """One table inside a :class:`MemoryTransaction`."""

    def __init__(self, tx: MemoryTransaction, info: TableInfo) -> None:
        self._tx = tx
        self._info = info
        self._data = tx._data

    @property
    def _rows(self) -> dict[UUID, Entity]:
        self._tx.check_open()
        return self._data.rows[self._info.name]

    def _out(self, row: Entity) -> E:
        # JSON documents are mutable dicts: hand out copies, as a database would.
        return cast("E", copy.deepcopy(row) if self._info.has_mutable_values else row)

    def get(self, key: UUID) -> E:
        """Return the row ``key`` or raise ``NotFound``."""
        row = self._rows.get(key)
        if row is None:
            raise NotFound(self._info.name, key)
        self._tx._store.stats.rows_examined += 1
        return self._out(row)

    def find(self, key: UUID) -> E | None:
        """Return the row ``key`` or ``None``."""
        row = self._rows.get(key)
        if row is None:
            return None
        self._tx._store.stats.rows_examined += 1
        return self._out(row)

    def get_many(self, keys: Iterable[UUID]) -> Mapping[UUID, E]:
        """Return the rows among ``keys`` that exist."""
        rows = self._rows
        found = {k: self._out(rows[k]) for k in dict.fromkeys(keys) if k in rows}
        self._tx._store.stats.rows_examined += len(found)
        return found

    def where_in(self, field: str, values: Collection[Any], *also: Filter) -> list[E]:
        """Return every row whose ``field`` is among ``values`` and that matches ``also``."""
        self._tx.check_open()
        wanted = check_lookup(field, values)
        info = self._info
        prepared = prepare(info.name, info.optional, info.key_field, Query(where=also))
        index = self._data.indexes[info.name].equality(field)
        if index is None:
            raise ValidationFailed(field, f"{info.name}.{field} cannot be looked up by value")
        found = []
        for value in wanted:
            for _, row in index.items(plain(value)):
                if matches(row, prepared.where):
                    found.append(row)
        self._tx._store.stats.rows_examined += len(found)
        return [self._out(r) for r in found]

    def list(self, query: Query | None = None) -> Page[E]:
        """Return one page of the rows matching ``query``."""
        self._tx.check_open()
        info, store = self._info, self._tx._store
        prepared = prepare(info.name, info.optional, info.key_field, query or Query())
        after = None
        if prepared.cursor is not None:
            after = store.codec.decode(prepared.cursor, prepared.scope)
        found = store.planner.page(self._data.indexes[info.name], prepared, after)
        page = found[: prepared.limit]
        next_cursor = None
        if len(found) > prepared.limit:
            last = sort_key(page[-1], prepared.order_by)
            next_cursor = store.codec.encode(prepared.scope, last)
        return Page(tuple(self._out(r) for r in page), next_cursor)

    def count(self, *where: Filter) -> int:
        """Return how many rows match every filter."""
        self._tx.check_open()
        info = self._info
        prepared = prepare(info.name, info.optional, info.key_field, Query(where=where))
        return self._tx._store.planner.count(self._data.indexes[info.name], prepared.where)

    def count_by(self, field: str, *where: Filter) -> dict[Any, int]:
        """Return how many rows match every filter, by their value of ``field``."""
        self._tx.check_open()
        info = self._info
        if field not in info.specs:
            raise ValidationFailed(field, f"{info.name} has no field {field}")
        prepared = prepare(info.name, info.optional, info.key_field, Query(where=where))
        indexes = self._data.indexes[info.name]
        return self._tx._store.planner.count_by(indexes, field, prepared.where)

    def _check_rules(self, row: Entity, *, replacing: UUID | None = None) -> None:
        try:
            self._find_broken_rule(row, replacing)
        except (AlreadyExists, ConstraintViolation) as err:
            # PostgreSQL aborts a transaction at a broken constraint; so do we.
            self._tx.failure = err
            raise

    def _find_broken_rule(self, row: Entity, replacing: UUID | None) -> None:
        info = self._info
        if replacing is None and row.key in self._rows:
            raise AlreadyExists(info.name, f"pk_{info.name}", {info.key_field: row.key})
        for name, values in self._data.unique_entries(info, row):
            holder = self._data.unique[(info.name, name)].get(values)
            if holder is not None and holder != replacing:
                fields = next(u.fields for u in info.uniques if u.name_for(info.name) == name)
                raise AlreadyExists(info.name, name, dict(zip(fields, values, strict=True)))
        for ref in info.references:
            value = getattr(row, ref.field)
            if value is not None and value not in self._data.rows[ref.table]:
                raise ConstraintViolation(
                    info.name,
                    info.fk_name(ref.field),
                    f"{ref.field} {value} names no row of {ref.table}",
                )
        for cref in info.composite_refs:
            values = tuple(getattr(row, f) for f in cref.fields)
            if any(v is None for v in values):
                continue
            index = self._data.indexes[cref.table].composite(cref.columns)
            if index is None:
                target = self._data.rows[cref.table].values()
                found = any(tuple(getattr(t, c) for c in cref.columns) == values for t in target)
            else:
                found = index.count(values) > 0
            if not found:
                raise ConstraintViolation(
                    info.name,
                    cref.name_for(info.name),
                    f"({', '.join(cref.fields)}) names no row of {cref.table}",
                )

    def _insert(self, entity: E) -> E:
        if type(entity) is not self._info.cls:
            raise ValidationFailed(
                "entity", f"expected a {self._info.cls.__name__}, got {type(entity).__name__}"
            )
        stored = copy.deepcopy(entity) if self._info.has_mutable_values else entity
        self._check_rules(stored)
        self._tx.write(self._info, stored.key, stored)
        return self._out(stored)

    def add(self, entity: E) -> E:
        """Insert ``entity``."""
        return self._insert(entity)

    def add_many(self, entities: Sequence[E]) -> None:
        """Insert every entity (a row that breaks a rule fails the transaction)."""
        for entity in entities:
            self._insert(entity)

    def update(self, entity: E, *, expected_version: int | None = None) -> E:
        """Replace the row with ``entity`` if its version is still ``expected_version``."""
        info = self._info
        if not isinstance(entity, VersionedEntity) or type(entity) is not info.cls:
            raise ValidationFailed("entity", f"{info.name} rows cannot be updated")
        expected = entity.version if expected_version is None else expected_version
        current = self._rows.get(entity.key)
        if current is None:
            raise NotFound(info.name, entity.key)
        assert isinstance(current, VersionedEntity)
        if current.version != expected:
            raise ConcurrencyConflict(info.name, entity.key, expected, current.version)
        stored = attrs.evolve(
            cast("VersionedEntity", copy.deepcopy(entity)),
            version=current.version + 1,
            created_at=current.created_at,
            updated_at=self._tx._store.clock.now(),
        )
        self._check_rules(stored, replacing=entity.key)
        self._tx.write(info, entity.key, stored)
        return self._out(stored)

    def update_if(
        self, key: UUID, values: Mapping[str, Any], *, where: Sequence[Filter] = ()
    ) -> E | None:
        """Set ``values`` on the row ``key`` if it matches every filter of ``where``."""
        info = self._info
        info.check_settable(values)
        prepared = prepare(info.name, info.optional, info.key_field, Query(where=where))
        if any(isinstance(f, Among) for f in prepared.where):
            raise ValidationFailed("where", "update_if takes filters on the row itself")
        current = self._rows.get(key)
        if current is None or not matches(current, prepared.where):
            return None
        assert isinstance(current, VersionedEntity)
        try:
            stored = attrs.evolve(
                copy.deepcopy(current),
                **values,
                version=current.version + 1,
                updated_at=self._tx._store.clock.now(),
            )
        except ValidationFailed as error:
            self._tx.failure = error  # as PostgreSQL fails the transaction
            raise
        self._check_rules(stored, replacing=key)
        self._tx.write(info, key, stored)
        return self._out(stored)

    def update_many(self, changes: Sequence[tuple[UUID, int, Mapping[str, Any]]]) -> set[UUID]:
        """Set fields on each row still at the version given; return the keys updated."""
        info = self._info
        info.check_bulk_settable({name for _, _, values in changes for name in values})
        now = self._tx._store.clock.now()
        done: set[UUID] = set()
        for key, version, values in changes:
            current = self._rows.get(key)
            if not isinstance(current, VersionedEntity) or current.version != version:
                continue
            # Trusted, as PostgreSQL writes them: the caller built the values from
            # validated entities (and gives a derived column with its source).
            given = copy.deepcopy(dict(values)) if info.has_mutable_values else values
            row = {**row_values(current, info), **given, "version": version + 1}
            stored = cast("VersionedEntity", info.build({**row, "updated_at": now}))
            self._check_rules(stored, replacing=key)
            self._tx.write(info, key, stored)
            done.add(key)
        return done

    def relink(self, field: str, moves: Sequence[tuple[UUID, UUID, UUID]]) -> set[UUID]:
        """Point ``field`` of each row from ``old`` to ``new`` while it holds ``old``."""
        info = self._info
        info.check_relinkable(field)
        now = self._tx._store.clock.now()
        done: set[UUID] = set()
        for key, old, new in moves:
            current = self._rows.get(key)
            if current is None or getattr(current, field) != old:
                continue
            row = {**row_values(current, info), field: new}
            if isinstance(current, VersionedEntity):
                row.update(version=current.version + 1, updated_at=now)
            stored = info.build(row)
            self._check_rules(stored, replacing=key)
            self._tx.write(info, key, stored)
            done.add(key)
        return done

    def remove_unreferenced(self, keys: Sequence[tuple[UUID, int]]) -> set[UUID]:
        """Delete each row still at the version given that no row refers to."""
        info, data = self._info, self._data
        pointing = [
            (other, ref.field)
            for other in data.infos.values()
            for ref in other.references
            if ref.table == info.name
        ]
        removed: set[UUID] = set()
        for key, version in keys:
            current = self._rows.get(key)
            if not isinstance(current, VersionedEntity) or current.version != version:
                continue
            if any(
                _refers(data.indexes[other.name], field, key, key if other is info else None)
                for other, field in pointing
            ):
                continue
            self._tx.write(info, key, None)
            removed.add(key)
        return removed

    def delete(self, key: UUID, *, expected_version: int | None = None) -> None:
        """Remove the row ``key`` (only for deletable entity classes)."""
        info = self._info
        if not info.deletable:
            raise ConstraintViolation(
                info.name, "append_only", f"{info.name} rows are never deleted"
            )
        current = self._rows.get(key)
        if current is None:
            raise NotFound(info.name, key)
        if (
            isinstance(current, VersionedEntity)
            and expected_version is not None
            and current.version != expected_version
        ):
            raise ConcurrencyConflict(info.name, key, expected_version, current.version)
        self._tx.write(info, key, None)


def _refers(indexes: TableIndexes, field: str, key: UUID, itself: UUID | None) -> bool:
    """Whether a row of the table other than ``itself`` holds ``key`` in ``field``."""
    index = indexes.equality(field)
    if index is None:  # pragma: no cover - reference fields are always hashable
        return any(getattr(r, field) == key for r in indexes.rows.values())
    held = index.count(key)
    if itself is not None and getattr(indexes.rows.get(itself), field, None) == key:
        held -= 1
    return held > 0
