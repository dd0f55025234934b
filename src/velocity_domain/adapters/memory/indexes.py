"""The indexes of the in-memory store's tables: hash indexes for equality, sorted ones for orders.

Each table gets a :class:`TableIndexes`. An index (a :class:`HashIndex`, a
:class:`.ordered.SortedIndex`) is built the first time a read needs it and
from then on kept right by :meth:`TableIndexes.change`, which the store calls
for every write, undo included, so reads inside a transaction see its own
writes. An index that cannot hold a value (an unhashable one, say) is dropped
and the read falls back to checking rows.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from operator import attrgetter
from typing import Any

from velocity_domain.adapters.memory.evaluate import Ordering
from velocity_domain.adapters.memory.ordered import SortedIndex
from velocity_domain.adapters.memory.search import TextReader
from velocity_domain.kernel.query import SortKey, plain
from velocity_domain.kernel.tableinfo import TableInfo

__all__ = ["HashIndex", "TableIndexes"]

_MISSING: Any = object()


class HashIndex:
    """Rows by the value ``read`` returns for them (``many``: by each of its values).

    A value maps to the ``(key, row)`` of the one row holding it, or to a dict
    of key to row when several do, so a lookup hands back the rows themselves.
    """

    def __init__(self, read: Callable[[Any], Any], *, many: bool = False) -> None:
        self._read = read
        self._many = many
        self._map: dict[Any, Any] = {}

    def _values(self, row: Any) -> Iterable[Any]:
        value = self._read(row)
        if not self._many:
            return (value,)
        if value is None:
            return ()
        if not isinstance(value, tuple | list | set | frozenset):
            raise TypeError(f"cannot index the labels of a {type(value).__name__}")
        return set(value)

    def build(self, rows: Iterable[tuple[Hashable, Any]]) -> None:
        """Index every ``(key, row)`` pair."""
        self._map.clear()
        for key, row in rows:
            self._add(key, row)

    def _add(self, key: Hashable, row: Any) -> None:
        found = self._map
        for value in self._values(row):
            held = found.get(value, _MISSING)
            if held is _MISSING:
                found[value] = (key, row)
            elif type(held) is dict:
                held[key] = row
            else:
                found[value] = {held[0]: held[1], key: row}

    def _remove(self, key: Hashable, row: Any) -> None:
        found = self._map
        for value in self._values(row):
            held = found.get(value, _MISSING)
            if type(held) is dict:
                held.pop(key, None)
                if len(held) == 1:
                    found[value] = next(iter(held.items()))
            elif held is not _MISSING and held[0] == key:
                del found[value]

    def change(self, key: Hashable, old: Any, new: Any) -> None:
        """Follow one write: ``old`` and ``new`` are the row before and after (or ``None``)."""
        if old is not None and new is not None and self._read(old) == self._read(new):
            found = self._map
            for value in self._values(new):
                held = found[value]
                if type(held) is dict:
                    held[key] = new
                else:
                    found[value] = (key, new)
            return
        if old is not None:
            self._remove(key, old)
        if new is not None:
            self._add(key, new)

    def count(self, value: Any) -> int:
        """Return how many rows hold ``value`` (raises ``TypeError`` if it is unhashable)."""
        held = self._map.get(value, _MISSING)
        if held is _MISSING:
            return 0
        return len(held) if type(held) is dict else 1

    def rows(self, value: Any) -> Mapping[Hashable, Any]:
        """Return the rows that hold ``value``, by key (merging these dicts rehashes nothing)."""
        held = self._map.get(value, _MISSING)
        if held is _MISSING:
            return {}
        return held if type(held) is dict else {held[0]: held[1]}

    def items(self, value: Any) -> Iterable[tuple[Hashable, Any]]:
        """Return the ``(key, row)`` pairs of the rows that hold ``value``."""
        held = self._map.get(value, _MISSING)
        if held is _MISSING:
            return ()
        return held.items() if type(held) is dict else (held,)


class TableIndexes:
    """The indexes of one table, each made on first use and kept right on every write."""

    def __init__(self, info: TableInfo, rows: dict[Any, Any]) -> None:
        self.info = info
        self.rows = rows
        self._hash: dict[tuple[str, tuple[str, ...]], HashIndex] = {}
        self._unusable: set[tuple[str, tuple[str, ...]]] = set()
        self._sorted: dict[tuple[SortKey, ...], SortedIndex] = {}
        self._readers: dict[tuple[str, ...], TextReader] = {}

    def _hashed(
        self, name: tuple[str, tuple[str, ...]], read: Callable[[Any], Any]
    ) -> HashIndex | None:
        index = self._hash.get(name)
        if index is not None or name in self._unusable:
            return index
        index = HashIndex(read, many=name[0] == "labels")
        try:
            index.build(self.rows.items())
        except TypeError:
            self._unusable.add(name)
            return None
        self._hash[name] = index
        return index

    def equality(self, field: str) -> HashIndex | None:
        """Return the hash index of ``field`` (``None`` if its values cannot be hashed)."""
        spec = self.info.specs.get(field)
        if spec is not None and spec.kind == "json":
            return None
        get = attrgetter(field)
        return self._hashed(("eq", (field,)), lambda row: plain(get(row)))

    def labels(self, field: str) -> HashIndex | None:
        """Return the index of a labels field by each label it holds."""
        return self._hashed(("labels", (field,)), attrgetter(field))

    def composite(self, columns: tuple[str, ...]) -> HashIndex | None:
        """Return the index of ``columns`` taken together (for composite references)."""
        get = attrgetter(*columns) if len(columns) > 1 else lambda row: (getattr(row, columns[0]),)
        return self._hashed(("composite", columns), get)

    def has_sorted(self, order: tuple[SortKey, ...]) -> bool:
        """Say whether the sorted index of ``order`` exists already."""
        return order in self._sorted

    def sorted(self, order: tuple[SortKey, ...]) -> SortedIndex:
        """Return the sorted index of ``order``, building it on first use."""
        index = self._sorted.get(order)
        if index is None:
            index = SortedIndex(Ordering(order), self.rows)
            index.build()
            self._sorted[order] = index
        return index

    def any_sorted(self) -> SortedIndex:
        """Return some sorted index of the table (by key if there is none yet)."""
        for index in self._sorted.values():
            return index
        return self.sorted((SortKey(self.info.key_field),))

    def reader(self, fields: tuple[str, ...]) -> TextReader:
        """Return the searchable-text reader of ``fields`` (one object per field tuple)."""
        reader = self._readers.get(fields)
        if reader is None:
            reader = self._readers[fields] = TextReader(fields)
        return reader

    def change(self, key: Hashable, old: Any, new: Any) -> None:
        """Follow one write to the table's rows (``None``: no row before, or after)."""
        for name, index in list(self._hash.items()):
            try:
                index.change(key, old, new)
            except TypeError:
                # It cannot hold this value: drop it; reads fall back to checking rows.
                del self._hash[name]
                self._unusable.add(name)
        for order, ordered in list(self._sorted.items()):
            try:
                ordered.change(key, old, new)
            except TypeError:
                del self._sorted[order]  # rebuilt (and failing as a sort would) when next read
