r"""How an import file's bytes become text: binary refusal, byte-order marks, detection.

Everything here looks only at a leading *sample* of the file (the first
:data:`SAMPLE_BYTES`), so choosing an encoding costs the same for a 1 KB file
and a 1 GB one. Bytes further on that the chosen encoding cannot decode are
not fatal: the reader decodes with the :data:`BAD_BYTES` error handler, which
turns each such byte into a lone surrogate (U+DC00 + byte) that
:func:`cell_problems` later reports as a bad row.

>>> choose_encoding("Name,City\nJosé,Pune\n".encode("cp1252"), None, complete=True)
('cp1252', True)
>>> choose_encoding("Name\nAsha ₹\n".encode(), None, complete=True)
('utf-8', True)
>>> b"Ana\x81".decode("cp1252", BAD_BYTES)
'Ana\udc81'
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable

import charset_normalizer

from velocity_domain.errors import UnreadableImport

__all__ = [
    "BAD_BYTES",
    "NUL_MARK",
    "SAMPLE_BYTES",
    "cell_problems",
    "choose_encoding",
    "clean_text",
    "refuse_binary",
]

#: How many leading bytes decide the encoding, the format and the delimiter.
SAMPLE_BYTES = 64 * 1024

#: Name of the codec error handler that keeps undecodable bytes as U+DC00 + byte.
BAD_BYTES = "velocity-import-bad-bytes"

#: What the line readers put in place of a NUL, so no parser ever sees one.
NUL_MARK = "\uffff"

_SUSPECT = re.compile("[\x00\ud800-\udfff\uffff]")
_SURROGATES = re.compile("[\ud800-\udfff]")

_UTF8_BOM = b"\xef\xbb\xbf"
_WESTERN_MARGIN = 0.1
_CP1252_HOLES = b"\x81\x8d\x8f\x90\x9d"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_WIDE = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})

# Bytes a text file almost never holds: C0 controls other than tab, line
# breaks, form feed and the old DOS end-of-file mark, and DEL.
_CONTROL = bytes(sorted(set(range(32)) - {9, 10, 11, 12, 13, 26} | {127}))
_CONTROL_TEXT = dict.fromkeys(_CONTROL)
_BINARY_SHARE = 0.05

_SPREADSHEET = "open it in the spreadsheet and save it as CSV (UTF-8)"
_OTHER = "export the data as CSV or JSON Lines"
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "a PDF document", _OTHER),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls)", _SPREADSHEET),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", _OTHER),
    (b"\xff\xd8\xff", "a JPEG image", _OTHER),
    (b"GIF8", "a GIF image", _OTHER),
    (b"\x1f\x8b", "a gzip archive", "unpack it first"),
    (b"Rar!\x1a\x07", "a RAR archive", "unpack it first"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "unpack it first"),
)
_ZIPPED: tuple[tuple[bytes, str, str], ...] = (
    (b"xl/", "an Excel workbook (.xlsx)", _SPREADSHEET),
    (b"opendocument.spreadsheet", "an OpenDocument spreadsheet (.ods)", _SPREADSHEET),
    (b"word/", "a Word document (.docx)", _OTHER),
    (b"ppt/", "a PowerPoint presentation (.pptx)", _OTHER),
)


def _escape_bad_bytes(err: UnicodeError) -> tuple[str, int]:
    """Decode each byte the codec refused as U+DC00 + byte (any byte, unlike surrogateescape)."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    bad = err.object[err.start : err.end]
    return "".join(chr(0xDC00 + b) for b in bad), err.end


codecs.register_error(BAD_BYTES, _escape_bad_bytes)


def refuse_binary(sample: bytes, file_name: str | None = None) -> None:
    r"""Raise :class:`UnreadableImport` if ``sample`` is the start of a binary file.

    Known signatures (ZIP-based Office files, PDF, images, archives) are
    named so the message can say what to do; otherwise a sample in which
    more than 5% of the bytes are control bytes is refused as binary (for
    UTF-16 text, which is full of NUL bytes, 5% of its decoded characters).

    >>> try:
    ...     refuse_binary(b"PK\x03\x04\x14\x00[Content_Types].xml ... xl/workbook.xml")
    ... except UnreadableImport as err:
    ...     print(err.reason)
    the file looks like an Excel workbook (.xlsx), not a CSV or JSON Lines file; open it in the
    spreadsheet and save it as CSV (UTF-8)
    """
    found: tuple[str, str] | None = None
    if sample.startswith(b"PK\x03\x04"):
        found = ("a ZIP archive", "unpack it first")
        for marker, what, advice in _ZIPPED:
            if marker in sample:
                found = (what, advice)
                break
    else:
        for magic, what, advice in _SIGNATURES:
            if sample.startswith(magic):
                found = (what, advice)
                break
    if found is None:
        wide = _wide_encoding(sample)
        if wide is None:
            controls = len(sample) - len(sample.translate(None, _CONTROL))
            total = len(sample)
        else:
            text = sample.decode(wide, "replace")
            controls = len(text) - len(text.translate(_CONTROL_TEXT))
            total = len(text)
        if controls > _BINARY_SHARE * total:
            found = ("binary data", _OTHER)
    if found is not None:
        what, advice = found
        raise UnreadableImport(
            f"the file looks like {what}, not a CSV or JSON Lines file; {advice}", value=file_name
        )


def _wide_encoding(sample: bytes) -> str | None:
    """Return the UTF-16 codec the sample is in (by BOM, or by its NUL pattern), else None."""
    if sample.startswith(_UTF16_BOMS):
        return "utf-16"
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd > 0.3 * pairs and even < 0.05 * pairs:
        return "utf-16-le"
    if even > 0.3 * pairs and odd < 0.05 * pairs:
        return "utf-16-be"
    return None


def _codec_name(name: str) -> str:
    """Return Python's own name for a codec (``latin_1`` -> ``iso8859-1``)."""
    return codecs.lookup(name).name


def _decodes(sample: bytes, encoding: str, complete: bool) -> UnicodeDecodeError | None:
    """Return the error decoding ``sample`` strictly raises, or None (a cut-off tail is fine)."""
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
    except UnicodeDecodeError as exc:
        return exc
    return None


def _mostly_utf8(sample: bytes, complete: bool) -> bool:
    """Return True if ``sample`` is UTF-8 apart from a few stray bytes.

    A UTF-8 export with one row pasted from a Windows program must not be
    read as cp1252 (which would garble every accented letter); text in an
    8-bit code page almost never forms valid multi-byte UTF-8 sequences.
    """
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(sample, final=complete)
    bad = text.count("\ufffd")
    wide = len(text) - len(text.encode("ascii", "ignore")) - bad
    return wide >= 3 * bad


def _ask_charset_normalizer(sample: bytes) -> str | None:
    """Return charset-normalizer's guess, or cp1252 if it reads nearly as clean.

    On short samples charset-normalizer often ranks cp1250 or cp775 first
    for Western text (they decode ASCII letters and many accents alike). An
    import from India or Western Europe is far more often cp1252, so cp1252
    wins unless the best guess reads clearly cleaner (by charset-normalizer's
    own "chaos" measure: Cyrillic or Greek bytes read as cp1252 are mojibake).
    Central European text (Polish, Czech) that also reads cleanly as cp1252
    is taken for cp1252; declare its encoding to read it right.
    """
    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        return None
    western = charset_normalizer.from_bytes(sample, cp_isolation=["cp1252"], threshold=1.0).best()
    if western is not None and western.chaos <= best.chaos + _WESTERN_MARGIN:
        return "cp1252"
    if "latin_1" in best.could_be_from_charset:
        return "latin_1"
    return "utf-8" if best.encoding == "ascii" else best.encoding


def _detect_8bit(sample: bytes) -> str | None:
    """Guess a single-byte code page; latin-1 for Western text with bytes cp1252 lacks.

    cp1252 leaves five bytes undefined (0x81 0x8D 0x8F 0x90 0x9D); latin-1
    maps them to control characters. Text that reads as cp1252 once a few
    of them are set aside fits only latin-1, which is then the answer.
    """
    guess = _ask_charset_normalizer(sample)
    if guess == "cp1252":
        return guess
    rest = sample.translate(None, _CP1252_HOLES)
    holes = len(sample) - len(rest)
    if 0 < holes <= max(1, len(sample) // 1000) and _ask_charset_normalizer(rest) == "cp1252":
        return "latin_1"
    return guess


def detect_encoding(sample: bytes, complete: bool) -> str | None:
    """Return the codec the sample looks like, or None if it is text in no encoding known.

    Order: byte-order mark; UTF-16 by its NUL pattern; strict UTF-8 (which
    charset-normalizer misjudges on short samples); UTF-8 with a few stray
    bytes; charset-normalizer.
    """
    if sample.startswith(_UTF8_BOM):
        return "utf-8-sig"
    wide = _wide_encoding(sample)
    if wide is not None:
        return wide
    if _decodes(sample, "utf-8", complete) is None or _mostly_utf8(sample, complete):
        return "utf-8"
    found = _detect_8bit(sample.replace(b"\x00", b""))  # a stray NUL blinds charset-normalizer
    return None if found is None else _codec_name(found)


def _declared_problem(sample: bytes, name: str, complete: bool) -> str | None:
    """Say why the declared codec ``name`` is plainly wrong for ``sample``, or None if it fits.

    Plainly wrong: UTF-16 text declared 8-bit or the reverse; 8-bit declared
    for text that is valid UTF-8 with non-ASCII letters (it would be read
    garbled); or more bytes the codec cannot decode than a stray few (one
    in a thousand, at least one; for UTF-8, the rule of :func:`_mostly_utf8`).
    """
    wide = _wide_encoding(sample) is not None
    if wide and name not in _WIDE:
        return "the file is UTF-16 text"
    if name in _WIDE:
        return None if wide or b"\x00" in sample else "the file is 8-bit text (it has no NUL bytes)"
    error = _decodes(sample, name, complete)
    if error is None:
        if name.startswith("utf-8") or sample.isascii() or _decodes(sample, "utf-8", complete):
            return None
        return "the file is UTF-8 text with non-ASCII letters"
    if name == "utf-8":
        tolerable = _mostly_utf8(sample, complete)
    else:
        text = codecs.getincrementaldecoder(name)(BAD_BYTES).decode(sample, final=complete)
        tolerable = len(_SURROGATES.findall(text)) <= max(1, len(sample) // 1000)
    if tolerable:
        return None
    return f"byte 0x{error.object[error.start]:02x} at offset {error.start} is not valid in it"


def choose_encoding(sample: bytes, declared: str | None, *, complete: bool) -> tuple[str, bool]:
    """Return ``(codec, detected)`` for a file starting with ``sample``.

    ``complete`` says the sample is the whole file. A declared encoding is
    checked against the sample; if it is plainly wrong (the sample does not
    decode with it, or a UTF-16 file is declared 8-bit or the reverse) this
    raises :class:`UnreadableImport` with ``field="encoding"``, naming the
    encoding the file looks like when detection finds one.
    """
    if declared is None:
        found = detect_encoding(sample, complete)
        if found is None:
            raise UnreadableImport(
                "the file is not text in any encoding we recognise; save it as CSV (UTF-8)",
                field="encoding",
            )
        return found, True
    try:
        name = _codec_name(declared)
    except LookupError:
        raise UnreadableImport(
            f"{declared!r} is not an encoding Python knows", field="encoding", value=declared
        ) from None
    if name == "utf-8" and sample.startswith(_UTF8_BOM):
        return "utf-8-sig", False
    problem = _declared_problem(sample, name, complete)
    if problem is None:
        return name, False
    looks = detect_encoding(sample, complete)
    hint = f"; it looks like {looks}" if looks and looks != name else ""
    raise UnreadableImport(
        f"the file is not in the declared encoding {declared!r}: {problem}{hint}",
        field="encoding",
        value=declared,
    )


def clean_text(text: str) -> str:
    r"""Return ``text`` with NULs and undecodable bytes replaced by U+FFFD (safe to store).

    >>> clean_text("Ana\udc81 \uffff")
    'Ana\ufffd \ufffd'
    """
    return _SUSPECT.sub("\ufffd", text)


def _shown(chars: list[str]) -> str:
    """Name the bytes behind escaped characters: ``0x81 0x8d`` (or ``U+D800`` for a surrogate)."""
    out = []
    for char in chars[:4]:
        code = ord(char)
        out.append(f"0x{code - 0xDC00:02x}" if 0xDC00 <= code <= 0xDCFF else f"U+{code:04X}")
    more = " ..." if len(chars) > 4 else ""
    return " ".join(out) + more


def cell_problems(cells: Iterable[tuple[str, str]], encoding: str | None) -> list[str]:
    r"""Return why cells cannot be stored: NUL bytes, bytes not valid in ``encoding``.

    ``cells`` are ``(column, text)`` pairs; ``encoding`` is the file's codec
    (None for records from code, whose bad characters are not bytes).

    >>> cell_problems([("Name", "Ana\udc81"), ("City", "Pu\x00ne")], "cp1252")
    ["bytes not valid cp1252 in column 'Name' (0x81)", "contains a NUL byte in column 'City'"]
    """
    problems: list[str] = []
    for column, text in cells:
        if _SUSPECT.search(text) is None:
            continue
        if "\x00" in text or NUL_MARK in text:
            problems.append(f"contains a NUL byte in column {column!r}")
        escaped = _SURROGATES.findall(text)
        if escaped and encoding is not None:
            problems.append(f"bytes not valid {encoding} in column {column!r} ({_shown(escaped)})")
        elif escaped:
            problems.append(f"column {column!r} holds a lone surrogate ({_shown(escaped)})")
    return problems
