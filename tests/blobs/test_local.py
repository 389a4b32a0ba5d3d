"""LocalBlobStore against real files in a temporary directory."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunelog.blobs import open_blobs
from tunelog.blobs.base import BlobStore
from tunelog.blobs.local import LocalBlobStore
from tunelog.errors import UsageError


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp")


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def test_satisfies_the_protocol(store: LocalBlobStore) -> None:
    typed: BlobStore = store
    assert typed.exists("0" * 64) is False


def test_put_bytes_lays_out_by_hash_and_reads_back(store: LocalBlobStore) -> None:
    data = b"hello blob\n"
    digest, size = store.put_bytes(data)
    assert (digest, size) == (sha(data), len(data))
    path = store.root / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == data
    assert store.local_path(digest) == path
    assert store.exists(digest) and store.size(digest) == len(data)
    with store.open(digest) as f:
        assert f.seekable() and f.read() == data
    assert store.read_range(digest, 6, 4) == b"blob"
    assert store.read_range(digest, 6, 1000) == b"blob\n"
    assert store.read_range(digest, 1000, 10) == b""
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), "blobs are read-only"


def test_put_file_small_and_large_match_sha256(store: LocalBlobStore, tmp_path: Path) -> None:
    for size in (0, 1, 4 << 20, (9 << 20) + 7):  # inline hashing, and the two-thread pipeline
        src = tmp_path / f"f{size}"
        data = (os.urandom(1 << 16) * (size // (1 << 16) + 1))[:size]
        src.write_bytes(data)
        assert store.put_file(src) == (sha(data), size)
        assert store.local_path(sha(data)) is not None
        assert store.local_path(sha(data)).read_bytes() == data  # type: ignore[union-attr]


def test_same_content_is_stored_once_and_not_rewritten(store: LocalBlobStore, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(data)
    b.write_bytes(data)
    digest, _ = store.put_file(a)
    inode = store.path_of(digest).stat().st_ino
    assert store.put_file(b)[0] == digest
    assert store.put_bytes(data)[0] == digest
    assert store.put_stream([data[:10], data[10:]])[0] == digest
    assert store.path_of(digest).stat().st_ino == inode, "a present blob is not written again"
    assert blob_files(store.root) == [store.path_of(digest)]
    assert list((store.root / "tmp").iterdir()) == [], "discarded temp files are removed"


def test_put_stream_concatenates_chunks(store: LocalBlobStore) -> None:
    chunks = [b"a" * 10, bytearray(b"b" * 5), memoryview(b"c" * 3)]
    digest, size = store.put_stream(chunks)  # type: ignore[arg-type]
    assert (digest, size) == (sha(b"a" * 10 + b"b" * 5 + b"c" * 3), 18)


@pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="needs /dev/fd to name a pipe")
def test_put_file_of_a_pipe_is_streamed(store: LocalBlobStore) -> None:
    read_fd, write_fd = os.pipe()
    data = os.urandom(200_000)

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as w:
            w.write(data)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        assert store.put_file(f"/dev/fd/{read_fd}") == (sha(data), len(data))
    finally:
        feeder.join()
        os.close(read_fd)


def test_a_torn_blob_is_rewritten(store: LocalBlobStore) -> None:
    data = b"x" * 1000
    digest, _ = store.put_bytes(data)
    path = store.path_of(digest)
    path.chmod(0o644)
    path.write_bytes(data[:10])  # what a crash of a writer without fsync could leave
    assert store.put_bytes(data) == (digest, 1000)
    assert path.read_bytes() == data


def test_failed_stream_leaves_no_blob_and_no_temp(store: LocalBlobStore) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise RuntimeError("producer failed")

    with pytest.raises(RuntimeError):
        store.put_stream(chunks())
    assert blob_files(store.root) == []
    assert list((store.root / "tmp").iterdir()) == []


def test_missing_blob_raises_file_not_found_with_advice(store: LocalBlobStore) -> None:
    missing = "ab" * 32
    with pytest.raises(FileNotFoundError, match="not in the blob store"):
        store.open(missing)
    with pytest.raises(FileNotFoundError):
        store.size(missing)
    with pytest.raises(FileNotFoundError):
        store.read_range(missing, 0, 1)
    assert store.local_path(missing) is None
    assert not store.exists(missing)


@pytest.mark.parametrize("bad", ["", "abc", "AB" * 32, "g" * 64, "../" * 21 + "a"])
def test_invalid_hash_is_a_usage_error(store: LocalBlobStore, bad: str) -> None:
    with pytest.raises(UsageError, match="64 lowercase hex"):
        store.exists(bad)
    with pytest.raises(ValueError):
        store.open(bad)


def test_delete_and_iter_shas(store: LocalBlobStore) -> None:
    digests = {store.put_bytes(bytes([i]) * 10)[0] for i in range(20)}
    (store.root / "ab").mkdir(exist_ok=True)
    (store.root / "ab" / "not-a-blob").write_text("ignored")
    (store.root / "README").write_text("ignored")
    assert set(store.iter_shas()) == digests
    victim = sorted(digests)[0]
    store.delete(victim)
    store.delete(victim)  # deleting twice is fine
    assert not store.exists(victim)
    assert set(store.iter_shas()) == digests - {victim}


def test_stale_temp_files_are_cleaned_on_open(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    LocalBlobStore(root)
    stale, fresh = root / "tmp" / "old.tmp", root / "tmp" / "new.tmp"
    stale.write_bytes(b"half a blob")
    fresh.write_bytes(b"a writer still busy")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    LocalBlobStore(root)
    assert not stale.exists()
    assert fresh.exists()


def test_concurrent_writers_of_the_same_content(store: LocalBlobStore) -> None:
    data = os.urandom(1 << 20)
    results: list[tuple[str, int]] = []

    def put() -> None:
        for _ in range(5):
            results.append(store.put_bytes(data))

    threads = [threading.Thread(target=put) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {(sha(data), len(data))}
    assert blob_files(store.root) == [store.path_of(sha(data))]


def test_without_fsync_is_equally_correct(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "b", fsync=False)
    digest, _ = store.put_bytes(b"quick")
    assert store.open(digest).read() == b"quick"


def test_open_blobs_by_url(tmp_path: Path) -> None:
    store = open_blobs(f"file://{tmp_path}/blobs")
    assert isinstance(store, LocalBlobStore) and store.root == tmp_path / "blobs"
    assert (tmp_path / "blobs" / "tmp").is_dir()
    with_space = open_blobs(f"file://{tmp_path}/my%20blobs")
    assert isinstance(with_space, LocalBlobStore) and with_space.root == tmp_path / "my blobs"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://bucket/prefix", r"file://, memory://"),
        ("/abs/path", r"file://, memory://"),
        ("file://relative/path", "three slashes"),
    ],
)
def test_open_blobs_rejects_bad_urls(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        open_blobs(url)


def test_a_deduplicated_put_refreshes_the_blob_mtime_for_gc(store: LocalBlobStore) -> None:
    digest, _ = store.put_bytes(b"wanted again")
    path = store.path_of(digest)
    long_ago = time.time() - 86_400
    os.utime(path, (long_ago, long_ago))
    store.put_bytes(b"wanted again")
    assert path.stat().st_mtime > long_ago + 3600


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="needs a tmpfs at /dev/shm")
def test_put_file_from_another_filesystem(store: LocalBlobStore) -> None:
    # tmpfs → the store's filesystem: Linux refuses copy_file_range across filesystem types, so this
    # takes the read/write fallback where it applies.
    data = os.urandom((9 << 20) + 123)
    src = Path("/dev/shm") / f"tunelog-test-{os.getpid()}.bin"
    try:
        src.write_bytes(data)
        assert store.put_file(src) == (sha(data), len(data))
    finally:
        src.unlink(missing_ok=True)
    assert store.open(sha(data)).read() == data
