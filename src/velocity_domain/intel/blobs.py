"""The blob store port: evidence bytes kept outside the database, addressed by their SHA-256.

A recording, a photo or a CCTV clip is stored once under the hash of its
bytes; the database keeps only its index row (``intel_blob_store_index``:
hash, size, media type, storage URI). A :class:`BlobStore` never deletes:
evidence is append-only, and since the address *is* the content, putting
the same bytes twice stores them once. Every read checks the bytes against
their address, so bytes altered where they are stored come back as
:class:`~velocity_domain.errors.BlobTampered`, never as content.

>>> import hashlib
>>> reader = BlobReader(iter([b"ab", b"c"]), hashlib.sha256(b"abc").hexdigest())
>>> reader.read()
b'abc'
>>> BlobReader(iter([b"abd"]), hashlib.sha256(b"abc").hexdigest()).read()
Traceback (most recent call last):
...
velocity_domain.errors.BlobTampered: blob ba7816bf... was altered in storage: ...
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Protocol, runtime_checkable

import attrs

from velocity_domain.errors import BlobTampered, ValidationFailed
from velocity_domain.kernel.fields import MEDIA_TYPE_PATTERN, SHA256_HEX_PATTERN

__all__ = [
    "CHUNK_SIZE",
    "BinaryStream",
    "BlobReader",
    "BlobRef",
    "BlobStore",
    "check_media_type",
    "check_sha256",
    "chunks_of",
]

#: How many bytes a store reads or writes at a time: a blob is never whole in memory.
CHUNK_SIZE = 1 << 20

_SHA256 = re.compile(SHA256_HEX_PATTERN)
_MEDIA_TYPE = re.compile(MEDIA_TYPE_PATTERN)


@runtime_checkable
class BinaryStream(Protocol):
    """Anything read like a file opened with ``"rb"`` (a file, ``io.BytesIO``, an upload)."""

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes; ``b""`` at the end."""
        ...


@attrs.frozen
class BlobRef:
    """Where a blob was put: its address (SHA-256 hex), size, media type and storage URI."""

    sha256: str
    size: int
    media_type: str
    uri: str


def check_sha256(value: object, field: str = "sha256") -> str:
    """Return ``value`` if it is a SHA-256 as 64 lower-case hex characters, else refuse it."""
    if not isinstance(value, str) or _SHA256.fullmatch(value) is None:
        raise ValidationFailed(
            field, "must be a SHA-256 digest as 64 lower-case hex characters", value=value
        )
    return value


def check_media_type(value: object, field: str = "media_type") -> str:
    """Return ``value`` if it is a lower-case media type such as ``audio/mpeg``, else refuse it."""
    if not isinstance(value, str) or len(value) > 255 or _MEDIA_TYPE.fullmatch(value) is None:
        raise ValidationFailed(
            field, "must be a lower-case media type such as audio/mpeg", value=value
        )
    return value


def chunks_of(data: bytes | BinaryStream, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The bytes of ``data`` in chunks of at most ``chunk_size``; a text stream is refused.

    Errors name the argument ``data``.
    """
    if isinstance(data, bytes):
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]
        return
    while True:
        chunk = data.read(chunk_size)
        if not isinstance(chunk, bytes | bytearray):
            raise ValidationFailed(
                "data",
                f"must be a binary stream (open files with 'rb'); read gave {type(chunk).__name__}",
            )
        if not chunk:
            return
        yield bytes(chunk)


class BlobReader:
    """The chunks of one stored blob, checked against its address as they pass.

    Iterating yields the chunks as storage gives them; when storage ends,
    the bytes seen must hash to ``sha256`` (and measure ``size``, when
    given), or the iteration ends with
    :class:`~velocity_domain.errors.BlobTampered` instead. So a consumer
    that streams must treat what it has until the end as unconfirmed;
    :meth:`read` returns the whole blob only once it is confirmed.
    """

    def __init__(
        self,
        chunks: Iterator[bytes],
        sha256: str,
        *,
        size: int | None = None,
        close: Callable[[], None] | None = None,
    ) -> None:
        self.sha256 = sha256
        self._chunks = chunks
        self._size = size
        self._close = close

    def __iter__(self) -> Iterator[bytes]:
        digest = hashlib.sha256()
        seen = 0
        try:
            for chunk in self._chunks:
                digest.update(chunk)
                seen += len(chunk)
                yield chunk
        finally:
            self.close()
        if self._size is not None and seen != self._size:
            raise BlobTampered(self.sha256, f"{seen} bytes stored, {self._size} indexed")
        actual = digest.hexdigest()
        if actual != self.sha256:
            raise BlobTampered(self.sha256, f"the stored bytes hash to {actual}")

    def read(self) -> bytes:
        """Return the whole blob once its hash is confirmed (it is then in memory)."""
        return b"".join(self)

    def close(self) -> None:
        """Release what storage holds open for this read (a file); reading again is refused."""
        if self._close is not None:
            self._close()
            self._close = None

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class BlobStore(Protocol):
    """Content-addressed storage of evidence bytes: put, read back checked, ask whether held.

    There is no delete: evidence is append-only, and one blob may back many
    rows. Implementations: ``velocity_domain.adapters.blobs.LocalBlobStore``
    (a folder) and ``MemoryBlobStore`` (the embedded default).
    """

    def put(self, data: bytes | BinaryStream, *, media_type: str) -> BlobRef:
        """Store ``data`` (bytes or a binary stream, read in chunks) under its SHA-256.

        Putting bytes already held stores nothing new and returns the same
        address. ``media_type`` is only echoed in the reference (the bytes
        are the same whatever they are called); a bad one is
        ``ValidationFailed`` naming ``media_type``, a text stream one naming
        ``data``.
        """
        ...

    def open(self, sha256: str, *, size: int | None = None) -> BlobReader:
        """Return a reader of the blob ``sha256``, checked against it (and ``size``) as it is read.

        A blob not held is ``NotFound`` (entity ``blob``); a malformed hash
        is ``ValidationFailed`` naming ``sha256``.
        """
        ...

    def exists(self, sha256: str) -> bool:
        """Say whether a blob is held under ``sha256`` (without reading it)."""
        ...

    def uri(self, sha256: str) -> str:
        """The storage URI of the blob ``sha256`` (what the index row records)."""
        ...
