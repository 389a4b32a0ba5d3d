"""The background writer: what ``run.log`` queues, committed continuously in batches.

The caller's side (:meth:`Writer.log`) appends one tuple to a deque and, if the writer sleeps, wakes
it: no I/O, no locks. The writer thread drains whatever is queued and turns it into one
:class:`~tunelog.store.base.WriteBatch`. With a journal (:mod:`tunelog.spool`, the default for a data
directory) it appends the batch there at once, one ``write``, and commits the batches it holds to the
store at most every tenth of a second (or at a flush, or past a size), which pays a commit's fixed
few hundred microseconds once per many calls; a killed process loses only what it had not yet
journalled, and the next process to open the directory replays the rest. A drain of 1,000 rows or
more (a writer that is behind) is committed at once instead. Without a journal, each batch is
committed as it is drained (:mod:`tunelog.held_batches` holds, journals and commits them). A normal
exit loses nothing (``flush`` is called at exit by :mod:`tunelog.session`).

Recorded OpenAI calls go another way where the data directory allows. One that can be journalled as
the bytes the SDK already holds (:meth:`Writer.build_journalled`) is copied into a journal mapped into
memory (:mod:`tunelog.mapped_journal`) as it is queued, and such calls are built a hundred at a time;
for the others (:meth:`Writer.build`), once five are queued, the next call, as it starts, builds them
into a batch on the caller's thread and journals it itself through the same map. The writer, woken
once per commit interval, only commits such batches: waking a thread every few calls cost the caller
more.

Nothing here raises into the caller: a failed commit is retried, then counted and reported once
through :mod:`logging`; what it held is left journalled for the next process to replay.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from tunelog.failure_counter import FailureCounter
from tunelog.held_batches import COMMIT_INTERVAL_S, HeldBatches
from tunelog.mapped_journal import call_ids
from tunelog.store.base import RunEvent, RunKey, Store, WriteBatch

if TYPE_CHECKING:  # the dataclass module costs every first init() several ms; spans come later
    from pathlib import Path

    from tunelog.mapped_journal import MappedJournal
    from tunelog.store.span_record import SpanRecord

_LOG, _UPDATE, _CALL, _FLUSH, _EVENT, _SPAN, _BUILD, _BUILD_JOURNALLED = 0, 1, 2, 3, 4, 5, 6, 7
_MAX_ROWS_PER_COMMIT = 100_000
#: Calls left queued after a drain, too few to wake the writer, wait at most this long.
_STRAGGLERS_S = 0.02
_now_ns = time.perf_counter_ns
#: A recorded call wakes the writer only when this many are queued or its last drain is this old:
#: every wake makes the caller hand it the GIL once, so calls are taken up a few at a time.
_WAKE_AT = 4
_WAKE_AFTER_NS = 2_000_000
#: Writer starved (see ``Writer._hand_over``): this many items queued, woken this long ago, not started.
_HAND_OVER_AT = 4
_STARVED_NS = 500_000
_HAND_OVER_PER_ITEM_S = 100e-6  # the most the caller waits per item (the writer needs ~40-60 µs)
_MAX_HAND_OVER_S = 0.005
#: With a mapped journal (see ``Writer._build_here``): the caller's thread builds and journals the
#: recorded calls itself, as the next call starts, once this many are queued (so a kill loses at
#: most that many) and the first of them waited a millisecond (so a caller recording calls faster,
#: in a tight loop, builds them in bigger, cheaper batches: still at most a millisecond's worth at
#: risk), or once the second figure are queued. The writer only commits, once per commit interval;
#: a writer that has not started on that half a millisecond after being woken is handed the GIL,
#: for at most the last figure.
_BUILD_HERE_AT = 5
_BUILD_HERE_AFTER_NS = 1_000_000
_BUILD_HERE_MAX = 500
#: Calls journalled as they are queued (:meth:`Writer.build_journalled`) are safe from a kill
#: already: built this many at a time, which costs a call less than building every few (the
#: building call pays more, the others less: the calls held meanwhile are a few bytes each).
_BUILD_JOURNALLED_AT = 100
_COMMIT_INTERVAL_NS = int(COMMIT_INTERVAL_S * 1e9)
_MAX_COMMIT_HAND_OVER_S = 0.02


class UpdateSource(Protocol):
    """A live run: the writer asks it for changed columns (summary) and beats its heartbeat."""

    @property
    def key(self) -> RunKey: ...

    def drain_updates(self) -> dict[str, Any] | None: ...


class Writer:
    """One background thread per store, shared by every run of the process."""

    def __init__(
        self,
        store: Store,
        failures: FailureCounter,
        *,
        heartbeat_interval: float = 5.0,
        max_pending: int = 50_000,
        journal_dir: Path | None = None,
    ) -> None:
        self._store = store
        self.failures = failures
        self._heartbeat_interval = heartbeat_interval
        self._max_pending = max_pending
        self._q: deque[tuple[Any, ...]] = deque()
        self._wake = threading.Event()
        self._sources: dict[RunKey, UpdateSource] = {}
        self._sources_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._last_beat = 0.0
        self._handed = threading.Event()  # set when the writer has taken up what was queued
        # Drained batches, journalled (tunelog.spool) and held until committed.
        self._holding = HeldBatches(store, failures, journal_dir, lambda: self._handed.set())
        # A drain costs a fixed part (a commit ~0.3 ms, a journal write ~20 µs) whatever its size:
        # under a stream of small items (one span per call) drain at most this often, so they batch.
        # It bounds what os._exit can lose to one interval.
        self._min_drain_interval = 0.001 if journal_dir is not None else 0.004
        self._drained_ns = 0  # when the last drain ended (perf_counter_ns)
        self._woken_ns = 0
        # Batches the caller's thread built and journalled (see _build_here), for the writer to
        # commit; ``_building`` is held by whoever builds spans (a recorder's totals and steps are
        # one thread's at a time): a caller that finds it taken leaves its calls to the holder.
        self._mapped: MappedJournal | None = None
        self._inline = journal_dir is not None and os.name == "posix"  # mmap + flock
        self._prebuilt: deque[WriteBatch] = deque()
        self._building = threading.Lock()
        self._first_ns = 0  # when the oldest call queued was (with a mapped journal)
        self._unbuilt = 0  # calls queued since the queue was last built, not journalled
        # Calls journalled as they were queued (build_journalled): numbered, and counted until built.
        self._call_seq = 0
        self._journalled = 0
        # Between being woken and finishing a drain; a caller waits for the writer (see
        # _keep_committing) at most once a drain, so a slow one (a locked store) never holds it up.
        self._busy = False
        self._gave_up = -1
        # Held while the writer drains: os.fork() waits for the drain to end, since what a drain
        # imports on first use (span building, the journal's encoder, the price table) would stay
        # half-imported, for good, in a child forked in the middle of it.
        self._draining = threading.Lock()
        self._held_for_fork = False
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)
            os.register_at_fork(
                before=functools.partial(_before_fork, ref),
                after_in_parent=functools.partial(_after_fork_parent, ref),
                after_in_child=functools.partial(_forked, ref),
            )

    # -- caller side (hot path) --------------------------------------------------------------------
    def log(self, key: RunKey, step: int, values: dict[str, Any], t: float) -> None:
        """Queue one step's values. Waits briefly only when the queue is past its memory bound."""
        q = self._q
        if len(q) >= self._max_pending:
            self._backpressure()
        q.append((_LOG, key, step, values, t))
        if not self._wake.is_set():
            self._wake.set()
            if self._thread is None:
                self._start()

    def event(self, key: RunKey, event: RunEvent) -> None:
        """Queue a run event (idempotent on ``event.id`` when it has one)."""
        self._q.append((_EVENT, key, event))
        self._kick()

    def span(self, span: SpanRecord | Callable[[], SpanRecord | None]) -> bool:
        """Queue a span, or a function that builds it on the writer thread (so the caller's thread
        does no serialisation). Returns False, dropping it, only when the queue is past its bound."""
        q = self._q
        if len(q) >= self._max_pending:
            return False
        q.append((_SPAN, span))
        if not self._wake.is_set():
            self._wake.set()
            if self._thread is None:
                self._start()
        return True

    def build(self, fn: Callable[[WriteBatch], None]) -> bool:
        """Queue ``fn``, called with the batch being built to add what it records (spans, history
        steps) to it: one queue item however many rows it becomes. With a mapped journal, the
        caller's thread runs the queued ones once five wait, as the next call starts
        (:meth:`build_due`); else the writer thread does. Returns False, dropping it, only when the
        queue is past its bound."""
        q = self._q
        if len(q) >= self._max_pending:
            return False
        q.append((_BUILD, fn))
        if self._inline and not self._closed:
            n = self._unbuilt = self._unbuilt + 1  # about: two threads may count one call once
            if n == 1:  # the first since the last build: wake the writer if it is time (as build_due)
                self._first_ns = _now_ns()
                self._keep_committing()
            return True
        if not self._wake.is_set():
            now = _now_ns()
            if len(q) >= _WAKE_AT or now - self._drained_ns > _WAKE_AFTER_NS:
                self._woken_ns = now
                self._wake.set()
                if self._thread is None:
                    self._start()
        elif len(q) >= _HAND_OVER_AT and _now_ns() - self._woken_ns > _STARVED_NS:
            self._hand_over(len(q))
        return True

    def build_journalled(
        self,
        fn: Callable[[WriteBatch, tuple[str, str] | None], None],
        kind: bytes,
        t0: int,
        t1: int,
        ref: bytes,
        meta: bytes,
        request: bytes,
        response: bytes,
    ) -> bool:
        """:meth:`build`, for a call whose record (what whoever
        :data:`tunelog.mapped_journal.CALL_KINDS` names for ``kind`` can turn into what ``fn``
        adds: see :meth:`~tunelog.mapped_journal.MappedJournal.append_call`) is copied into the
        mapped journal as it is queued: a kill loses nothing of it, and such calls are built a
        hundred at a time. ``fn`` gets the span id and root trace id the record stands for
        (:func:`~tunelog.mapped_journal.call_ids`), or None if it was built the usual way. Falls
        back to :meth:`build` without a mapped journal, or when it is full. Returns False, dropping
        it, only when the queue is past its bound."""
        mapped = self._mapped
        if mapped is None or not self._inline or self._closed:
            if not self._inline or self._closed:
                return self.build(lambda batch: fn(batch, None))
            with self._building:
                mapped = self._mapped if self._mapped is not None else self._open_mapped()
            if mapped is None:
                return self.build(lambda batch: fn(batch, None))
        q = self._q
        if len(q) >= self._max_pending:
            return False
        # One lock for the record and the queue: whoever builds or rotates the journal (holding it)
        # sees a call journalled only with the call queued, in the order of their numbers. Once a
        # call: measured, a copy on every call costs the median call less than copies of several
        # every few calls.
        lock = self._building
        lock.acquire()
        try:
            seq = self._call_seq + 1
            if mapped.append_call(seq, kind, t0, t1, ref, meta, request, response):
                self._call_seq = seq
                q.append((_BUILD_JOURNALLED, fn, seq))
            else:
                seq = 0
        finally:
            lock.release()
        if not seq:
            return self.build(lambda batch: fn(batch, None))
        n = self._journalled = self._journalled + 1
        if n == 1:
            self._keep_committing()
        return True

    def build_due(self) -> None:
        """Called as a recorded call starts: with a mapped journal, once five calls are queued
        (not journalled as they were: :meth:`build_journalled`), or a hundred that were, the
        caller's thread builds and journals them now (:meth:`_build_here`). At the start of a
        call, not the end of the last: building evicts the SDK's code and data from the CPU's
        caches, and the call that builds then pays for that itself; built at the end, the next call
        did (the median call paid ~10 µs more, measured). Also wakes the writer once per commit
        interval."""
        n = self._unbuilt
        due = n >= _BUILD_HERE_AT or self._journalled >= _BUILD_JOURNALLED_AT
        if due and self._inline and not self._closed:
            self._build_if_due(n)
            self._keep_committing()

    def _build_if_due(self, n: int) -> None:
        if (
            n < _BUILD_HERE_MAX
            and self._journalled < _BUILD_JOURNALLED_AT
            and _now_ns() - self._first_ns <= _BUILD_HERE_AFTER_NS
        ):
            return
        # Taken by the writer (or another caller) building: leave the calls to it, unless twice as
        # many wait, when the holder was cut off by the GIL: wait for it, briefly.
        lock = self._building
        if lock.acquire(blocking=False) if n < 2 * _BUILD_HERE_AT else lock.acquire(timeout=_MAX_HAND_OVER_S):
            try:
                self._build_here()
            finally:
                lock.release()

    def _build_here(self) -> None:
        """On the caller's thread, every few recorded calls: build what is queued into a batch,
        journal it through the memory map (safe from a kill from then on) and leave it to the
        writer to commit. See :mod:`tunelog.mapped_journal` for why."""
        mapped = self._mapped
        if mapped is None:
            mapped = self._open_mapped()
            if mapped is None:
                return
        q = self._q
        batch = WriteBatch()
        self._unbuilt = self._journalled = 0
        covers = self._call_seq  # every call journalled so far is queued (or built before): built now
        keep = []  # anything else (a flush marker, a metric, an event) stays, in order, the writer's
        unjournalled = False
        for _ in range(len(q)):
            item = q.popleft()
            kind = item[0]
            if kind == _BUILD_JOURNALLED:
                self._run_builder(item, batch)
            elif kind == _BUILD:
                self._run_builder(item, batch)
                unjournalled = True
            else:
                keep.append(item)
        if keep:
            q.extendleft(reversed(keep))
        if not unjournalled:
            # Every call in it is journalled already, as a record the next process can rebuild it
            # from (see tunelog.mapped_journal): journalling the batch too would cost the call that
            # builds it ~1 ms a hundred calls, and as much again in the journal's memory. The runs'
            # changed columns stay for the writer's drain, which journals or commits them.
            self._prebuilt.append(batch)
            return
        self._add_source_updates(batch)
        try:
            journalled = mapped.append_batch(batch, covers)
        except Exception as exc:  # a value JSON cannot hold: the writer commits it as it is
            self.failures.record("journalling metrics and spans", exc)
            journalled = False
        self._prebuilt.append(batch)
        if not journalled:  # the journal is full (the store refuses?): have it committed soon
            self._kick()

    def _open_mapped(self) -> MappedJournal | None:
        directory = self._holding.journal_dir
        try:
            from tunelog.mapped_journal import MappedJournal

            if directory is None:
                raise OSError("no journal directory")
            self._mapped = MappedJournal(directory)
        except Exception as exc:  # no mmap, a read-only directory: back to waking the writer
            self._inline = False
            self.failures.record("opening the mapped journal", exc)
        return self._mapped

    def _keep_committing(self) -> None:
        """Wake the writer once per commit interval; hand it the GIL if it cannot get it (see
        :meth:`_hand_over`): one call in a few hundred then waits while it commits."""
        now = _now_ns()
        if self._wake.is_set() or self._busy:  # woken, or in the middle of a drain
            if now - self._woken_ns > _STARVED_NS and self._gave_up != self._drained_ns:
                handed = self._handed
                handed.clear()
                if not handed.wait(_MAX_COMMIT_HAND_OVER_S):
                    # Slow (a locked store it retries), not starved: no waiting again this drain.
                    self._gave_up = self._drained_ns
                self._woken_ns = _now_ns()
        elif now - self._drained_ns > _COMMIT_INTERVAL_NS and now - self._woken_ns > _COMMIT_INTERVAL_NS:
            self._woken_ns = now
            self._wake.set()
            if self._thread is None:
                self._start()

    def _hand_over(self, pending: int) -> None:
        # CPython's convoy effect: a thread that lets go of the GIL only for microseconds at a time
        # (the openai SDK does, for os.urandom, once per request) keeps a waiting thread from ever
        # getting it: the waiter asks for a switch only after a whole switch interval (5 ms) in
        # which no thread took the GIL. A caller that never waits on the network (an in-process
        # transport, cached replies) would so starve the writer until it pauses: nothing written
        # if the process is killed, and a backlog held in memory (and walked by the garbage
        # collector). When a few items wait without the writer starting on them, the caller waits
        # until the writer has taken them up (journalled them), at most ~100 µs an item: what the
        # interpreter's switch interval would have done, without the writer being cut off at each
        # system call. About one call in four pays it there (the others nothing), which keeps what
        # a kill can lose to those few calls; a caller that waits on a network never does.
        handed = self._handed
        handed.clear()
        if self._wake.is_set():  # the writer has not started on them meanwhile
            handed.wait(min(_MAX_HAND_OVER_S, pending * _HAND_OVER_PER_ITEM_S))
        self._woken_ns = _now_ns()

    def update(self, key: RunKey, changes: dict[str, Any]) -> None:
        self._q.append((_UPDATE, key, changes))
        self._kick()

    def call(self, fn: Callable[[], None], what: str) -> None:
        """Run ``fn`` on the writer thread (slow fact-gathering such as git metadata)."""
        self._q.append((_CALL, fn, what))
        self._kick()

    def register(self, source: UpdateSource) -> None:
        with self._sources_lock:
            self._sources[source.key] = source
        self._kick()

    def unregister(self, key: RunKey) -> None:
        with self._sources_lock:
            self._sources.pop(key, None)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything queued so far is committed. Returns False on timeout."""
        if self._thread is None and not self._q:
            return True
        done = threading.Event()
        self._q.append((_FLUSH, done))
        self._kick()
        return done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        self.flush(timeout)
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def journal_dir(self) -> Path | None:
        """Where this writer journals (see :mod:`tunelog.spool`), or None when it commits as it drains."""
        return self._holding.journal_dir

    @property
    def pending(self) -> int:
        return len(self._q)

    def _kick(self) -> None:
        self._wake.set()
        if self._thread is None:
            self._start()

    def _backpressure(self) -> None:
        # Past the bound the caller waits rather than dropping: the writer catches up within ms.
        deadline = time.monotonic() + 5.0
        self._kick()
        while len(self._q) >= self._max_pending // 2 and time.monotonic() < deadline:
            time.sleep(0.001)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._closed:
                t = threading.Thread(target=self._loop, name="tunelog-writer", daemon=True)
                t.start()
                self._thread = t

    # -- writer thread -----------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            timeout = self._heartbeat_interval
            if self._q or self._prebuilt:  # calls queued since, too few to wake it (see build)
                timeout = COMMIT_INTERVAL_S if self._mapped is not None else _STRAGGLERS_S
            holding = self._holding
            if holding.batch is not None:  # wake in time to commit what is held
                timeout = max(0.0, min(timeout, holding.since + COMMIT_INTERVAL_S - time.monotonic()))
            self._wake.wait(timeout)
            self._busy = True
            pause = self._min_drain_interval - (_now_ns() - self._drained_ns) / 1e9
            if pause > 0 and not self._closed:
                time.sleep(pause)
            self._wake.clear()
            try:
                with self._draining:
                    self._drain()
            except Exception as exc:  # the loop must survive anything; counted and reported once
                self.failures.record("tunelog's background writer", exc)
            self._drained_ns = _now_ns()
            self._busy = False
            self._handed.set()  # a caller that began waiting after the drain's own signal goes on
            if self._closed and not self._q:
                with self._draining:
                    if holding.batch is not None:
                        holding.settle(WriteBatch(), 0, force=True)
                    if holding.spool is not None:
                        holding.close_spool()
                    if self._mapped is not None:
                        with self._building:
                            self._inline = False
                            self._mapped.close(unlink=not self._prebuilt)
                return

    def _drain(self) -> None:
        q = self._q
        while True:
            batch = WriteBatch()
            waiters: list[threading.Event] = []
            calls: list[tuple[Callable[[], None], str]] = []
            with self._building:  # no caller builds meanwhile: what the half holds is what we take
                mapped = self._mapped
                half = mapped.rotate() if mapped is not None else None
                prebuilt = bool(self._prebuilt)
                while self._prebuilt:
                    batch.extend(self._prebuilt.popleft())
                rows = self._take(batch, waiters, calls)
                self._unbuilt = self._journalled = 0
                # Under the lock too: summaries are snapshotted in the order their batches commit.
                self._add_source_updates(batch)
            # Batches callers journalled are committed at once (journalling them again would cost
            # what building them on the caller's thread saved).
            self._holding.settle(batch, rows, force=bool(waiters) or self._closed or prebuilt)
            if half is not None and mapped is not None:
                mapped.release(half)  # committed, or (refused) in the writer's journal now
            self._handed.set()  # journalled (or committed): a caller handing over may go on
            for fn, what in calls:
                try:
                    fn()
                except Exception as exc:
                    self.failures.record(what, exc)
            if waiters and self._holding.spool is not None and self._holding.batch is None:
                # A flush is often the last thing before exit: leave no (empty) journal behind.
                self._holding.close_spool()
            for w in waiters:
                w.set()
            if not q:
                return

    def _take(
        self, batch: WriteBatch, waiters: list[threading.Event], calls: list[tuple[Callable[[], None], str]]
    ) -> int:
        """Move what is queued now into ``batch`` (up to a flush marker); returns its rows."""
        q = self._q
        rows = 0
        # Only what is queued now: under a steady stream of calls the queue never empties, and
        # a batch that waited for it would never commit (os._exit would lose everything).
        todo = len(q)
        while todo and rows < _MAX_ROWS_PER_COMMIT:
            todo -= 1
            item = q.popleft()
            kind = item[0]
            if kind == _LOG:
                _, key, step, values, t = item
                out = batch.steps.get(key)
                if out is None:
                    out = batch.steps[key] = []
                out.append((step, t, values))
                rows += len(values)
            elif kind in (_BUILD, _BUILD_JOURNALLED):
                self._run_builder(item, batch)
                rows += 1
            elif kind == _SPAN:
                span = item[1]
                if callable(span):
                    try:
                        span = span()
                    except Exception as exc:
                        self.failures.record("building a span", exc)
                        span = None
                if span is not None:
                    batch.spans.append(span)
                    rows += 1
            elif kind == _EVENT:
                batch.events.setdefault(item[1], []).append(item[2])
                rows += 1
            elif kind == _UPDATE:
                batch.run_updates.setdefault(item[1], {}).update(item[2])
            elif kind == _CALL:
                calls.append((item[1], item[2]))
            else:
                # A flush: released once what came before it is committed, with what came after
                # (already queued when the drain began). Taking all of it also means every call
                # journalled in the half just rotated out is built by this drain, so the half can
                # be emptied once it commits (past the row cap, a kill in the next drain's few
                # milliseconds could lose calls journalled there).
                waiters.append(item[1])
        return rows

    def _run_builder(self, item: tuple[Any, ...], batch: WriteBatch) -> None:
        try:
            if item[0] == _BUILD_JOURNALLED:
                mapped = self._mapped
                item[1](batch, call_ids(mapped.ids, item[2]) if mapped is not None else None)
            else:
                item[1](batch)
        except Exception as exc:
            self.failures.record("building a span", exc)

    def _add_source_updates(self, batch: WriteBatch) -> None:
        now = time.time()
        beat = now - self._last_beat >= self._heartbeat_interval
        if beat:
            self._last_beat = now
        with self._sources_lock:
            sources = list(self._sources.values())
        for src in sources:
            try:
                changes = src.drain_updates()
            except Exception as exc:
                self.failures.record("collecting a run's summary", exc)
                continue
            if changes or beat:
                upd = batch.run_updates.setdefault(src.key, {})
                if changes:
                    upd.update(changes)
                upd.setdefault("heartbeat_at", now)
                upd.setdefault("updated_at", now)


def _before_fork(ref: weakref.ref[Writer]) -> None:
    writer = ref()
    if writer is not None and writer._thread is not None and writer._thread is not threading.current_thread():
        writer._draining.acquire()
        writer._held_for_fork = True


def _after_fork_parent(ref: weakref.ref[Writer]) -> None:
    writer = ref()
    if writer is not None and writer._held_for_fork:
        writer._held_for_fork = False
        writer._draining.release()


def _forked(ref: weakref.ref[Writer]) -> None:
    """In a forked child: no writer thread runs yet, and what the parent had queued or held is the
    parent's to write (the child writing it too would record it twice)."""
    writer = ref()
    if writer is None:
        return
    writer._thread = None
    writer._q.clear()
    writer._holding.batch = None
    writer._holding.rows = 0
    writer._wake = threading.Event()
    writer._handed = threading.Event()
    writer._start_lock = threading.Lock()
    writer._sources_lock = threading.Lock()
    writer._draining = threading.Lock()
    writer._held_for_fork = False
    writer._building = threading.Lock()
    writer._prebuilt.clear()
    writer._unbuilt = writer._journalled = 0
    if writer._mapped is not None:
        writer._mapped.forget()  # the parent's, mapped into this process too: never write into it
        writer._mapped = None
