"""The blob store adapters: content-addressed, streamed in chunks, checked on every read."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from velocity_domain.adapters.blobs import LocalBlobStore, MemoryBlobStore, UnconfiguredBlobStore
from velocity_domain.errors import BlobTampered, NotConfigured, NotFound, ValidationFailed
from velocity_domain.intel.blobs import BlobStore

CHUNK = 1024
Tamper = Callable[[str, bytes], None]


def _tamper_file(store: LocalBlobStore) -> Tamper:
    def tamper(sha256: str, content: bytes) -> None:
        path = store.path_for(sha256)
        path.chmod(0o644)
        path.write_bytes(content)

    return tamper


def _tamper_memory(store: MemoryBlobStore) -> Tamper:
    def tamper(sha256: str, content: bytes) -> None:
        store._blobs[sha256] = content  # what a disk fault or an intruder would do

    return tamper


@pytest.fixture(params=["memory", "local"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[BlobStore, Tamper]:
    """Each adapter with a small chunk size, and how to alter a blob behind its back."""
    if request.param == "memory":
        memory = MemoryBlobStore(chunk_size=CHUNK)
        return memory, _tamper_memory(memory)
    local = LocalBlobStore(tmp_path / "blobs", chunk_size=CHUNK)
    return local, _tamper_file(local)


class CountingStream:
    """A binary stream that records the size of every read asked of it."""

    def __init__(self, content: bytes) -> None:
        self._inner = io.BytesIO(content)
        self.asked: list[int] = []

    def read(self, size: int = -1, /) -> bytes:
        self.asked.append(size)
        return self._inner.read(size)


def test_bytes_come_back_under_their_sha256(blobs: tuple[BlobStore, Tamper]) -> None:
    store, _ = blobs
    ref = store.put(b"call audio", media_type="audio/mpeg")
    assert ref.sha256 == hashlib.sha256(b"call audio").hexdigest()
    assert (ref.size, ref.media_type, ref.uri) == (10, "audio/mpeg", store.uri(ref.sha256))
    assert store.exists(ref.sha256)
    assert store.open(ref.sha256).read() == b"call audio"
    assert not store.exists(hashlib.sha256(b"other").hexdigest())


def test_an_empty_blob_is_a_blob(blobs: tuple[BlobStore, Tamper]) -> None:
    store, _ = blobs
    ref = store.put(b"", media_type="application/octet-stream")
    assert (ref.size, store.open(ref.sha256, size=0).read()) == (0, b"")


def test_a_stream_is_read_in_chunks_and_never_whole(blobs: tuple[BlobStore, Tamper]) -> None:
    store, _ = blobs
    content = os.urandom(5 * CHUNK + 17)
    stream = CountingStream(content)
    ref = store.put(stream, media_type="video/mp4")
    assert ref.size == len(content)
    assert set(stream.asked) == {CHUNK}
    assert len(stream.asked) == 7  # six chunks (the last short) and the empty read at the end
    chunks = list(store.open(ref.sha256, size=len(content)))
    assert [len(c) for c in chunks] == [CHUNK] * 5 + [17]
    assert b"".join(chunks) == content


def test_the_same_bytes_twice_are_one_blob(blobs: tuple[BlobStore, Tamper]) -> None:
    store, _ = blobs
    first = store.put(b"photo", media_type="image/jpeg")
    again = store.put(io.BytesIO(b"photo"), media_type="image/jpeg")
    assert (again.sha256, again.uri) == (first.sha256, first.uri)


def test_altered_bytes_are_reported_naming_the_hash(blobs: tuple[BlobStore, Tamper]) -> None:
    store, tamper = blobs
    ref = store.put(b"We can stretch to 1.3 Cr", media_type="audio/wav")
    tamper(ref.sha256, b"We can stretch to 1.9 Cr")
    with pytest.raises(BlobTampered) as err:
        store.open(ref.sha256).read()
    assert err.value.sha256 == ref.sha256
    assert ref.sha256 in str(err.value)
    assert err.value.to_dict()["code"] == "blob_tampered"


def test_a_streaming_reader_ends_in_the_error_not_in_success(
    blobs: tuple[BlobStore, Tamper],
) -> None:
    store, tamper = blobs
    content = os.urandom(3 * CHUNK)
    ref = store.put(content, media_type="video/mp4")
    tamper(ref.sha256, content[:-1] + bytes([content[-1] ^ 1]))
    seen: list[bytes] = []

    def stream() -> None:
        for chunk in store.open(ref.sha256):
            seen.append(chunk)

    with pytest.raises(BlobTampered):
        stream()
    assert len(seen) == 3  # the chunks passed, and the end of the stream was refused


def test_a_blob_of_another_size_than_indexed_is_tampered(blobs: tuple[BlobStore, Tamper]) -> None:
    store, _ = blobs
    ref = store.put(b"abc", media_type="text/plain")
    with pytest.raises(BlobTampered, match="3 bytes stored, 4 indexed"):
        store.open(ref.sha256, size=4).read()


def test_putting_the_bytes_again_mends_an_altered_blob(blobs: tuple[BlobStore, Tamper]) -> None:
    store, tamper = blobs
    ref = store.put(b"original", media_type="text/plain")
    tamper(ref.sha256, b"forged!!")
    store.put(b"original", media_type="text/plain")
    assert store.open(ref.sha256).read() == b"original"


def test_a_missing_blob_is_not_found(blobs: tuple[BlobStore, Tamper]) -> None:
    store, _ = blobs
    missing = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(NotFound) as err:
        store.open(missing)
    assert (err.value.entity, err.value.key) == ("blob", missing)


@pytest.mark.parametrize("bad", ["ABC", "0" * 63, "G" * 64, "0" * 64 + "\n", "../" + "0" * 61])
def test_a_malformed_hash_is_refused_naming_it(blobs: tuple[BlobStore, Tamper], bad: str) -> None:
    store, _ = blobs
    for call in (store.open, store.exists, store.uri):
        with pytest.raises(ValidationFailed) as err:
            call(bad)
        assert err.value.field == "sha256"


@pytest.mark.parametrize("bad", ["", "audio", "Audio/MPEG", "audio/mpeg; x=1", "a/" + "b" * 300])
def test_a_bad_media_type_is_refused_before_storing(
    blobs: tuple[BlobStore, Tamper], bad: str
) -> None:
    store, _ = blobs
    with pytest.raises(ValidationFailed) as err:
        store.put(b"x", media_type=bad)
    assert err.value.field == "media_type"
    assert not store.exists(hashlib.sha256(b"x").hexdigest())


def test_a_text_stream_is_refused_naming_data(blobs: tuple[BlobStore, Tamper]) -> None:
    store, _ = blobs
    with pytest.raises(ValidationFailed) as err:
        store.put(io.StringIO("text"), media_type="text/plain")  # type: ignore[arg-type]
    assert err.value.field == "data"


# -- the folder adapter's own promises ---------------------------------------------------------


def test_a_local_blob_lives_at_its_address_read_only(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    ref = store.put(b"evidence", media_type="image/png")
    path = tmp_path / ref.sha256[:2] / ref.sha256[2:4] / ref.sha256
    assert path.read_bytes() == b"evidence"
    assert not os.access(path, os.W_OK) or os.geteuid() == 0
    assert path.stat().st_mode & 0o222 == 0
    assert ref.uri == f"file://localhost{path.resolve().as_posix()}"
    assert list((tmp_path / ".incoming").iterdir()) == []


def test_a_failed_put_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, chunk_size=CHUNK)

    class Broken:
        def __init__(self) -> None:
            self.reads = 0

        def read(self, size: int = -1, /) -> bytes:
            self.reads += 1
            if self.reads > 2:
                raise OSError("upload cut off")
            return b"x" * size

    with pytest.raises(OSError, match="upload cut off"):
        store.put(Broken(), media_type="video/mp4")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == []


def test_a_reader_left_half_read_releases_its_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, chunk_size=CHUNK)
    ref = store.put(os.urandom(4 * CHUNK), media_type="video/mp4")
    with store.open(ref.sha256) as reader:
        chunks: Iterator[bytes] = iter(reader)
        next(chunks)
    with pytest.raises(ValueError, match="closed file"):
        next(chunks)


def test_without_a_configured_store_every_use_says_what_to_do() -> None:
    store = UnconfiguredBlobStore("VELOCITY_BLOB_ROOT")
    with pytest.raises(NotConfigured, match="VELOCITY_BLOB_ROOT"):
        store.put(b"x", media_type="text/plain")
    with pytest.raises(NotConfigured):
        store.open("0" * 64)
