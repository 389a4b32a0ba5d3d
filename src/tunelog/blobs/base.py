"""The BlobStore Protocol: content-addressed bytes, named by their SHA-256 (hex).

The same content is stored once however many artifacts or runs hold it. Writes are atomic: a blob is
either fully there under its hash or not there at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol


class BlobStore(Protocol):
    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a file's content; return ``(sha256, size)``. Hashing and copying overlap."""
        ...

    def put_bytes(self, data: bytes) -> tuple[str, int]: ...

    def put_stream(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Store the concatenation of ``chunks`` (for content produced on the fly)."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """A seekable binary reader. Raises FileNotFoundError if the blob is missing."""
        ...

    def read_range(self, sha256: str, start: int, length: int) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...

    def size(self, sha256: str) -> int: ...

    def local_path(self, sha256: str) -> Path | None:
        """The blob's path on the local filesystem, if it has one (lets downloads copy/link fast)."""
        ...

    def delete(self, sha256: str) -> None: ...

    def iter_shas(self) -> Iterator[str]:
        """Every stored blob's hash (for garbage collection)."""
        ...
