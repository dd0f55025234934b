r"""CSV text as rows: the delimiter, the header row, and records that cannot run away.

The :mod:`csv` module does the splitting; :class:`LineFeed` stands between it
and the decoded lines. It counts physical lines (for messages), notices NUL
bytes and undecodable bytes on the way (so only the rare row holding one is
examined cell by cell), and bounds a quoted field: when one runs past
:data:`MAX_RECORD_LINES` lines, past ``max_cell_chars`` characters or to the
end of the file, the record is abandoned as an unclosed quote and reading
resumes on the line after the one where the quote opened, so the good rows
that follow still come through. A record spanning several lines that ends
with the wrong number of fields is taken the same way: a stray quote that
paired with a quote some lines on, swallowing the rows between.

>>> rows = parse_lines(['Name,Note\n', 'Ana,"a\n', 'b"\n', 'Ravi,"oops\n', 'Mia,ok\n'])
>>> [(line, fields) for line, fields in rows]
[(1, ['Name', 'Note']), (2, ['Ana', 'a\nb']), (4, None), (5, ['Mia', 'ok'])]
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from velocity_domain.errors import UnreadableImport
from velocity_domain.imports.encodings import NUL_MARK, cell_problems, clean_text

__all__ = [
    "DELIMITERS",
    "MAX_RECORD_LINES",
    "LineFeed",
    "clean_headers",
    "csv_rows",
    "looks_like_data",
    "parse_lines",
    "read_header",
    "sniff_delimiter",
]

#: The delimiters sniffed, in order of preference when the evidence ties.
DELIMITERS = (",", ";", "\t", "|")

#: A quoted field spanning more physical lines than this is taken for an unclosed quote.
MAX_RECORD_LINES = 1000

_SNIFF_RECORDS = 100
_FIELD_LIMIT = 2**31 - 1  # the largest the C long of every platform holds
_SUSPECT = re.compile("[\ud800-\udfff\uffff]")
_R = TypeVar("_R")

# Cells that are data, not column names: an email, a phone number or any
# number, a date. A header row never consists of these alone.
_DATA_CELL = re.compile(
    r"[^@\s]+@[^@\s]+\.[^@\s]+"
    r"|\+?[\d\s().\-/]*\d[\d\s().\-/]*"
    r"|[+-]?\d+(?:[.,]\d+)*"
)
_STRONG_DATA = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+|(?:\D*\d){7}")


class _Unclosed(Exception):
    """Raised from inside csv.reader's line source to abandon a runaway quoted field."""


class LineFeed:
    """The line source handed to :func:`csv.reader`, watching each record as it grows.

    After each record the reader yields, ``start`` is the physical line it
    began on, ``held`` its lines, ``size`` their length in characters and
    ``suspect`` whether one held a NUL or an undecodable byte.
    """

    __slots__ = ("_lines", "_replay", "held", "max_chars", "next_line", "size", "start", "suspect")

    def __init__(self, lines: Iterator[str], max_chars: int) -> None:
        self._lines = lines
        self.max_chars = max_chars
        self._replay: list[str] = []
        self.held: list[str] = []
        self.next_line = 1
        self.start = 1
        self.size = 0
        self.suspect = False

    def __iter__(self) -> LineFeed:
        return self

    def __next__(self) -> str:
        held = self.held
        if held and (len(held) >= MAX_RECORD_LINES or self.size - len(held[0]) > self.max_chars):
            raise _Unclosed
        if self._replay:
            line = self._replay.pop()
        else:
            got = next(self._lines, None)
            if got is None:
                if held:
                    raise _Unclosed
                raise StopIteration
            line = got.replace("\x00", NUL_MARK) if "\x00" in got else got
        if not line.isascii() and _SUSPECT.search(line) is not None:
            self.suspect = True
        if not held:
            self.start = self.next_line
        self.next_line += 1
        held.append(line)
        self.size += len(line)
        return line

    def rewind(self) -> None:
        """Serve again the lines after the current record's first (its quote was a stray one)."""
        self._replay.extend(reversed(self.held[1:]))
        self.next_line = self.start + 1

    def _reset(self) -> None:
        self.held.clear()
        self.size = 0
        self.suspect = False

    def records(self, delimiter: str) -> Iterator[list[str] | None]:
        """Yield each record's fields, or None for a record abandoned as an unclosed quote.

        While a None is being handled, ``held[0]`` is the line the quote
        opened on; the lines after it are then read again.
        """
        if csv.field_size_limit() < _FIELD_LIMIT:
            csv.field_size_limit(_FIELD_LIMIT)  # the feed bounds fields itself
        held = self.held
        while True:
            reader = csv.reader(self, delimiter=delimiter, strict=False)
            try:
                for fields in reader:
                    yield fields
                    held.clear()
                    self.size = 0
                    self.suspect = False
            except _Unclosed:
                yield None
                self.rewind()
                self._reset()
            else:
                return


def parse_lines(
    lines: Iterable[str], delimiter: str = ",", max_chars: int = 1_000_000
) -> Iterator[tuple[int, list[str] | None]]:
    """Yield ``(line, fields)`` for every record of ``lines`` (None for an unclosed quote)."""
    feed = LineFeed(iter(lines), max_chars)
    for fields in feed.records(delimiter):
        yield feed.start, fields


def _blank(fields: list[str]) -> bool:
    return all(not cell or cell.isspace() for cell in fields)


def sniff_delimiter(sample: str, complete: bool) -> str:
    r"""Return the delimiter of CSV text from its leading ``sample``.

    Each candidate splits the first records with the :mod:`csv` module
    (so quoted text is never counted); the winner is the one that gives the
    header at least two fields and the most records with as many fields as
    the header, then the most fields. Text no candidate splits is a
    one-column file, read with ``","``.

    >>> sniff_delimiter('Name;Budget;Note\nAna;1,2 Cr;"a; b"\nRavi;80 L;x\n', True)
    ';'
    """
    lines = list(itertools.islice(io.StringIO(sample, newline=""), 4 * _SNIFF_RECORDS))
    if not complete and len(lines) > 1:
        lines.pop()
    best: tuple[float, int] = (0.0, 0)
    chosen = DELIMITERS[0]
    for delimiter in DELIMITERS:
        reader = csv.reader(lines, delimiter=delimiter, strict=False)
        counts = [len(r) for r in itertools.islice(reader, _SNIFF_RECORDS) if not _blank(r)]
        if not counts or counts[0] < 2:
            continue
        header, rest = counts[0], counts[1:]
        if not complete and len(rest) > 1:
            rest.pop()
        agree = sum(n == header for n in rest) / len(rest) if rest else 1.0
        if (agree, header) > best:
            best, chosen = (agree, header), delimiter
    return chosen


def clean_headers(cells: list[str]) -> tuple[str, ...]:
    r"""Return usable column names: stripped, ``column_N`` for blanks, duplicates numbered.

    >>> clean_headers(["\ufeffEmail ", "", "Email", "Email (2)"])
    ('Email', 'column_2', 'Email (2)', 'Email (2) (2)')
    """
    names: list[str] = []
    seen: set[str] = set()
    for position, cell in enumerate(cells, 1):
        name = clean_text(cell).strip().lstrip("\ufeff").strip() or f"column_{position}"
        unique, copy = name, 2
        while unique in seen:
            unique, copy = f"{name} ({copy})", copy + 1
        seen.add(unique)
        names.append(unique)
    return tuple(names)


def looks_like_data(cells: list[str]) -> bool:
    """Return True if a first row is plainly data, not a header.

    Deliberately conservative: every non-blank cell must be an email, a
    phone number, a number or a date, and at least one must be an email or
    hold seven or more digits. A row with any word in it (a name such as
    "Asha Rao" could be a column name) or of years alone ("2023", "2024")
    passes as a header; a wrong guess there is caught by the column mapping.

    >>> looks_like_data(["asha@example.com", "+91 98300 12345"])
    True
    >>> looks_like_data(["Asha Rao", "asha@example.com"]), looks_like_data(["2023", "2024"])
    (False, False)
    """
    filled = [cell.strip() for cell in cells if cell.strip()]
    return (
        bool(filled)
        and all(_DATA_CELL.fullmatch(cell) for cell in filled)
        and any(_STRONG_DATA.match(cell) for cell in filled)
    )


def read_header(
    lines: Iterator[str], delimiter: str, max_chars: int, max_columns: int
) -> tuple[str, ...]:
    """Return the cleaned header of CSV ``lines``: their first non-blank record.

    Raises :class:`UnreadableImport` when there is none (the file is empty),
    when its quote never closes, when it has too many columns, or when it
    is plainly a row of data (:func:`looks_like_data`).
    """
    feed = LineFeed(lines, max_chars)
    for fields in feed.records(delimiter):
        if fields is None:
            raise UnreadableImport(
                f"the header row has a quote opened on line {feed.start} that is never closed"
            )
        if _blank(fields):
            continue
        if len(fields) > max_columns:
            raise UnreadableImport(
                f"the header row has {len(fields)} columns; at most {max_columns} are allowed"
            )
        if looks_like_data(fields):
            raise UnreadableImport(
                f"the file has no header row: line {feed.start} holds data"
                f" ({', '.join(repr(clean_text(c)) for c in fields[:3])});"
                " add a first line naming the columns"
            )
        return clean_headers(fields)
    raise UnreadableImport("the file is empty")


def csv_rows(
    lines: Iterator[str],
    headers: tuple[str, ...],
    make: Callable[[int, dict[str, str], str | None, int], _R],
    *,
    delimiter: str,
    encoding: str,
    max_chars: int,
) -> Iterator[_R]:
    """Yield a row (built by ``make(number, values, error, line)``) for each data record.

    The first non-blank record is the header and is skipped; blank records
    (no cell holds more than whitespace) are skipped without a number.
    """
    feed = LineFeed(lines, max_chars)
    width = len(headers)
    number = 0
    past_header = False
    for fields in feed.records(delimiter):
        if (
            fields is not None
            and (not fields or not fields[0] or fields[0].isspace())
            and _blank(fields)
        ):
            continue
        if not past_header:
            past_header = True
            continue
        number += 1
        if fields is None:  # the feed gave up on it and reads on after its first line
            yield _unclosed_row(number, feed, headers, delimiter, fields=None, make=make)
        elif len(fields) != width and len(feed.held) > 1:
            yield _unclosed_row(number, feed, headers, delimiter, fields=fields, make=make)
            feed.rewind()
        elif len(fields) == width and not feed.suspect and feed.size <= max_chars:
            yield make(number, dict(zip(headers, fields, strict=True)), None, feed.start)
        else:
            yield _checked_row(number, fields, feed, headers, encoding=encoding, make=make)


def _unclosed_row(
    number: int,
    feed: LineFeed,
    headers: tuple[str, ...],
    delimiter: str,
    *,
    fields: list[str] | None,
    make: Callable[[int, dict[str, str], str | None, int], _R],
) -> _R:
    """The row whose quote never closes: what its first line holds, and why it is refused.

    ``fields`` is None when the feed gave the record up (too long, or the
    file ended inside it); otherwise a quote closed lines later but left
    the record with the wrong number of fields, the mark of a stray quote
    that swallowed the rows after it.
    """
    opened = feed.held[0]
    cells = next(csv.reader([opened.rstrip("\r\n")], delimiter=delimiter, strict=False), [])
    values = dict.fromkeys(headers, "")
    values.update(zip(headers, (clean_text(c) for c in cells), strict=False))
    if fields is not None:
        last = feed.start + len(feed.held) - 1
        why = f"read on to line {last} it gives {len(fields)} fields, the header has {len(headers)}"
    elif len(feed.held) >= MAX_RECORD_LINES:
        why = f"the quoted field runs past {MAX_RECORD_LINES} lines"
    elif feed.size - len(opened) > feed.max_chars:
        why = f"the quoted field runs past {feed.max_chars:,} characters"
    else:
        why = "it runs to the end of the file"
    return make(number, values, f"unclosed quote opened on line {feed.start} ({why})", feed.start)


def _checked_row(
    number: int,
    fields: list[str],
    feed: LineFeed,
    headers: tuple[str, ...],
    *,
    encoding: str,
    make: Callable[[int, dict[str, str], str | None, int], _R],
) -> _R:
    """A row off the fast path: check its width, its cells' sizes and their bytes."""
    width, max_chars = len(headers), feed.max_chars
    problems: list[str] = []
    if len(fields) != width:
        problems.append(f"row has {len(fields)} fields, the header has {width}")
    names = [headers[i] if i < width else f"extra field {i + 1}" for i in range(len(fields))]
    long_cells = [i for i, cell in enumerate(fields) if len(cell) > max_chars]
    problems.extend(
        f"the cell in column {names[i]!r} has {len(fields[i]):,} characters (at most {max_chars:,})"
        for i in long_cells
    )
    if feed.suspect:
        problems.extend(cell_problems(zip(names, fields, strict=True), encoding))
    values = dict.fromkeys(headers, "")
    if problems:
        for i in long_cells:
            fields[i] = ""
        values.update(zip(headers, map(clean_text, fields), strict=False))
        return make(number, values, "; ".join(problems), feed.start)
    values.update(zip(headers, fields, strict=False))
    return make(number, values, None, feed.start)
