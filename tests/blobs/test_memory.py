"""MemoryBlobStore: the same contract as the local store, without a disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tunelog.blobs import open_blobs
from tunelog.blobs.base import BlobStore
from tunelog.blobs.memory import MemoryBlobStore
from tunelog.errors import UsageError


def test_round_trip_dedup_and_delete(tmp_path: Path) -> None:
    store = open_blobs("memory://")
    assert isinstance(store, MemoryBlobStore)
    typed: BlobStore = store
    data = b"some bytes" * 1000
    digest = hashlib.sha256(data).hexdigest()
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    assert typed.put_file(src) == (digest, len(data))
    assert typed.put_bytes(data) == (digest, len(data))
    assert typed.put_stream([data[:3], data[3:]]) == (digest, len(data))
    assert list(typed.iter_shas()) == [digest]
    assert typed.exists(digest) and typed.size(digest) == len(data)
    assert typed.open(digest).read() == data
    assert typed.read_range(digest, 5, 5) == b"bytes"
    assert typed.local_path(digest) is None
    for sha in list(typed.iter_shas()):
        typed.delete(sha)
    typed.delete(digest)
    assert not typed.exists(digest)
    with pytest.raises(FileNotFoundError, match="in-memory"):
        typed.open(digest)


def test_invalid_hash_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        MemoryBlobStore().open("nope")
