r"""Opening an import file and streaming its rows: CSV, JSON Lines, or records from code.

:func:`open_source` looks at the file once (its SHA-256 and size, then a
leading sample of 64 KB) and returns an :class:`ImportSource`: a
:class:`SourceInfo` saying what was found, and :meth:`ImportSource.rows`,
which streams :class:`RawRow` objects from the start each time it is called.
Memory stays bounded whatever the file's size: nothing holds more than one
row, except that one row (and so one cell) is bounded only by the row itself
(a 10 MB cell is read as a 10 MB string, then refused by ``max_cell_chars``).

Detection, in order, on the sample:

1. nothing at all -> the file is empty;
2. a known binary signature (Excel, PDF, images, archives) or more than 5%
   control bytes -> refused, naming what the file looks like;
3. the encoding: a byte-order mark, UTF-16 by its NUL pattern, strict UTF-8,
   UTF-8 with a few stray bytes, else charset-normalizer (cp1252 whenever it
   reads nearly as cleanly as the best guess). A declared encoding is
   checked instead of detected;
4. the format: a ``.jsonl``/``.ndjson`` name or a leading ``{`` is JSON
   Lines, anything else CSV;
5. for CSV, the delimiter (the one of ``, ; TAB |`` that splits the leading
   records most consistently) and the header row.

A file is *unreadable* (:class:`~velocity_domain.errors.UnreadableImport`)
only when no row at all can be trusted: empty, binary, a wrong declared
encoding, no header row. Anything wrong with one row -- too many or too few
fields, an over-long cell, a NUL byte, bytes the encoding cannot decode, a
quote never closed, a JSON line that is not an object -- makes that row
invalid (``RawRow.error`` says why) and every other row still comes through.

>>> data = "Name;Mobile\r\nJosé;98300 12345\r\nRavi;1;2\r\n".encode("cp1252")
>>> with open_source(data) as source:
...     info = source.info
...     rows = list(source.rows())
>>> info.encoding, info.delimiter, info.headers
('cp1252', ';', ('Name', 'Mobile'))
>>> rows[0].values
{'Name': 'José', 'Mobile': '98300 12345'}
>>> rows[1].error
'row has 3 fields, the header has 2'
"""

from __future__ import annotations

import codecs
import hashlib
import io
import itertools
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from functools import partial
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, BinaryIO

import attrs

from velocity_domain.errors import UnreadableImport, ValidationFailed
from velocity_domain.imports.csvtext import csv_rows, read_header, sniff_delimiter
from velocity_domain.imports.encodings import (
    BAD_BYTES,
    NUL_MARK,
    SAMPLE_BYTES,
    cell_problems,
    choose_encoding,
    clean_text,
    refuse_binary,
)

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["ImportSource", "RawRow", "SourceInfo", "open_source", "to_text"]

_FORMATS = ("csv", "jsonl", "records")
_HEADER_SAMPLE_LINES = 1000
_CHUNK = 1 << 20
_SPOOL_MEMORY = 8 << 20
_JSON_ARRAY = re.compile(r"\[\s*[\[{]")
_JSON = json.JSONDecoder(parse_float=Decimal, strict=False)


@attrs.frozen
class RawRow:
    """One row of an import file as read, before any mapping: its cells as text, or why not.

    ``number`` counts data rows from 1 in file order (blank lines are not
    rows); ``values`` maps each header to its cell text ('' where the row
    had none) and, for a broken row, holds what could be read; ``error``
    says why the row could not be parsed (None for a good row); ``line`` is
    the physical line where the row starts, for messages.
    """

    number: int
    values: dict[str, str]
    error: str | None = None
    line: int | None = None


@attrs.frozen
class SourceInfo:
    """What :func:`open_source` found: format, encoding, delimiter, headers and checksum.

    ``encoding`` is the Python codec used (None for records) and
    ``encoding_detected`` whether it was detected rather than declared;
    ``headers`` are the column names exactly as keys of ``RawRow.values``;
    ``content_sha256`` identifies the content (for records, a canonical
    JSON rendering of the rows), so the same file imported twice is known.
    """

    format: str
    encoding: str | None
    encoding_detected: bool
    delimiter: str | None
    headers: tuple[str, ...]
    byte_size: int
    content_sha256: str


class ImportSource:
    """An opened import source: its info and a stream of its rows.

    :meth:`rows` may be called any number of times, each call reading from
    the start; use the source as a context manager (or call :meth:`close`)
    to release a spooled copy of a stream.
    """

    __slots__ = ("_close", "_closed", "_rows", "info")

    def __init__(
        self,
        info: SourceInfo,
        rows: Callable[[], Iterator[RawRow]],
        close: Callable[[], None] | None = None,
    ) -> None:
        self.info = info
        self._rows = rows
        self._close = close
        self._closed = False

    def rows(self) -> Iterator[RawRow]:
        """Stream the rows from the start of the source, one :class:`RawRow` at a time."""
        if self._closed:
            raise UnreadableImport("the import source is closed", field="source")
        return self._rows()

    def close(self) -> None:
        """Release what the source holds (a spooled copy of a stream); idempotent."""
        if not self._closed:
            self._closed = True
            if self._close is not None:
                self._close()

    def __enter__(self) -> ImportSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ImportSource {self.info.format} {self.info.headers!r}>"


class _Window(io.RawIOBase):
    """A reader of a shared seekable stream from ``start``, keeping its own position.

    Every read seeks first, so two :meth:`ImportSource.rows` iterations over
    one stream never disturb each other. Closing it leaves the stream open.
    """

    def __init__(self, stream: IO[bytes], start: int) -> None:
        super().__init__()
        self._stream = stream
        self._position = start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        try:
            self._stream.seek(self._position)
            data = self._stream.read(view.nbytes)
        except ValueError:  # what a closed file raises
            raise UnreadableImport(
                "the stream was closed before its rows were read", field="source"
            ) from None
        view[: len(data)] = data
        self._position += len(data)
        return len(data)


@attrs.frozen
class _Bytes:
    """The bytes of a file-like source: how to read them from the start, their size and hash."""

    open: Callable[[], BinaryIO]
    size: int
    sha256: str
    close: Callable[[], None] | None = None


def _open_path(name: str) -> io.BufferedReader:
    try:
        return open(name, "rb")
    except FileNotFoundError:
        raise UnreadableImport(f"there is no file {name!r}", value=name) from None
    except OSError as exc:
        raise UnreadableImport(f"cannot read {name!r}: {exc.strerror}", value=name) from None


def _path_bytes(path: str | os.PathLike[str]) -> _Bytes:
    name = os.fspath(path)
    with _open_path(name) as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
        size = stream.tell()
    return _Bytes(partial(_open_path, name), size, digest)


def _stream_bytes(stream: BinaryIO) -> _Bytes:
    seekable = bool(getattr(stream, "seekable", lambda: False)())
    start = stream.tell() if seekable else 0
    target = stream if seekable else tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY)  # noqa: SIM115
    owned = None if target is stream else target.close
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(_CHUNK):
        if not isinstance(chunk, bytes | bytearray):
            if owned is not None:
                owned()
            raise ValidationFailed("source", "a stream must be opened in binary mode ('rb')")
        digest.update(chunk)
        size += len(chunk)
        if target is not stream:
            target.write(chunk)
    window = partial(_Window, target, start)
    return _Bytes(lambda: io.BufferedReader(window()), size, digest.hexdigest(), owned)


@contextmanager
def _text_lines(data: _Bytes, encoding: str) -> Iterator[Iterator[str]]:
    """Open the file as its decoded physical lines (ends kept: CR, LF or CRLF), BOM dropped."""
    with (
        data.open() as raw,
        io.TextIOWrapper(raw, encoding=encoding, errors=BAD_BYTES, newline="") as text,
    ):
        first = text.readline().removeprefix("\ufeff")
        yield itertools.chain((first,) if first else (), text)


def to_text(value: object) -> str:
    """Render a JSON or Python value as cell text: None is '', nested values compact JSON.

    >>> [to_text(v) for v in (None, True, 12, Decimal("1.20"), [1, "a"], {"k": None})]
    ['', 'true', '12', '1.20', '[1,"a"]', '{"k":null}']
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    return str(value)


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return dict(value)
    return to_text(value)


def _mapping_row(
    number: int,
    cells: dict[str, str],
    headers: tuple[str, ...],
    *,
    encoding: str | None,
    max_chars: int,
    line: int | None,
    size: int,
) -> RawRow:
    """Build the row of one JSON object or record, checking its cells when ``size`` calls for it."""
    values = dict.fromkeys(headers, "")
    values.update(cells)
    problems = cell_problems(values.items(), encoding)
    if size > max_chars:
        problems.extend(
            f"the cell in column {column!r} has {len(text):,} characters (at most {max_chars:,})"
            for column, text in values.items()
            if len(text) > max_chars
        )
    if not problems:
        return RawRow(number, values, None, line)
    cleaned = {k: "" if len(v) > max_chars else clean_text(v) for k, v in values.items()}
    return RawRow(number, cleaned, "; ".join(problems), line)


def _json_lines(lines: Iterator[str]) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` for each non-blank line, NULs marked."""
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if text:
            yield number, text.replace("\x00", NUL_MARK) if "\x00" in text else text


def _parse_object(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Return ``(object, None)`` or ``(None, why)`` for one JSON line."""
    try:
        value = _JSON.decode(text)
    except json.JSONDecodeError as exc:
        return None, f"is not valid JSON: {exc.msg} at column {exc.colno}"
    except (ValueError, RecursionError) as exc:
        return None, f"is not valid JSON: {exc}"
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", type(None): "null", bool: "a boolean"}
        return None, f"holds {kind.get(type(value), 'a number')}, not a JSON object"
    return value, None


def _jsonl_headers(lines: Iterator[str], file_name: str | None) -> tuple[str, ...]:
    """Return the keys of the first 1000 lines' objects, in order of first appearance."""
    keys: dict[str, None] = {}
    seen = objects = 0
    for _, text in _json_lines(lines):
        seen += 1
        value, _ = _parse_object(text)
        if value is not None:
            objects += 1
            keys.update(dict.fromkeys(value))
        if seen >= _HEADER_SAMPLE_LINES:
            break
    if not seen:
        raise UnreadableImport("the file is empty", value=file_name)
    if not objects:
        raise UnreadableImport(
            f"the file does not look like JSON Lines: none of its first {seen} lines"
            " is a JSON object",
            value=file_name,
        )
    return tuple(keys)


def _jsonl_rows(
    data: _Bytes, encoding: str, headers: tuple[str, ...], max_chars: int
) -> Iterator[RawRow]:
    blank = dict.fromkeys(headers, "")
    with _text_lines(data, encoding) as lines:
        for number, (line, text) in enumerate(_json_lines(lines), 1):
            value, why = _parse_object(text)
            if value is None:
                yield RawRow(number, dict(blank), f"line {line} {why}", line)
                continue
            cells = {key: to_text(item) for key, item in value.items()}
            yield _mapping_row(
                number,
                cells,
                headers,
                encoding=encoding,
                max_chars=max_chars,
                line=line,
                size=len(text),
            )


def _guess_format(text: str, file_name: str | None) -> str:
    name = (file_name or "").lower()
    head = text.lstrip("\ufeff \t\r\n")
    if name.endswith((".jsonl", ".ndjson")) or head.startswith("{"):
        return "jsonl"
    if name.endswith(".json") or _JSON_ARRAY.match(head):
        raise UnreadableImport(
            "the file looks like a JSON document, not JSON Lines or CSV;"
            " write one JSON object per line (.jsonl)",
            value=file_name,
        )
    return "csv"


def _open_bytes(
    data: _Bytes,
    *,
    format: str | None,
    encoding: str | None,
    delimiter: str | None,
    file_name: str | None,
    max_cell_chars: int,
    max_header_columns: int,
) -> ImportSource:
    if data.size == 0:
        raise UnreadableImport("the file is empty", value=file_name)
    with data.open() as raw:
        sample = raw.read(SAMPLE_BYTES)
    complete = data.size <= SAMPLE_BYTES
    refuse_binary(sample, file_name)
    codec, detected = choose_encoding(sample, encoding, complete=complete)
    text = codecs.getincrementaldecoder(codec)(BAD_BYTES).decode(sample, final=complete)
    if complete and not text.lstrip("\ufeff").strip():
        raise UnreadableImport("the file is empty", value=file_name)
    kind = format or _guess_format(text, file_name)
    sep: str | None = None
    if kind == "jsonl":
        with _text_lines(data, codec) as lines:
            headers = _jsonl_headers(lines, file_name)
        rows = partial(_jsonl_rows, data, codec, headers, max_cell_chars)
    else:
        sep = delimiter or sniff_delimiter(text, complete)
        with _text_lines(data, codec) as lines:
            headers = read_header(lines, sep, max_cell_chars, max_header_columns)
        rows = partial(_csv_rows, data, codec, headers, sep, max_cell_chars)
    info = SourceInfo(kind, codec, detected, sep, headers, data.size, data.sha256)
    return ImportSource(info, rows, data.close)


def _csv_rows(
    data: _Bytes, encoding: str, headers: tuple[str, ...], delimiter: str, max_chars: int
) -> Iterator[RawRow]:
    with _text_lines(data, encoding) as lines:
        yield from csv_rows(
            lines, headers, RawRow, delimiter=delimiter, encoding=encoding, max_chars=max_chars
        )


def _record_cells(item: object) -> tuple[dict[str, str] | None, str | None]:
    """Return ``(cells, None)`` for a mapping, ``(None, type name)`` for anything else."""
    if isinstance(item, Mapping):
        return {str(key): to_text(value) for key, value in item.items()}, None
    return None, type(item).__name__


def _record_row(
    number: int,
    cells: dict[str, str] | None,
    kind: str | None,
    headers: tuple[str, ...],
    max_chars: int,
) -> RawRow:
    if cells is None:
        reason = f"item {number} is not a mapping (it is a {kind})"
        return RawRow(number, dict.fromkeys(headers, ""), reason)
    size = max(map(len, cells.values()), default=0)
    return _mapping_row(
        number, cells, headers, encoding=None, max_chars=max_chars, line=None, size=size
    )


def _open_records(items: Iterable[Mapping[str, object]], max_chars: int) -> ImportSource:
    """Read records from code in one pass (headers, hash); spool them if they are one-shot.

    A re-iterable (a list) is read again by each :meth:`ImportSource.rows`;
    a one-shot iterator (a generator) is copied to a temporary file as JSON
    Lines during this pass, so it can be read again without being held in
    memory.
    """
    one_shot = iter(items) is items
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY) if one_shot else None  # noqa: SIM115
    digest = hashlib.sha256()
    keys: dict[str, None] = {}
    for number, item in enumerate(items, 1):
        cells, kind = _record_cells(item)
        if cells is not None and number <= _HEADER_SAMPLE_LINES:
            keys.update(dict.fromkeys(cells))
        digest.update(_canonical([cells, kind], sort_keys=True))
        if spool is not None:
            spool.write(_canonical([cells, kind], sort_keys=False))
    headers = tuple(keys)
    info = SourceInfo("records", None, False, None, headers, 0, digest.hexdigest())
    if spool is None:
        return ImportSource(info, partial(_list_rows, items, headers, max_chars))
    data = _Bytes(lambda: io.BufferedReader(_Window(spool, 0)), 0, "", spool.close)
    return ImportSource(info, partial(_spooled_rows, data, headers, max_chars), spool.close)


def _canonical(value: object, *, sort_keys: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    return text.encode("utf-8", "surrogatepass") + b"\n"


def _list_rows(
    items: Iterable[Mapping[str, object]], headers: tuple[str, ...], max_chars: int
) -> Iterator[RawRow]:
    for number, item in enumerate(items, 1):
        yield _record_row(number, *_record_cells(item), headers, max_chars)


def _spooled_rows(data: _Bytes, headers: tuple[str, ...], max_chars: int) -> Iterator[RawRow]:
    with data.open() as raw, io.TextIOWrapper(raw, "utf-8", "surrogatepass") as text:
        for number, line in enumerate(text, 1):
            cells, kind = json.loads(line)
            yield _record_row(number, cells, kind, headers, max_chars)


def _check_options(
    format: str | None,
    delimiter: str | None,
    max_cell_chars: int,
    max_header_columns: int,
) -> None:
    if format is not None and format not in _FORMATS:
        raise ValidationFailed("format", "must be 'csv', 'jsonl' or 'records'", value=format)
    if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n\x00'):
        raise ValidationFailed(
            "delimiter", "must be one character other than a quote or a line break", value=delimiter
        )
    if max_cell_chars < 1:
        raise ValidationFailed("max_cell_chars", "must be at least 1", value=max_cell_chars)
    if max_header_columns < 1:
        raise ValidationFailed("max_header_columns", "must be at least 1", value=max_header_columns)


def open_source(
    source: str | os.PathLike[str] | bytes | BinaryIO | Iterable[Mapping[str, object]],
    *,
    format: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    file_name: str | None = None,
    max_cell_chars: int = 1_000_000,
    max_header_columns: int = 1000,
) -> ImportSource:
    """Open an import file (a path, bytes or a binary stream) or records from code.

    ``format`` is ``"csv"``, ``"jsonl"`` or ``"records"`` (None: an
    iterable of mappings is records; a ``.jsonl``/``.ndjson`` name or a
    leading ``{`` is JSON Lines; anything else CSV). ``encoding`` and
    ``delimiter`` are declared values (None: detect / sniff among
    ``, ; TAB |``); ``file_name`` helps the format guess and the messages.
    A cell longer than ``max_cell_chars`` makes its row invalid; a header
    of more than ``max_header_columns`` makes the file unreadable.

    A seekable stream is read in place from its current position (and must
    stay open while rows are read); any other stream is spooled to a
    temporary file, released by :meth:`ImportSource.close`. Records in a
    list (any re-iterable) are read again by each :meth:`ImportSource.rows`;
    a one-shot iterator (a generator) is spooled the same way, so it too can
    be read more than once. Their headers are the keys of the first 1000
    mappings, in order of first appearance. Raises
    :class:`UnreadableImport` if the file cannot be read at all and
    :class:`ValidationFailed` for a bad option.
    """
    _check_options(format, delimiter, max_cell_chars, max_header_columns)
    if isinstance(source, str | os.PathLike):
        file_name = file_name or os.path.basename(os.fspath(source))
        data = _path_bytes(source)
    elif isinstance(source, bytes | bytearray | memoryview):
        raw = bytes(source)
        data = _Bytes(partial(io.BytesIO, raw), len(raw), hashlib.sha256(raw).hexdigest())
    elif hasattr(source, "read"):
        data = _stream_bytes(source)  # type: ignore[arg-type]
    elif isinstance(source, Mapping) or not isinstance(source, Iterable):
        raise ValidationFailed(
            "source",
            "must be a path, bytes, a binary stream or an iterable of mappings",
            value=type(source).__name__,
        )
    else:
        if format not in (None, "records"):
            raise ValidationFailed(
                "format", "records from code are read as 'records'", value=format
            )
        return _open_records(source, max_cell_chars)
    if format == "records":
        raise ValidationFailed(
            "format", "'records' is for an iterable of mappings, not a file", value=format
        )
    try:
        return _open_bytes(
            data,
            format=format,
            encoding=encoding,
            delimiter=delimiter,
            file_name=file_name,
            max_cell_chars=max_cell_chars,
            max_header_columns=max_header_columns,
        )
    except BaseException:
        if data.close is not None:
            data.close()
        raise
