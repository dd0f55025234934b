"""Blob store adapters: a local folder, and memory (the embedded default).

Both implement :class:`~velocity_domain.intel.blobs.BlobStore`: bytes go in
by stream and come out checked against their SHA-256; nothing is deleted.

>>> store = MemoryBlobStore()
>>> ref = store.put(b"hello", media_type="text/plain")
>>> ref.size, ref.uri == store.uri(ref.sha256), store.exists(ref.sha256)
(5, True, True)
>>> store.open(ref.sha256).read()
b'hello'
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from velocity_domain.errors import NotConfigured, NotFound
from velocity_domain.intel.blobs import (
    CHUNK_SIZE,
    BinaryStream,
    BlobReader,
    BlobRef,
    check_media_type,
    check_sha256,
    chunks_of,
)

__all__ = ["LocalBlobStore", "MemoryBlobStore", "UnconfiguredBlobStore"]

#: The entity a missing blob is reported as.
BLOB = "blob"


class LocalBlobStore:
    """Blobs as files under ``root``: ``root/ab/cd/<sha256>``, written once, read checked.

    A put streams ``data`` into a temporary file under ``root/.incoming``
    (hashing as it writes, ``chunk_size`` bytes at a time, so a large blob
    is never whole in memory), flushes it to disk and moves it to its
    address with ``os.replace``, which is atomic: a reader sees the whole
    blob or none. Files are left read-only. Putting bytes already held
    writes them again over the old file, which mends a blob altered on disk.
    A temporary file left by a crash holds no blob and may be removed.
    """

    def __init__(self, root: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE) -> None:
        self.root = Path(root).resolve()
        self.chunk_size = chunk_size

    def path_for(self, sha256: str) -> Path:
        """The file of the blob ``sha256``."""
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def uri(self, sha256: str) -> str:
        """``file://localhost/<root>/ab/cd/<sha256>``."""
        return f"file://localhost{self.path_for(sha256).as_posix()}"

    def put(self, data: bytes | BinaryStream, *, media_type: str) -> BlobRef:  # noqa: D102
        check_media_type(media_type)
        incoming = self.root / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=incoming, prefix="put-")
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks_of(data, self.chunk_size):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            target = self.path_for(sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(temporary, 0o444)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return BlobRef(sha256, size, media_type, self.uri(sha256))

    def open(self, sha256: str, *, size: int | None = None) -> BlobReader:  # noqa: D102
        path = self.path_for(sha256)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise NotFound(BLOB, sha256) from None

        def chunks() -> Iterator[bytes]:
            while chunk := handle.read(self.chunk_size):
                yield chunk

        return BlobReader(chunks(), sha256, size=size, close=handle.close)

    def exists(self, sha256: str) -> bool:  # noqa: D102
        return self.path_for(sha256).is_file()


class MemoryBlobStore:
    """Blobs in a dictionary, for the in-memory store and tests: same rules as the folder."""

    def __init__(self, *, chunk_size: int = CHUNK_SIZE) -> None:
        self.chunk_size = chunk_size
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def uri(self, sha256: str) -> str:
        """``memory://blobs/<sha256>``."""
        return f"memory://blobs/{check_sha256(sha256)}"

    def put(self, data: bytes | BinaryStream, *, media_type: str) -> BlobRef:  # noqa: D102
        check_media_type(media_type)
        digest = hashlib.sha256()
        parts = []
        for chunk in chunks_of(data, self.chunk_size):
            digest.update(chunk)
            parts.append(chunk)
        content = b"".join(parts)
        sha256 = digest.hexdigest()
        with self._lock:
            self._blobs[sha256] = content
        return BlobRef(sha256, len(content), media_type, self.uri(sha256))

    def open(self, sha256: str, *, size: int | None = None) -> BlobReader:  # noqa: D102
        check_sha256(sha256)
        with self._lock:
            content = self._blobs.get(sha256)
        if content is None:
            raise NotFound(BLOB, sha256)
        step = self.chunk_size
        chunks = (content[i : i + step] for i in range(0, len(content), step))
        return BlobReader(chunks, sha256, size=size)

    def exists(self, sha256: str) -> bool:  # noqa: D102
        check_sha256(sha256)
        with self._lock:
            return sha256 in self._blobs


class UnconfiguredBlobStore:
    """The blob store of a host that named none: every use is ``NotConfigured`` saying what to do.

    A PostgreSQL-backed Velocity must not keep evidence bytes in a process's
    memory while their index rows outlive it, so it gets no silent default.
    """

    def __init__(self, variable: str) -> None:
        self._variable = variable

    def _refuse(self) -> NotConfigured:
        return NotConfigured(
            "no blob store is configured for evidence bytes",
            f"pass blob_store=LocalBlobStore(folder) to Velocity.from_url or set ${self._variable}",
        )

    def uri(self, sha256: str) -> str:  # noqa: D102
        raise self._refuse()

    def put(self, data: bytes | BinaryStream, *, media_type: str) -> BlobRef:  # noqa: D102
        raise self._refuse()

    def open(self, sha256: str, *, size: int | None = None) -> BlobReader:  # noqa: D102
        raise self._refuse()

    def exists(self, sha256: str) -> bool:  # noqa: D102
        raise self._refuse()
