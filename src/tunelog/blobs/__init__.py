"""Blob stores: content-addressed bytes named by their SHA-256. ``open_blobs(url)`` picks one."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from tunelog.errors import UsageError

if TYPE_CHECKING:
    from tunelog.blobs.base import BlobStore

__all__ = ["SUPPORTED_SCHEMES", "open_blobs"]

SUPPORTED_SCHEMES = ("file", "memory")


def open_blobs(url: str) -> BlobStore:
    """Open the blob store that ``url`` names.

    Args:
        url: ``file:///absolute/path`` for blobs as files in that directory (created if missing;
            build it with :meth:`pathlib.Path.as_uri`, which quotes spaces and ``%``), or
            ``memory://`` for blobs kept in memory for the life of the process.

    Raises:
        UsageError: the URL's scheme is not supported, or a ``file`` URL is not absolute.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise UsageError(
                f"Blob store URL {url!r} names host {parts.netloc!r}: file URLs take an absolute path "
                f"after three slashes, e.g. 'file:///{parts.netloc}{parts.path}'."
            )
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise UsageError(f"Blob store URL {url!r} has no absolute path: use 'file:///absolute/path'.")
        from tunelog.blobs.local import LocalBlobStore

        return LocalBlobStore(path)
    if scheme == "memory":
        from tunelog.blobs.memory import MemoryBlobStore

        return MemoryBlobStore()
    supported = ", ".join(f"{s}://" for s in SUPPORTED_SCHEMES)
    raise UsageError(
        f"Unsupported blob store URL {url!r}: the scheme must be one of {supported} "
        "(for example 'file:///home/me/.local/share/tunelog/blobs' or 'memory://')."
    )
