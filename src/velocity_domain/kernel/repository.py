"""The storage ports: what a store must offer for each table, and for a transaction.

A store adapter (in memory, PostgreSQL, or a host's own) implements
:class:`Store`; everything above it — the domain repositories, the unit of
work, the services — is written once against these protocols. The contract
suite in :mod:`velocity_domain.testing` checks an adapter against them.

Tables of append-only rows (evidence, history, audit) offer no update; rows
are deleted only where an entity class says ``deletable = True``.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

from velocity_domain.errors import ValidationFailed
from velocity_domain.kernel.model import Entity, VersionedEntity
from velocity_domain.kernel.pagination import MAX_PAGE_SIZE, CursorCodec, Page
from velocity_domain.kernel.query import Filter, Query, SortKey

__all__ = [
    "AppendTable",
    "MutableTable",
    "ReadTable",
    "Store",
    "StoreTransaction",
    "every",
]

E = TypeVar("E", bound=Entity)
P = TypeVar("P")
V = TypeVar("V", bound=VersionedEntity)


#: The most values one :meth:`ReadTable.where_in` lookup takes.
MAX_LOOKUP = 10_000


def check_lookup(field: str, values: Collection[Any]) -> list[Any]:
    """The distinct values of a ``where_in`` lookup, or ``ValidationFailed`` for too many."""
    distinct = list(dict.fromkeys(values))
    if len(distinct) > MAX_LOOKUP:
        raise ValidationFailed(field, f"a lookup takes at most {MAX_LOOKUP} values")
    return distinct


class ReadTable(Protocol[E]):
    """Reads of one table."""

    def get(self, key: UUID) -> E:
        """Return the row with primary key ``key``; raise ``NotFound`` if there is none."""
        ...

    def find(self, key: UUID) -> E | None:
        """Return the row with primary key ``key``, or ``None``."""
        ...

    def get_many(self, keys: Iterable[UUID]) -> Mapping[UUID, E]:
        """Return the rows whose keys are in ``keys`` (missing keys are left out), in one read."""
        ...

    def list(self, query: Query = ...) -> Page[E]:
        """Return one page of the rows matching ``query``, in its order."""
        ...

    def where_in(self, field: str, values: Collection[Any], *also: Filter) -> builtins.list[E]:
        """Return every row whose ``field`` is one of ``values`` and that matches ``also``.

        A bulk lookup by a batch of values (at most :data:`MAX_LOOKUP` of
        them), as :meth:`get_many` is by keys: one statement, served by the
        index of ``field``, rows in no particular order and not paged.
        """
        ...

    def count(self, *where: Filter) -> int:
        """Return how many rows match every filter in ``where``."""
        ...

    def count_by(self, field: str, *where: Filter) -> dict[Any, int]:
        """Return how many rows match every filter in ``where``, by their value of ``field``.

        One statement (``GROUP BY``); values no row holds are absent.
        """
        ...


def every(table: ReadTable[E], *where: Filter, order: Sequence[SortKey] = ()) -> Iterator[E]:
    """Every row of ``table`` matching ``where``, in ``order`` (default: by key), page by page.

    For reads that need all of a bounded set (a client's deals, a run's
    branches): one statement per page of :data:`MAX_PAGE_SIZE` rows.
    """
    cursor: str | None = None
    while True:
        page = table.list(Query(where, tuple(order), MAX_PAGE_SIZE, cursor))
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


class AppendTable(ReadTable[E], Protocol[E]):
    """A table whose rows are written once (evidence, history, audit)."""

    def add(self, entity: E) -> E:
        """Insert ``entity``; a broken rule raises ``AlreadyExists`` or ``ConstraintViolation``."""
        ...

    def add_many(self, entities: Sequence[E]) -> None:
        """Insert every entity in one round trip; all or none."""
        ...

    def relink(self, field: str, moves: Sequence[tuple[UUID, UUID, UUID]]) -> set[UUID]:
        """Point the reference ``field`` of each row from one record to another, if unchanged.

        ``moves`` holds ``(key, old, new)``: the row ``key`` gets ``new`` only
        while its ``field`` still holds ``old``. The one change the rows of an
        append-only table take: a merge moving a person's rows to the
        survivor, and its undo moving them back. A versioned row goes up one
        version. Returns the keys changed; a fixed handful of statements
        however many rows. ``field`` must be a reference (an id) field.
        """
        ...

    def delete(self, key: UUID, *, expected_version: int | None = None) -> None:
        """Remove a row, only for entity classes marked ``deletable``.

        Raises ``NotFound`` for a missing row, ``ConcurrencyConflict`` if a
        versioned row's version differs from ``expected_version``, and
        ``ConstraintViolation`` when the class is not deletable or another
        row still refers to this one.
        """
        ...


class MutableTable(AppendTable[V], Protocol[V]):
    """A table of mutable canonical rows with optimistic concurrency."""

    def update(self, entity: V, *, expected_version: int | None = None) -> V:
        """Store ``entity`` over the row with the same key and return what was stored.

        The update succeeds only if the stored version equals
        ``expected_version`` (default: ``entity.version``); the stored row then
        has ``version + 1`` and ``updated_at`` from the store's clock, and keeps
        its ``created_at``. A stale version raises ``ConcurrencyConflict``
        naming both versions; a missing row raises ``NotFound``.
        """
        ...

    def update_if(
        self, key: UUID, values: Mapping[str, Any], *, where: Sequence[Filter] = ()
    ) -> V | None:
        """Set ``values`` on the row ``key`` if it matches every filter of ``where``: one statement.

        A compare-and-set: the row's version goes up by one and ``updated_at``
        comes from the store's clock, as with :meth:`update`. Returns the row
        as stored, or ``None`` when there is no such row or it does not match
        (nothing is written then). The row that results is checked as a
        whole: a value that breaks a rule raises ``ValidationFailed``.
        """
        ...

    def update_many(self, changes: Sequence[tuple[UUID, int, Mapping[str, Any]]]) -> set[UUID]:
        """Set fields on many rows at once, each only if its version is still the one given.

        ``changes`` holds ``(key, expected version, {field: value})``; the
        values are ones the caller built from validated entities. Each row
        updated goes up one version and gets ``updated_at`` from the store's
        clock. Returns the keys updated: a row missing or at another version
        is left alone and its key is not returned. A fixed handful of
        statements, whatever the number of rows.
        """
        ...

    def remove_unreferenced(self, keys: Sequence[tuple[UUID, int]]) -> set[UUID]:
        """Delete the rows among ``(key, version)`` still at that version that no row refers to.

        The undo of an import: a row it created is removed only while nothing
        changed it and nothing points to it. Returns the keys removed; the
        others are left alone. Unlike :meth:`delete` it serves every mutable
        table, because it removes only what nothing else has seen.
        """
        ...


class StoreTransaction(Protocol):
    """One open transaction on a store."""

    def table(self, cls: type[E]) -> AppendTable[E]:
        """Return the table of entity class ``cls`` inside this transaction."""
        ...

    def mutable(self, cls: type[V]) -> MutableTable[V]:
        """Return the table of the mutable entity class ``cls`` inside this transaction."""
        ...

    def commit(self) -> None:
        """Make every change of this transaction permanent and end it."""
        ...

    def rollback(self) -> None:
        """Undo every change of this transaction and end it."""
        ...

    def extension(self, port: type[P]) -> P | None:
        """The store's own way of doing a bulk step (``port``), or ``None`` for the generic one.

        A store may answer a whole step of a bulk job in its own terms (one
        set-based statement on PostgreSQL) where the generic code would go
        row by row; the result must be the same as the generic path's.
        """
        ...


class TableStatistics(Protocol):
    """A store's planner statistics, refreshed after a bulk load (an extension port).

    A bulk job that has just written many rows asks for it so that the next
    steps' queries are planned for the table as it now is, not as it was.
    """

    def refresh(self, *classes: type[Entity]) -> None:
        """Refresh the statistics of the tables of ``classes``."""
        ...


class Store(Protocol):
    """A place canonical rows live: hands out transactions."""

    #: Signs and checks the keyset cursors of this store's listings.
    codec: CursorCodec

    def begin(self, *, read_only: bool = False) -> StoreTransaction:
        """Open a transaction.

        A ``read_only`` one refuses every write (``UnitOfWorkError``); a store
        may then run its statements without a transaction of its own
        (PostgreSQL: in autocommit, which spares the BEGIN and ROLLBACK round
        trips), so each statement sees the data committed when it runs.
        """
        ...

    def close(self) -> None:
        """Release the store's resources (connections, pools)."""
        ...


def mutable_table(transaction: StoreTransaction, cls: type[V]) -> MutableTable[V]:
    """The table of ``cls`` in ``transaction``, refusing an append-only entity class.

    The one rule behind every store's ``mutable``: evidence and history rows
    (no ``version``) have no ``update``.
    """
    if not issubclass(cls, VersionedEntity):
        raise ValidationFailed("entity", f"{cls.__name__} rows are append-only")
    return cast("MutableTable[V]", transaction.table(cls))
