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
    """The texts of one column for consecutive rows, end to end, and the characters used."""

    __slots__ = ("chars", "starts", "text")

    def __init__(self, texts: Sequence[str]) -> None:
        starts = array("q")
        at = 0
        for text in texts:
            starts.append(at)
            at += len(text) + 1
        self.starts = starts
        self.text = _END.join(texts) + _END if texts else ""
        self.chars = frozenset(self.text)

    def hits(self, needle: str, lo: int, hi: int) -> Iterator[int]:
        """Yield, in order, the positions in ``[lo, hi)`` of rows whose text holds ``needle``."""
        starts, text = self.starts, self.text
        if lo >= hi:
            return
        end = starts[hi] if hi < len(starts) else len(text)
        at = text.find(needle, starts[lo], end)
        while at != -1:
            row = bisect_right(starts, at) - 1
            yield row
            row += 1
            if row >= hi:
                return
            at = text.find(needle, starts[row], end)


class RunTexts:
    """The searchable texts of consecutive rows, a :class:`RunText` per column.

    A column whose characters do not include all of the needle's is skipped
    unread (letters are never looked for among phone numbers, say).
    """

    __slots__ = ("columns",)

    def __init__(self, rows: Sequence[Sequence[str]], width: int) -> None:
        self.columns = [RunText([texts[i] for texts in rows]) for i in range(width)]

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
                found.update(column.hits(needle, 0, len(column.starts)))
        return len(found)

    def count(self, needle: str, chars: frozenset[str]) -> int:
        """Return how often ``needle`` occurs (an estimate of the rows holding it)."""
        return sum(c.text.count(needle) for c in self.columns if chars <= c.chars)
