r"""Substring search without checking every row: the text of a run of rows, end to end.

A row's searchable texts are the ASCII-lowered values of the searched
columns. A :class:`RunText` keeps one column's texts for consecutive rows end
to end, each ended by "\x00", with an offsets array that says which row a
hit belongs to, so ``str.find`` passes over the rows that do not match at C
speed. Text fields refuse control characters, so a needle without them never
spans two values; a needle with them, or an empty one, is left to row checks.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate
from operator import attrgetter
from typing import Any

from velocity_domain.adapters.memory.evaluate import ascii_lower
from velocity_domain.kernel.query import plain

__all__ = ["RunText", "RunTexts", "TextReader", "searchable"]

_END = "\x00"


def searchable(needle: str) -> bool:
    """Say whether a (lowered) needle can be looked for in a :class:`RunText`."""
    return bool(needle) and _END not in needle


class TextReader:
    """Returns the searchable texts of a row, one per column (``""`` where a value is no text)."""

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = tuple(fields)
        names = self.fields
        self._get = attrgetter(*names) if len(names) > 1 else lambda row: (getattr(row, names[0]),)

    def __call__(self, row: Any) -> list[str]:
        """Return the searchable texts of ``row``."""
        texts = []
        for value in self._get(row):
            if type(value) is not str:
                value = plain(value)  # noqa: PLW2901 - an enum member holds its text
            texts.append(ascii_lower(value) if isinstance(value, str) else "")
        return texts


class RunText:
    """The texts of one column for consecutive rows, end to end, and the characters used.

    A write to one row patches the text in place (a slice and a join at C
    speed) rather than rebuilding it; ``chars`` may then hold characters no
    row holds any more, which only costs a needless read.
    """

    __slots__ = ("_starts", "chars", "lengths", "text")

    def __init__(self, texts: Sequence[str]) -> None:
        self.lengths = array("q", [len(text) + 1 for text in texts])
        self.text = _END.join(texts) + _END if texts else ""
        self.chars = frozenset(self.text)
        self._starts: array[int] | None = None

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def starts(self) -> array[int]:
        """Where each row's text starts, and where the last one ends."""
        if self._starts is None:
            self._starts = array("q", accumulate(self.lengths, initial=0))
        return self._starts

    def _cut(self, at: int) -> int:
        # Summing the lengths before ``at`` is cheaper than redoing every start.
        return self._starts[at] if self._starts is not None else sum(self.lengths[:at])

    def insert(self, at: int, text: str) -> None:
        """Put the text of a new row before position ``at``."""
        cut = self._cut(at)
        self.text = f"{self.text[:cut]}{text}{_END}{self.text[cut:]}"
        self.lengths.insert(at, len(text) + 1)
        self._changed(text)

    def delete(self, at: int) -> None:
        """Take out the text of the row at position ``at``."""
        cut = self._cut(at)
        self.text = self.text[:cut] + self.text[cut + self.lengths[at] :]
        del self.lengths[at]
        self._starts = None

    def replace(self, at: int, text: str) -> None:
        """Replace the text of the row at position ``at``."""
        cut = self._cut(at)
        self.text = f"{self.text[:cut]}{text}{_END}{self.text[cut + self.lengths[at] :]}"
        self.lengths[at] = len(text) + 1
        self._changed(text)

    def _changed(self, text: str) -> None:
        self._starts = None
        if not self.chars.issuperset(text):
            self.chars = self.chars.union(text)

    def hits(self, needle: str, lo: int, hi: int) -> Iterator[int]:
        """Yield, in order, the positions in ``[lo, hi)`` of rows whose text holds ``needle``."""
        if lo >= hi:
            return
        starts, text = self.starts, self.text
        end = starts[hi]
        at = text.find(needle, starts[lo], end)
        while at != -1:
            row = bisect_right(starts, at) - 1
            yield row
            row += 1
            if row >= hi:
                return
            at = text.find(needle, starts[row], end)


class RunTexts:
    """The searchable texts of consecutive rows (read by ``reader``), a :class:`RunText` per column.

    A column whose characters do not include all of the needle's is skipped
    unread (letters are never looked for among phone numbers, say).
    """

    __slots__ = ("columns", "patches", "reader")

    def __init__(self, reader: TextReader, rows: Sequence[Any]) -> None:
        self.reader = reader
        self.patches = 0
        texts = [reader(row) for row in rows]
        self.columns = [RunText([t[i] for t in texts]) for i in range(len(reader.fields))]

    def insert(self, at: int, row: Any) -> None:
        """Put a new row before position ``at``."""
        self.patches += 1
        for column, text in zip(self.columns, self.reader(row), strict=True):
            column.insert(at, text)

    def delete(self, at: int) -> None:
        """Take out the row at position ``at``."""
        self.patches += 1
        for column in self.columns:
            column.delete(at)

    def replace(self, at: int, row: Any) -> None:
        """Replace the row at position ``at`` with ``row``."""
        self.patches += 1
        for column, text in zip(self.columns, self.reader(row), strict=True):
            column.replace(at, text)

    def hits(self, needle: str, chars: frozenset[str], lo: int, hi: int) -> Iterator[int]:
        """Yield, in order and once each, the positions in ``[lo, hi)`` of rows holding ``needle``.

        ``chars`` is ``frozenset(needle)``, made once per search. Columns are
        read lazily, so a reader that stops early leaves the rest unread.
        """
        usable = [c.hits(needle, lo, hi) for c in self.columns if chars <= c.chars]
        if len(usable) == 1:
            yield from usable[0]
            return
        last = -1
        for row in heapq.merge(*usable):
            if row != last:
                yield row
                last = row

    def rows_holding(self, needle: str, chars: frozenset[str]) -> int:
        """Return how many rows hold ``needle`` (the order of the hits does not matter)."""
        found: set[int] = set()
        for column in self.columns:
            if chars <= column.chars:
                found.update(column.hits(needle, 0, len(column)))
        return len(found)

    def count(self, needle: str, chars: frozenset[str]) -> int:
        """Return how often ``needle`` occurs (an estimate of the rows holding it)."""
        return sum(c.text.count(needle) for c in self.columns if chars <= c.chars)
