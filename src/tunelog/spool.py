"""The spool: a per-process journal of what the background writer has taken but not yet committed.

A SQLite commit costs a few hundred microseconds however small it is, so committing every recorded
call would cost more than the call's whole recording, and committing every few milliseconds lets a
killed process lose what came in since. The writer therefore appends each batch it drains to this
journal, one ``write`` of a framed JSON record with no fsync (a killed process loses nothing the
kernel has accepted), and commits to the store at most every tenth of a second, after which the
journal is emptied.

Whoever opens the data directory next (a new run, ``Api``, ``tunelog ui``) calls :func:`recover`: a
journal whose owner has died (its ``flock`` is free) is replayed into the store in one transaction
and deleted. Records are JSON, not pickles, so reading one can never run code; even so a journal is
only read if it belongs to the current user and nobody else may write to it. A value JSON cannot
hold (a pydantic model, a class, a numpy scalar) is journalled as the JSON the store would write.

Files are ``<dir>/spool/<pid>-<random>.spool``. A new one is created under a temporary name, locked,
then renamed, so a recoverer never sees an unlocked live journal.
"""

from __future__ import annotations

import contextlib
import functools
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunelog.store.base import HistoryRow, RunEvent, RunKey, WriteBatch

if TYPE_CHECKING:
    from tunelog.store.base import Store

try:  # the journal needs flock to tell a live owner from a dead one; without it, no journal
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_FRAME = struct.Struct("<II")  # payload length, crc32 of the payload
_FORMAT = 1  # the record layout below; a record of another layout is refused, never guessed at
_SUFFIX = ".spool"
_BAD_SUFFIX = ".unreadable"


class JournalError(ValueError):
    """A journal record that cannot be replayed (damaged, or written by another tunelog)."""


def supported() -> bool:
    """Whether this platform can journal (it needs ``fcntl.flock``)."""
    return fcntl is not None


def _default(value: Any) -> Any:
    """What JSON cannot hold, as the store would write it (numpy and torch scalars by value)."""
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        return value.item()
    from tunelog.tracing import to_json

    return to_json(value)


@functools.cache
def _codec() -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]]:
    try:  # with tunelog[openai] (autolog's hot path): several times faster than json
        import orjson
    except ImportError:  # pragma: no cover - exercised where orjson is not installed
        import json

        enc = json.JSONEncoder(separators=(",", ":"), default=_default, ensure_ascii=False).encode
        return (lambda v: enc(v).encode()), json.loads
    return functools.partial(orjson.dumps, default=_default, option=orjson.OPT_NON_STR_KEYS), orjson.loads


def encode(batch: WriteBatch) -> bytes:
    """``batch`` as one JSON record (see :func:`decode`)."""
    spans = [
        (s.span_id, s.trace_id, s.parent_id, *s.run, s.name, s.kind, s.start_time, s.end_time, s.status,
         s.model, s.inputs, s.outputs, s.attributes, s.usage, s.cost_usd, s.error)
        for s in batch.spans
    ]  # fmt: skip
    record = (
        _FORMAT,
        [(*k, v) for k, v in batch.steps.items()],
        [(*k, v) for k, v in batch.history.items()],
        [(*k, v) for k, v in batch.run_updates.items()],
        [(*k, v) for k, v in batch.events.items()],
        spans,
    )
    return _codec()[0](record)


def decode(data: bytes) -> WriteBatch:
    """The batch :func:`encode` wrote. Raises :class:`JournalError` for anything else."""
    try:
        record = _codec()[1](data)
        if record[0] != _FORMAT:
            raise JournalError(
                f"a journal record of format {record[0]!r}; this tunelog reads format {_FORMAT}"
            )
        _, steps, history, updates, events, spans = record
        from tunelog.store.span_record import SpanRecord

        return WriteBatch(
            steps={
                RunKey(e, p, r): [(int(st), float(t), dict(v)) for st, t, v in rows]
                for e, p, r, rows in steps
            },
            history={RunKey(e, p, r): [HistoryRow(*row) for row in rows] for e, p, r, rows in history},
            run_updates={RunKey(e, p, r): dict(ch) for e, p, r, ch in updates},
            events={RunKey(e, p, r): [RunEvent(*ev) for ev in evs] for e, p, r, evs in events},
            spans=[
                SpanRecord(sid, tid, parent, RunKey(e, p, r), *rest)
                for sid, tid, parent, e, p, r, *rest in spans
            ],
        )
    except JournalError:
        raise
    except Exception as exc:
        raise JournalError(
            f"a journal record is not one tunelog wrote ({type(exc).__name__}: {exc})"
        ) from exc


class Spool:
    """The writer thread's journal (one per process and data directory; not thread-safe)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd = -1
        self._pid = 0
        self._path: Path | None = None
        self.dirty = False  # something appended since the last reset

    def append(self, batch: WriteBatch) -> None:
        """Journal ``batch``; raises OSError or an encoding error (the caller then commits at once)."""
        data = encode(batch)
        frame = _FRAME.pack(len(data), zlib.crc32(data)) + data
        fd = self._open()
        n = os.write(fd, frame)
        while n < len(frame):  # a regular file takes it all at once, short of a full disk
            n += os.write(fd, frame[n:])
        self.dirty = True

    def reset(self) -> None:
        """Everything journalled is committed: empty the journal."""
        if self.dirty and self._fd >= 0 and self._pid == os.getpid():
            os.ftruncate(self._fd, 0)  # O_APPEND: the next write lands at offset 0
        self.dirty = False

    def abandon(self) -> None:
        """Leave the journal to :func:`recover` (the store refused it): unlock it, start a new one."""
        self._release(unlink=False)

    def close(self) -> None:
        """Delete the journal (everything in it is committed)."""
        self._release(unlink=True)

    def _release(self, unlink: bool) -> None:
        if self._fd >= 0 and self._pid == os.getpid():
            if unlink and self._path is not None:
                with contextlib.suppress(FileNotFoundError):
                    self._path.unlink()
            os.close(self._fd)  # releases the flock
        self._fd, self._path, self.dirty = -1, None, False

    def _open(self) -> int:
        pid = os.getpid()
        if self._fd >= 0 and self._pid == pid:
            return self._fd
        # First use, or a forked child holding its parent's descriptor (and lock): a file of its own.
        if self._fd >= 0:  # the parent's: closing this copy leaves the parent's lock held by the parent
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd, self._path, self.dirty = -1, None, False
        if fcntl is None:  # pragma: no cover - Windows
            raise OSError("journalling needs fcntl.flock, which this platform lacks")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{pid}-{os.urandom(6).hex()}"
        tmp = self.directory / f"{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path = self.directory / f"{name}{_SUFFIX}"
            os.rename(tmp, path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self._fd, self._pid, self._path = fd, pid, path
        return fd


def read_batches(data: bytes) -> tuple[list[WriteBatch], bool]:
    """The batches framed in ``data``, up to the first torn or damaged record; and whether all were read."""
    out: list[WriteBatch] = []
    pos, end = 0, len(data)
    while pos + _FRAME.size <= end:
        size, crc = _FRAME.unpack_from(data, pos)
        start = pos + _FRAME.size
        payload = data[start : start + size]
        if len(payload) < size or zlib.crc32(payload) != crc:
            return out, False  # the process died inside this write
        out.append(decode(payload))
        pos = start + size
    return out, pos == end


def recover(store: Store, directory: Path) -> int:
    """Replay into ``store`` every journal in ``directory`` whose owner is gone, then delete it.

    Returns how many batches were replayed. A journal that cannot be read or written is renamed
    ``*.unreadable`` (kept for inspection, not tried again) and the error raised after the others
    are done.
    """
    return recover_dead(store, directory, _SUFFIX, _read_file)


def _read_file(fd: int, size: int) -> list[WriteBatch]:
    with open(fd, "rb", closefd=False) as f:
        return read_batches(f.read())[0]


def recover_dead(
    store: Store, directory: Path, suffix: str, read: Callable[[int, int], list[WriteBatch]]
) -> int:
    """Replay the journals named ``*<suffix>`` in ``directory`` whose owner is gone (their
    ``flock`` is free), each read by ``read(fd, size)``, then delete them; see :func:`recover`."""
    if fcntl is None:  # pragma: no cover - Windows
        return 0
    try:
        entries = [e for e in os.scandir(directory) if e.name.endswith(suffix)]
    except FileNotFoundError:
        return 0
    replayed = 0
    failure: Exception | None = None
    for entry in sorted(entries, key=lambda e: e.name):
        try:
            replayed += _recover_one(store, Path(entry.path), read)
        except Exception as exc:  # one bad journal must not keep the others from being replayed
            failure = failure or exc
            with contextlib.suppress(OSError):
                os.rename(entry.path, entry.path[: -len(suffix)] + _BAD_SUFFIX)
    if failure is not None:
        raise failure
    return replayed


def _recover_one(store: Store, path: Path, read: Callable[[int, int], list[WriteBatch]]) -> int:
    if fcntl is None:  # pragma: no cover - Windows
        return 0
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0  # its owner finished, or another process recovered it
    try:
        st = os.fstat(fd)
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            return 0  # not ours, or others could have written into it: never replay it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # its process is alive
        try:
            if os.stat(path).st_ino != st.st_ino:
                return 0
        except FileNotFoundError:
            return 0  # another recoverer got there first and deleted it
        batches = read(fd, st.st_size)
        merged = WriteBatch()
        for b in batches:
            merged.extend(b)
        if merged:
            store.write(merged)
        path.unlink()
        return len(batches)
    finally:
        os.close(fd)
