"""A sorted index: every row of a table in one order, in blocks, searchable block by block.

Entries are ``(sortable tuple, key)`` (see :class:`.evaluate.Ordering`) kept
in blocks of about a thousand with each block's largest entry beside it, so a
cursor or a range bound is found with two bisects and a write moves at most a
block's worth of pointers. A block also keeps, on demand, the searchable text
of its rows (:class:`.search.RunTexts`) and their keys' fingerprints, so a
page with a substring or key filter walks the order at C speed; a write
patches them in place.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Hashable, Iterator, Mapping, Sequence, Set
from operator import itemgetter
from typing import Any

from velocity_domain.adapters.memory.evaluate import Ordering
from velocity_domain.adapters.memory.search import RunTexts, TextReader
from velocity_domain.kernel.query import Range

__all__ = ["Entry", "Position", "SortedIndex", "fingerprint", "number_print"]

Entry = tuple[tuple[Any, ...], Hashable]
Position = tuple[int, int]
"""A place in a sorted index: a block and an offset in it."""

_LOAD = 1024
_PATCHES = 64
_sortable = itemgetter(0)
_LOW_BITS = (1 << 63) - 1


def fingerprint(key: Any) -> int:
    """Return 63 bits of a UUID key: what a walk compares keys by, in an array."""
    return int(key.int & _LOW_BITS)


def number_print(number: int) -> int:
    """Return the fingerprint of the UUID whose integer is ``number``."""
    return number & _LOW_BITS


class _Cache:
    """What a block keeps about its rows, made on demand: texts and key fingerprints."""

    __slots__ = ("prints", "texts")

    def __init__(self) -> None:
        self.texts: dict[tuple[str, ...], RunTexts] = {}
        self.prints: array[int] | None = None

    def patched(self) -> list[RunTexts]:
        """Return the texts to patch for one more write, dropping any patched too often.

        Many writes to one block (a bulk load) cost less as one rebuild at the next read.
        """
        for fields, text in list(self.texts.items()):
            if text.patches >= _PATCHES:
                del self.texts[fields]
        return list(self.texts.values())


def _first_part(entry: Entry) -> Any:
    return entry[0][0]


class SortedIndex:
    """Every row of a table as ``(sortable tuple, key)``, in the order of an :class:`Ordering`."""

    def __init__(self, ordering: Ordering, rows: Mapping[Hashable, Any]) -> None:
        self.ordering = ordering
        self._rows = rows
        self._blocks: list[list[Entry]] = []
        self._maxes: list[tuple[Any, ...]] = []
        self._caches: list[_Cache] = []

    def build(self) -> None:
        """Index every row of the table."""
        of_row = self.ordering.of_row
        entries = sorted(((of_row(row), key) for key, row in self._rows.items()), key=_sortable)
        self._blocks = [entries[i : i + _LOAD] for i in range(0, len(entries), _LOAD)]
        self._maxes = [block[-1][0] for block in self._blocks]
        self._caches = [_Cache() for _ in self._blocks]

    # -- writes -------------------------------------------------------------

    def change(self, key: Hashable, old: Any, new: Any) -> None:
        """Follow one write: ``old`` and ``new`` are the row before and after (or ``None``)."""
        of_row = self.ordering.of_row
        before = None if old is None else of_row(old)
        after = None if new is None else of_row(new)
        if before is not None and before == after:
            self._rewrite(before, key, new)
            return
        if before is not None:
            self._remove(before, key)
        if after is not None:
            self._insert((after, key), new)

    def _locate(self, sortable: tuple[Any, ...], key: Hashable) -> tuple[int, int]:
        at = bisect_left(self._maxes, sortable)
        block = self._blocks[at] if at < len(self._blocks) else []
        offset = bisect_left(block, sortable, key=_sortable)
        if offset == len(block) or block[offset][1] != key:
            raise LookupError(f"the sorted index lost the row {key}")  # pragma: no cover
        return at, offset

    def _rewrite(self, sortable: tuple[Any, ...], key: Hashable, row: Any) -> None:
        at, offset = self._locate(sortable, key)
        for text in self._caches[at].patched():
            text.replace(offset, row)

    def _insert(self, entry: Entry, row: Any) -> None:
        blocks, maxes = self._blocks, self._maxes
        if not blocks:
            blocks.append([entry])
            maxes.append(entry[0])
            self._caches.append(_Cache())
            return
        at = min(bisect_left(maxes, entry[0]), len(blocks) - 1)
        block = blocks[at]
        offset = bisect_right(block, entry[0], key=_sortable)
        block.insert(offset, entry)
        maxes[at] = block[-1][0]
        if len(block) > 2 * _LOAD:
            half = len(block) // 2
            blocks[at : at + 1] = [block[:half], block[half:]]
            maxes[at : at + 1] = [block[half - 1][0], block[-1][0]]
            self._caches[at : at + 1] = [_Cache(), _Cache()]
            return
        cache = self._caches[at]
        if cache.prints is not None:
            cache.prints.insert(offset, fingerprint(entry[1]))
        for text in cache.patched():
            text.insert(offset, row)

    def _remove(self, sortable: tuple[Any, ...], key: Hashable) -> None:
        blocks, maxes = self._blocks, self._maxes
        at, offset = self._locate(sortable, key)
        block = blocks[at]
        del block[offset]
        if not block:
            del blocks[at], maxes[at], self._caches[at]
            return
        maxes[at] = block[-1][0]
        if len(block) < _LOAD // 4 and at + 1 < len(blocks):
            block.extend(blocks[at + 1])
            del blocks[at + 1], maxes[at + 1], self._caches[at + 1]
            maxes[at] = block[-1][0]
            self._caches[at] = _Cache()
            return
        cache = self._caches[at]
        if cache.prints is not None:
            del cache.prints[offset]
        for text in cache.patched():
            text.delete(offset)

    # -- positions ----------------------------------------------------------

    @property
    def end(self) -> Position:
        """Return the position after the last entry."""
        return (len(self._blocks), 0)

    def _find(self, value: Any, *, after: bool, first_part: bool) -> Position:
        find = bisect_right if after else bisect_left
        at = find(self._maxes, value, key=_sortable if first_part else None)
        if at == len(self._blocks):
            return self.end
        return (at, find(self._blocks[at], value, key=_first_part if first_part else _sortable))

    def after(self, values: Sequence[Any]) -> Position:
        """Return the position of the first entry after the sort-key ``values`` (a cursor)."""
        return self._find(self.ordering.of_values(values), after=True, first_part=False)

    def bounds(self, ranges: Sequence[Range]) -> tuple[Position, Position]:
        """Return the positions ``[lo, hi)`` that ``ranges`` on the first sort key allow."""
        lo, hi = (0, 0), self.end
        first = self.ordering.first
        for item in ranges:
            low = ((item.gte, False), (item.gt, True))
            high = ((item.lte, True), (item.lt, False))
            if self.ordering.order[0].descending:
                # In the sortable form a descending key's lower bounds are upper ones.
                low = ((item.lte, False), (item.lt, True))
                high = ((item.gte, True), (item.gt, False))
            for bound, after in low:
                if bound is not None:
                    lo = max(lo, self._find(first(bound), after=after, first_part=True))
            for bound, after in high:
                if bound is not None:
                    hi = min(hi, self._find(first(bound), after=after, first_part=True))
        return lo, max(lo, hi)

    def span(self, lo: Position, hi: Position) -> int:
        """Return how many entries lie in ``[lo, hi)``."""
        if lo >= hi:
            return 0
        if lo[0] == hi[0]:
            return hi[1] - lo[1]
        inner = sum(len(b) for b in self._blocks[lo[0] + 1 : hi[0]])
        last = hi[1] if hi[0] < len(self._blocks) else 0
        return len(self._blocks[lo[0]]) - lo[1] + inner + last

    # -- reading ------------------------------------------------------------

    def _stretches(self, lo: Position, hi: Position) -> Iterator[tuple[int, int, int]]:
        """Yield ``(block, first offset, end offset)`` covering ``[lo, hi)``."""
        block, offset = lo
        while (block, offset) < hi:
            end = hi[1] if block == hi[0] else len(self._blocks[block])
            yield block, offset, end
            block, offset = block + 1, 0

    def keys(
        self, lo: Position, hi: Position, *, among: Set[int] | None = None
    ) -> Iterator[Hashable]:
        """Yield the keys of the entries in ``[lo, hi)``, in order.

        With ``among`` (fingerprints, see :func:`fingerprint`), only the keys
        whose fingerprint it holds, and perhaps a rare stranger: check the rows.
        Fingerprints sit in an array per block, so skipping a row touches no object.
        """
        for block, start, end in self._stretches(lo, hi):
            entries = self._blocks[block]
            if among is None:
                for offset in range(start, end):
                    yield entries[offset][1]
                continue
            cache = self._caches[block]
            prints = cache.prints
            if prints is None:
                prints = cache.prints = array("q", [fingerprint(e[1]) for e in entries])
            hits = [j for j, p in enumerate(prints[start:end], start) if p in among]
            for offset in hits:
                yield entries[offset][1]

    def _text(self, block: int, reader: TextReader) -> RunTexts:
        texts = self._caches[block].texts
        text = texts.get(reader.fields)
        if text is None:
            rows = self._rows
            found = [rows[k] for _, k in self._blocks[block]]
            text = texts[reader.fields] = RunTexts(reader, found)
        return text

    def holding(
        self, lo: Position, hi: Position, reader: TextReader, needle: str
    ) -> Iterator[Hashable]:
        """Yield, in order, the keys in ``[lo, hi)`` whose text (by ``reader``) holds ``needle``."""
        chars = frozenset(needle)
        for block, start, end in self._stretches(lo, hi):
            entries = self._blocks[block]
            for offset in self._text(block, reader).hits(needle, chars, start, end):
                yield entries[offset][1]

    def count_holding(self, reader: TextReader, needle: str) -> int:
        """Return how many rows' text (by ``reader``) holds ``needle``."""
        chars = frozenset(needle)
        return sum(
            self._text(b, reader).rows_holding(needle, chars) for b in range(len(self._blocks))
        )

    def share(self, reader: TextReader, needle: str, samples: int = 8) -> float:
        """Estimate the share of rows whose text holds ``needle`` from a few spread blocks."""
        count = len(self._blocks)
        if not count:
            return 0.0
        chars = frozenset(needle)
        picked = sorted({i * count // samples for i in range(samples)})
        found = sum(self._text(b, reader).count(needle, chars) for b in picked)
        rows = sum(len(self._blocks[b]) for b in picked)
        return min(1.0, found / max(rows, 1))
