"""Blobs in a dict, for ``TUNELOG_MODE=disabled`` and tests: nothing touches the disk."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from tunelog.blobs.local import check_sha256
from tunelog.errors import UsageError

__all__ = ["MemoryBlobStore"]

_CHUNK = 4 << 20


class MemoryBlobStore:
    """Content-addressed blobs held in memory for the life of the process. Thread-safe."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryBlobStore({len(self._blobs)} blobs)"

    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a file's content; return ``(sha256, size)``."""
        with open(path, "rb") as f:
            return self.put_stream(iter(lambda: f.read(_CHUNK), b""))

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; return ``(sha256, size)``."""
        sha = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._blobs.setdefault(sha, bytes(data))
        return sha, len(data)

    def put_stream(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Store the concatenation of ``chunks``; return ``(sha256, size)``."""
        return self.put_bytes(b"".join(chunks))

    def open(self, sha256: str) -> BinaryIO:
        """A seekable reader of the blob. Raises FileNotFoundError if it is missing."""
        return io.BytesIO(self._get(sha256))

    def read_range(self, sha256: str, start: int, length: int) -> bytes:
        """Up to ``length`` bytes from offset ``start`` (fewer at the end of the blob)."""
        if start < 0 or length < 0:
            raise UsageError(f"read_range needs start >= 0 and length >= 0, got {start} and {length}.")
        return self._get(sha256)[start : start + length]

    def exists(self, sha256: str) -> bool:
        return check_sha256(sha256) in self._blobs

    def size(self, sha256: str) -> int:
        return len(self._get(sha256))

    def local_path(self, sha256: str) -> Path | None:
        """Always None: memory blobs have no file."""
        check_sha256(sha256)
        return None

    def delete(self, sha256: str) -> None:
        """Remove a blob; deleting a missing blob is not an error."""
        with self._lock:
            self._blobs.pop(check_sha256(sha256), None)

    def iter_shas(self) -> Iterator[str]:
        """Every stored blob's hash (a snapshot, so deleting while iterating is safe)."""
        with self._lock:
            shas = list(self._blobs)
        return iter(shas)

    def _get(self, sha256: str) -> bytes:
        try:
            return self._blobs[check_sha256(sha256)]
        except KeyError:
            raise FileNotFoundError(
                errno.ENOENT,
                f"blob {sha256} is not in this in-memory blob store (disabled mode keeps blobs only "
                "for the life of the process)",
            ) from None
