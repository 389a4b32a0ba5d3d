"""Content-addressed blobs as files: ``root/ab/cd/<sha256>``, written atomically.

A blob is written to a temporary file in ``root/tmp/`` and moved into place with :func:`os.replace`,
so a reader sees either the whole blob or none of it. Blob files are created read-only, so that a
download that hard-links one cannot be edited in place by accident.

``put_file`` hashes the file first and copies it only if the blob is new, so logging the same file
again costs one read. The copy is done by the kernel (:func:`os.copy_file_range`) where it can be.
Measured on a 1 GiB file on 2 cores (bench/blobs_bench.py): OpenSSL's SHA-256 hashes at 1.2-1.5 GiB/s,
4-6x ``sha256sum``; the first log runs at 2-3x ``sha256sum``. One pipelined hash-and-write pass was
up to ~20% faster for a first log, but it must write before it knows the hash, so a second log would
cost a full copy instead of a hash.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import queue
import stat
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from tunelog.errors import UsageError

__all__ = ["LocalBlobStore", "check_sha256"]

log = logging.getLogger(__name__)

_CHUNK = 4 << 20  # big enough that hashlib releases the GIL and syscalls are few
_PIPELINE_MIN = 2 * _CHUNK  # below this, a hashing thread costs more than it overlaps
_TMP_MAX_AGE = 3600.0  # temp files older than this belong to a crashed writer
_HEX = frozenset("0123456789abcdef")
# copy_file_range refuses some pairs of files (other filesystems, old kernels, special files).
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF}


def check_sha256(sha256: str) -> str:
    """Return ``sha256`` if it is 64 lowercase hex digits, else raise :class:`UsageError`."""
    if not isinstance(sha256, str) or len(sha256) != 64 or not _HEX.issuperset(sha256):
        raise UsageError(
            f"{sha256!r} is not a blob hash: blobs are named by their SHA-256 as 64 lowercase hex "
            "digits, as returned by put_file/put_bytes/put_stream."
        )
    return sha256


class LocalBlobStore:
    """Blobs stored as files under ``root``.

    Args:
        root: the blob directory; created if missing.
        fsync: flush each new blob (and its directory entry) to disk before it is visible, so a
            power loss cannot leave a store row pointing at a missing or torn blob. Costs about
            0.4 ms per small blob and 10-30% of a large blob's first write (bench/blobs_bench.py).
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self._tmp_dir = self.root / "tmp"
        self._touch_failures = 0
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        self._clean_stale_temp_files()

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    # -- writing -------------------------------------------------------------------------------

    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a file's content; return ``(sha256, size)``.

        The file is hashed first; only a new blob is copied. If the file changes while it is being
        stored (its size or times move), the blob is named by the content that was actually copied.
        """
        with open(path, "rb", buffering=0) as src:
            before = os.fstat(src.fileno())
            if not stat.S_ISREG(before.st_mode):  # a pipe or device can be read only once
                return self.put_stream(_read_chunks(src))
            sha, size = _hash_fd(src, before.st_size)
            if self._present(sha, size):
                return sha, size
            fd, tmp = self._new_temp()
            try:
                with os.fdopen(fd, "wb", buffering=0) as dst:
                    copied = _copy_fd(src.fileno(), dst.fileno())
                    after = os.fstat(src.fileno())
                    if copied != size or _changed(before, after):
                        log.warning("%s changed while it was being stored; storing the copy taken", path)
                        with open(tmp, "rb", buffering=0) as again:
                            sha, size = _hash_fd(again, copied)
                        if self._present(sha, size):
                            _unlink_quietly(tmp)
                            return sha, size
                    if self.fsync:
                        os.fsync(dst.fileno())
                self._install(tmp, sha)
            except BaseException:
                _unlink_quietly(tmp)
                raise
        return sha, size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; return ``(sha256, size)``."""
        sha = hashlib.sha256(data).hexdigest()
        size = len(data)
        if self._present(sha, size):
            return sha, size
        fd, tmp = self._new_temp()
        try:
            try:
                _write_all(fd, memoryview(data))
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            self._install(tmp, sha)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return sha, size

    def put_stream(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Store the concatenation of ``chunks``; return ``(sha256, size)``."""
        h = hashlib.sha256()
        size = 0
        fd, tmp = self._new_temp()
        try:
            with os.fdopen(fd, "wb") as dst:
                for chunk in chunks:
                    h.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                dst.flush()
                sha = h.hexdigest()
                if self._present(sha, size):
                    dst.close()
                    _unlink_quietly(tmp)
                    return sha, size
                if self.fsync:
                    os.fsync(dst.fileno())
            self._install(tmp, sha)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return sha, size

    # -- reading -------------------------------------------------------------------------------

    def open(self, sha256: str) -> BinaryIO:
        """A seekable binary reader of the blob. Raises FileNotFoundError if it is missing."""
        path = self.path_of(sha256)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise self._missing(sha256) from None

    def read_range(self, sha256: str, start: int, length: int) -> bytes:
        """Up to ``length`` bytes from offset ``start`` (fewer at the end of the blob)."""
        if start < 0 or length < 0:
            raise UsageError(f"read_range needs start >= 0 and length >= 0, got {start} and {length}.")
        with self.open(sha256) as f:
            f.seek(start)
            return f.read(length)

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def size(self, sha256: str) -> int:
        try:
            return self.path_of(sha256).stat().st_size
        except FileNotFoundError:
            raise self._missing(sha256) from None

    def local_path(self, sha256: str) -> Path | None:
        """The blob's file, or None if the blob is not stored. Treat it as read-only."""
        path = self.path_of(sha256)
        return path if path.is_file() else None

    def path_of(self, sha256: str) -> Path:
        """Where the blob with this hash lives (or would live)."""
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    # -- housekeeping --------------------------------------------------------------------------

    def delete(self, sha256: str) -> None:
        """Remove a blob; deleting a missing blob is not an error."""
        _unlink_quietly(self.path_of(sha256))

    def iter_shas(self) -> Iterator[str]:
        """Every stored blob's hash, in no particular order (for garbage collection)."""
        for top in _scandir_names(self.root):
            if len(top) != 2 or not _HEX.issuperset(top):
                continue
            for sub in _scandir_names(self.root / top):
                if len(sub) != 2 or not _HEX.issuperset(sub):
                    continue
                prefix = top + sub
                for name in _scandir_names(self.root / top / sub):
                    if len(name) == 64 and name.startswith(prefix) and _HEX.issuperset(name):
                        yield name

    # -- internals -----------------------------------------------------------------------------

    def _present(self, sha: str, size: int) -> bool:
        path = self.path_of(sha)
        try:
            found = path.stat().st_size
        except FileNotFoundError:
            return False
        if found != size:  # torn by a crash of a writer that did not fsync: write it again
            log.warning("blob %s has %d bytes instead of %d; rewriting it", sha, found, size)
            return False
        # A fresh mtime tells garbage collection that the blob was just wanted again, so a collector
        # that spares recently modified blobs cannot delete it before its new reference is committed.
        try:
            os.utime(path)
        except OSError as exc:
            self._touch_failures += 1
            if self._touch_failures == 1:
                log.warning(
                    "cannot refresh the mtime of blobs in %s (%s); GC grace periods may not hold",
                    self.root,
                    exc,
                )
        return True

    def _new_temp(self) -> tuple[int, Path]:
        tmp = self._tmp_dir / f"{uuid.uuid4().hex}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        try:
            # 0o444 (less the umask): the open descriptor may write, later opens may only read.
            return os.open(tmp, flags, 0o444), tmp
        except FileNotFoundError:  # someone removed root/tmp: make it again
            self._tmp_dir.mkdir(parents=True, exist_ok=True)
            return os.open(tmp, flags, 0o444), tmp

    def _install(self, tmp: Path, sha: str) -> None:
        dest = self.path_of(sha)
        try:
            os.replace(tmp, dest)
        except FileNotFoundError:
            if not tmp.exists():
                raise
            dest.parent.mkdir(parents=True, exist_ok=True)
            if self.fsync:
                _fsync_dir(dest.parent.parent)
                _fsync_dir(dest.parent.parent.parent)
            os.replace(tmp, dest)
        if self.fsync:
            _fsync_dir(dest.parent)

    def _missing(self, sha256: str) -> FileNotFoundError:
        return FileNotFoundError(
            errno.ENOENT,
            f"blob {sha256} is not in the blob store at {self.root}: it was never stored here, or it "
            "was garbage-collected after everything referring to it was deleted",
            str(self.path_of(sha256)),
        )

    def _clean_stale_temp_files(self) -> None:
        cutoff = time.time() - _TMP_MAX_AGE
        removed = 0
        try:
            entries = list(os.scandir(self._tmp_dir))
        except FileNotFoundError:
            return
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:  # another process cleaned it first
                continue
        if removed:
            log.info("removed %d temporary file(s) left by crashed writers in %s", removed, self._tmp_dir)


def _hash_fd(f: BinaryIO, expected_size: int) -> tuple[str, int]:
    """SHA-256 and length of ``f`` from its current position to its end.

    For large files one thread reads while another hashes (both release the GIL), into a few
    reused buffers, so disk reads and hashing overlap when the file is not in the page cache.
    """
    h = hashlib.sha256()
    if expected_size < _PIPELINE_MIN:
        size = 0
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        while n := f.readinto(buf):  # type: ignore[attr-defined]
            h.update(view[:n])
            size += n
        return h.hexdigest(), size

    free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
    full: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
    for _ in range(3):
        free.put(bytearray(_CHUNK))

    def hasher() -> None:
        while (item := full.get()) is not None:
            buf, n = item
            h.update(memoryview(buf)[:n])
            free.put(buf)

    worker = threading.Thread(target=hasher, name="tunelog-blob-hash", daemon=True)
    worker.start()
    size = 0
    try:
        while True:
            buf = free.get()
            n = f.readinto(buf)  # type: ignore[attr-defined]
            if not n:
                break
            size += n
            full.put((buf, n))
    finally:
        full.put(None)
        worker.join()
    return h.hexdigest(), size


def _copy_fd(src: int, dst: int) -> int:
    """Copy all of ``src`` (from offset 0) to ``dst``; return the number of bytes copied."""
    offset = 0
    try:
        while n := os.copy_file_range(src, dst, 1 << 30, offset, offset):
            offset += n
        return offset
    except OSError as exc:
        if offset or exc.errno not in _NO_KERNEL_COPY:
            raise
    except AttributeError:  # not Linux
        pass
    os.lseek(src, 0, os.SEEK_SET)
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    while n := os.readv(src, [buf]):
        _write_all(dst, view[:n])
        offset += n
    return offset


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _changed(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns, a.st_ctime_ns) != (b.st_size, b.st_mtime_ns, b.st_ctime_ns)


def _read_chunks(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(_CHUNK):
        yield chunk


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms where directories cannot be opened (Windows): nothing to flush
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):  # some filesystems cannot fsync a directory
            raise
    finally:
        os.close(fd)


def _scandir_names(path: Path) -> list[str]:
    try:
        return [e.name for e in os.scandir(path)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
