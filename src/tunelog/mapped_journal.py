"""The mapped journal: batches built on the caller's thread, safe from a kill without a system call.

Waking the writer thread every few recorded calls (so that a kill loses at most those few) costs a
caller that never waits on a network more than recording the calls: the GIL changes hands twice a
wake-up, and the writer's work, spread over the caller's next calls, slows each of them. So where
the data directory allows, every few calls the caller's thread itself turns the calls queued so far
into a batch (spans, history rows, the run's summary) and copies it, as the journal record
:mod:`tunelog.spool` would write, into this journal: a file in the data directory mapped into
memory, so appending is a memory copy, with no system call and no lock the writer holds while it
writes, and what was copied is in the kernel's page cache, kept when the process dies. Only one call
in several pays for that; the writer thread wakes once per commit interval to commit the batches.

Calls that can be journalled as they end, from the bytes the SDK sent and received, go in as call
records (:meth:`MappedJournal.append_call`), numbered; a batch built later from such calls says up to
which number it holds them (:meth:`MappedJournal.append_batch`), and recovery hands only the records
no batch holds to the integration that wrote them (:data:`CALL_KINDS`). A call record's span ids
follow from its number and the journal's random base (:func:`call_ids`), so the caller's thread
draws none, and a recovery builds the span the live process would have.

The file has two halves. Callers append to one while the writer commits the batches appended to the
other; then it empties that half (:meth:`MappedJournal.release`), and the halves swap at its next
drain (:meth:`MappedJournal.rotate`). Each half starts with a generation number, and every record's
checksum covers it, so records left from a half's earlier use are never read back.

Whoever opens the data directory next calls :func:`recover` (after :func:`tunelog.spool.recover`):
the records of a journal whose owner has died (its ``flock`` is free) are committed in one
transaction and the file deleted. Files are ``<dir>/spool/<pid>-<random>.mapped``, sparse.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import mmap
import os
import struct
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tunelog.store.base import WriteBatch

if TYPE_CHECKING:
    from tunelog.store.base import Store

try:  # a journal needs flock to tell a live owner from a dead one
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SUFFIX = ".mapped"
_MAGIC = b"TLCJ"
_HEAD = struct.Struct("<4sIQ")  # magic, format, generation (0: empty)
#: Format 3 only: the random base of the ids its call records' spans get (:func:`call_ids`).
_IDS = struct.Struct("<Q")
_FORMAT = 3  # 1: every record a batch, untagged; 2 (a development build's): a call's ids in its body
_FRAME = struct.Struct("<II")  # payload length, crc32 of generation + payload
HALF = 8 << 20
#: Record tags (from format 2): a batch, or one call's record that a batch may later cover.
_BATCH, _CALL = b"B", b"C"
#: A call record's frame and head: length, check value; tag, seq, kind, start and end (ns), its
#: reference (at most 64 bytes), the lengths of meta and request (the response ends the record).
_CALL_PREFIX = struct.Struct("<IIcQ8sqq64sII")
_CALL_HEAD = struct.Struct("<cQ8sqq64sII")  # the same, as read back from the payload
_MASK = 0xFFFFFFFF
#: Who turns a call record of each kind back into rows, for a process recovering a dead one's
#: journal: ``module:function``, called with the store, the batches the journal holds and the
#: records (:class:`CallRecord`), oldest first; it skips a record it cannot decode (torn by a crash
#: of the machine: a call record's check value covers only its number).
CALL_KINDS = {b"openai": "tunelog.integration.openai.call_records:recover"}


class CallRecord(NamedTuple):
    """A journalled call (:meth:`MappedJournal.append_call`), as read back for recovery."""

    seq: int
    span_id: str  # its span's id, and the trace id it has at the root: :func:`call_ids`
    trace_id: str
    t0: int  # start and end (``perf_counter_ns`` in the process that wrote it)
    t1: int
    ref: bytes  # whatever the writer names it by (the API's request id), at most 64 bytes
    meta: bytes
    request: bytes
    response: bytes


def call_ids(base: int, seq: int) -> tuple[str, str]:
    """The span id and root trace id of the call record numbered ``seq`` in the journal whose ids
    start at ``base``: drawn when the call is built, or when a dead process's record is, alike, so
    a recovery can tell the calls already committed. Unique across processes by the journal's random
    base, as :mod:`tunelog.tracing`'s ids are, and, as those, sorted together."""
    return f"{base & ~_MASK | seq:016x}", f"{base:016x}{seq:016x}"


class MappedJournal:
    """One process's mapped journal. Not thread-safe: whoever uses it serialises :meth:`append`,
    :meth:`rotate`, :meth:`release` and :meth:`close` (tunelog's writer with the lock its span
    building holds; :attr:`lock` is there for other users, and :meth:`close` takes it)."""

    def __init__(self, directory: Path) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            raise OSError("the mapped journal needs fcntl.flock, which this platform lacks")
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{os.getpid()}-{os.urandom(6).hex()}"
        tmp = directory / f"{name}.tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(fd, 2 * HALF)
            self._mm = mmap.mmap(fd, 2 * HALF)
            self.path = directory / f"{name}{SUFFIX}"
            os.rename(tmp, self.path)  # only now may a recoverer see it: locked, sized
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self._fd = fd
        self.lock = threading.Lock()
        self._gen = 1
        self._half = 0  # the half callers append to
        self._pos = _HEAD.size + _IDS.size
        self._end = HALF
        self._gen_crc = zlib.crc32(self._gen.to_bytes(8, "little"))
        #: The base of the ids its call records' spans get (:func:`call_ids`), in both halves' heads.
        self.ids = int.from_bytes(os.urandom(8), "little")
        for half in (0, 1):
            _IDS.pack_into(self._mm, half * HALF + _HEAD.size, self.ids)
        _HEAD.pack_into(self._mm, 0, _MAGIC, _FORMAT, self._gen)
        self.closed = False

    def append_batch(self, batch: WriteBatch, covers: int = 0) -> bool:
        """Journal ``batch`` (encoded as :mod:`tunelog.spool` would), built from among others the
        journalled calls numbered up to ``covers`` (:meth:`append_call`), whose records recovery
        then skips; False when the half is full."""
        from tunelog.spool import encode

        return self.append((_BATCH, covers.to_bytes(8, "little"), encode(batch)))

    def append_call(
        self,
        seq: int,
        kind: bytes,
        t0: int,
        t1: int,
        ref: bytes,
        meta: bytes,
        request: bytes,
        response: bytes,
    ) -> bool:
        """Journal one call: numbered ``seq`` (growing, below 2**32), so that a batch built from it
        can say so (:meth:`append_batch`), its span's ids following from that number
        (:func:`call_ids`); ``kind`` names who turns it back into rows (:data:`CALL_KINDS`; at most
        8 bytes); its start and end; ``ref`` (at most 64 bytes); and three parts of the kind's own
        (:class:`CallRecord`). False when the half is full.

        On a recorded call's path: as few steps as can be (each costs the call several times its
        warm figure, after the SDK's call has evicted it from the caches), so no checksum of the
        body: the frame's check value ties the record to this generation of the half (a record left
        from an earlier one fails it), and a body torn by a crash of the machine fails to decode
        instead, and is skipped."""
        pos = self._pos
        b = pos + _CALL_PREFIX.size + len(meta)
        c = b + len(request)
        end = c + len(response)
        if end + _FRAME.size > self._end or seq > _MASK or self.closed:
            return False
        mm = self._mm
        mm[pos + _CALL_PREFIX.size : b] = meta
        mm[b:c] = request
        mm[c:end] = response
        # The frame last: a record cut short by a kill before it is never read.
        check = (self._gen ^ seq) & _MASK
        size = end - pos - _FRAME.size
        _CALL_PREFIX.pack_into(mm, pos, size, check, _CALL, seq, kind, t0, t1, ref, len(meta), len(request))
        _FRAME.pack_into(mm, end, 0, 0)
        self._pos = end
        return True

    def append(self, parts: tuple[bytes, ...]) -> bool:
        """Copy one record (the concatenation of ``parts``) in; False when the half is full (the
        writer is far behind)."""
        # Joined first: one copy and one checksum cost less than one of each per part (measured).
        payload = b"".join(parts)
        pos = self._pos
        start = pos + _FRAME.size
        end = start + len(payload)
        if end + _FRAME.size > self._end or self.closed:
            return False
        mm = self._mm
        mm[start:end] = payload
        # The frame's header last: a record torn by a kill fails its checksum and ends the half there.
        _FRAME.pack_into(mm, pos, len(payload), zlib.crc32(payload, self._gen_crc))
        # What follows reads as the end, whatever an earlier generation left there.
        _FRAME.pack_into(mm, end, 0, 0)
        self._pos = end
        return True

    def rotate(self) -> int | None:
        """Swap halves: appends go on in the other one. Returns the half to
        :meth:`release` once what was appended to it is committed, or None if it held nothing."""
        if self._pos == self._head_end() or self.closed:
            return None
        old = self._half
        self._half = 1 - old
        self._gen += 1
        self._gen_crc = zlib.crc32(self._gen.to_bytes(8, "little"))
        base = self._half * HALF
        _FRAME.pack_into(self._mm, base + _HEAD.size + _IDS.size, 0, 0)
        _HEAD.pack_into(self._mm, base, _MAGIC, _FORMAT, self._gen)
        self._pos = base + _HEAD.size + _IDS.size
        self._end = base + HALF
        return old

    def release(self, half: int) -> None:
        """What ``half`` held is committed (or journalled by the writer): mark it empty."""
        if not self.closed:
            _HEAD.pack_into(self._mm, half * HALF, _MAGIC, _FORMAT, 0)

    def close(self, unlink: bool = True) -> None:
        """Stop journalling; delete the file if everything in it is committed (``unlink``)."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            with contextlib.suppress(OSError):
                if unlink:
                    self.path.unlink()
            self._mm.close()
            os.close(self._fd)  # releases the flock

    def forget(self) -> None:
        """In a forked child: drop the parent's journal without touching it (it stays the parent's)."""
        self.closed = True
        self.lock = threading.Lock()
        with contextlib.suppress(OSError, ValueError):
            self._mm.close()  # unmaps it in this process only
        with contextlib.suppress(OSError):
            os.close(self._fd)  # the parent's descriptor keeps the flock

    def _head_end(self) -> int:
        return self._half * HALF + _HEAD.size + _IDS.size


def read_records(data: bytes | mmap.mmap) -> list[bytes]:
    """The payloads of the live halves of a journal file, oldest half first, each up to its end or
    its first torn record. In format 1 each is a batch; from format 3 each starts with its tag."""
    return [payload for _, payload in _read(data)]


def _read(data: bytes | mmap.mmap) -> list[tuple[int, bytes]]:
    """:func:`read_records`, each with the ids base of its half (format 3, else 0)."""
    halves = []
    for half in (0, 1):
        base = half * HALF
        if len(data) < base + _HEAD.size + _IDS.size:
            continue
        magic, fmt, gen = _HEAD.unpack_from(data, base)
        if magic != _MAGIC or gen == 0:
            continue
        if fmt not in (1, _FORMAT):
            raise ValueError(
                f"a mapped journal of format {fmt}, which this tunelog does not read (it reads 1 and "
                f"{_FORMAT}); replay it with the tunelog that wrote it"
            )
        halves.append((gen, base, fmt))
    out: list[tuple[int, bytes]] = []
    for gen, base, fmt in sorted(halves):
        seed = zlib.crc32(gen.to_bytes(8, "little"))
        pos, end = base + _HEAD.size, base + HALF
        ids = 0
        if fmt == _FORMAT:
            (ids,) = _IDS.unpack_from(data, pos)
            pos += _IDS.size
        while pos + _FRAME.size <= end:
            size, crc = _FRAME.unpack_from(data, pos)
            start = pos + _FRAME.size
            if size == 0 or start + size > end:
                break
            payload = bytes(data[start : start + size])
            if payload[:1] == _CALL:
                if crc != (gen ^ int.from_bytes(payload[1:9], "little")) & _MASK:
                    break
            elif zlib.crc32(payload, seed) != crc:
                break
            out.append((ids, payload if fmt == _FORMAT else _BATCH + bytes(8) + payload))
            pos = start + size
    return out


def _call_record(ids: int, payload: bytes) -> tuple[bytes, CallRecord]:
    """A call record's kind, and the record (its lengths unchecked: a record torn by a crash of the
    machine fails to decode in its kind's hands)."""
    _, seq, kind, t0, t1, ref, n_meta, n_request = _CALL_HEAD.unpack_from(payload)
    a = _CALL_HEAD.size
    b = a + n_meta
    c = b + n_request
    span_id, trace_id = call_ids(ids, seq)
    meta, request, response = payload[a:b], payload[b:c], payload[c:]
    ref = ref.rstrip(b"\0")
    return kind.rstrip(b"\0"), CallRecord(seq, span_id, trace_id, t0, t1, ref, meta, request, response)


def recover(store: Store, directory: Path) -> int:
    """Commit the batches journalled by every process in ``directory`` that died, and the calls it
    journalled that no batch covers; returns how many records.

    As :func:`tunelog.spool.recover` does for the writer's journal (same checks, same handling of
    a journal that cannot be read)."""
    from tunelog.spool import recover_dead

    return recover_dead(store, directory, SUFFIX, functools.partial(_read_file, store))


def _read_file(store: Store, fd: int, size: int) -> list[WriteBatch]:
    from tunelog.spool import decode

    if not size:
        return []
    with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mm:
        records = _read(mm)
    batches: list[WriteBatch] = []
    covered = 0
    calls: list[tuple[bytes, CallRecord]] = []
    for ids, p in records:
        if p[:1] == _BATCH:
            covered = max(covered, int.from_bytes(p[1:9], "little"))
            batches.append(decode(p[9:]))
        elif p[:1] == _CALL:
            calls.append(_call_record(ids, p))
        else:
            raise ValueError(f"a mapped journal record tagged {p[:1]!r}, which this tunelog does not know")
    by_kind: dict[bytes, list[CallRecord]] = {}
    for kind, call in calls:
        if call.seq > covered:  # else a batch above holds what it became
            by_kind.setdefault(kind, []).append(call)
    for kind, records_of_kind in by_kind.items():
        where = CALL_KINDS.get(kind)
        if where is None:
            raise ValueError(f"a journalled call of kind {kind!r}, which this tunelog does not know")
        module, _, name = where.partition(":")
        # The rows the batches above add (the runs' summaries, their last steps) come first.
        batches.append(getattr(importlib.import_module(module), name)(store, batches, records_of_kind))
    return batches
