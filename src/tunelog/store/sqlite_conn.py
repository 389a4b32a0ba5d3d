"""SQLite connections for :class:`~tunelog.store.sql.SQLStore`: settings, thread model, transactions.

Thread model: a file store gives **each thread its own connection** (kept in a ``threading.local``),
so the background writer's commits and the user's (or the dashboard's) reads run side by side under
WAL. Connections of threads that have ended are closed when the next connection is made, and
:meth:`Connections.close` closes them all. An in-memory store (``memory://``) has a single database
that only one connection can see, so there all threads share **one connection behind a lock**.

A process that forks gets fresh connections: SQLite connections must not cross ``fork()``. The
parent's are left untouched (never closed from the child), as SQLite advises.

Transactions: writes run in ``BEGIN IMMEDIATE`` (take the write lock up front, so a transaction never
fails half-way for want of it); reads in a deferred ``BEGIN`` (one consistent snapshot). When the
store stays locked beyond the busy timeout (or SQLite reports "busy" without waiting, as it may right
after another process crashed), the whole transaction is retried with backoff until a deadline.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from tunelog.errors import StoreError

T = TypeVar("T")

BUSY_TIMEOUT_S = 30.0
# Beyond SQLite's own busy wait, retry a locked transaction until this much time has passed.
RETRY_DEADLINE_S = 120.0
_RETRY_FIRST_SLEEP_S = 0.005
_RETRY_MAX_SLEEP_S = 0.5


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's transient "database is locked"/"busy" condition."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str | None, value: object) -> bool:
    """SQL ``value REGEXP pattern``: a Python ``re.search``; NULL never matches."""
    if pattern is None or value is None:
        return False
    return _compiled(pattern).search(value if isinstance(value, str) else str(value)) is not None


def connect(path: str) -> sqlite3.Connection:
    """Open one connection with tunelog's settings (autocommit mode: we issue BEGIN ourselves)."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False, cached_statements=256
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        # Bulk history writes touch the same right-edge pages commit after commit: checkpointing the
        # WAL less often copies each page back fewer times (measured ~1.3x on 1M rows), and a larger
        # page cache keeps the B-tree's inner pages hot. Both are upper bounds, not allocations.
        conn.execute("PRAGMA wal_autocheckpoint = 10000")
        conn.execute("PRAGMA cache_size = -16384")
        conn.create_function("regexp", 2, _regexp, deterministic=True)
    except BaseException:
        conn.close()
        raise
    return conn


def retry_locked(action: Callable[[], T], what: str, deadline_s: float = RETRY_DEADLINE_S) -> T:
    """Call ``action`` again (with backoff) while it fails with "database is locked"."""
    deadline = time.monotonic() + deadline_s
    sleep = _RETRY_FIRST_SLEEP_S
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or time.monotonic() + sleep > deadline:
                if is_locked(exc):
                    raise StoreError(
                        f"The tunelog store stayed locked for over {deadline_s:.0f} s while {what}. "
                        "Another process holds a write transaction open; stop it or retry later."
                    ) from exc
                raise
            time.sleep(sleep)
            sleep = min(sleep * 2, _RETRY_MAX_SLEEP_S)


def begin_immediate(conn: sqlite3.Connection) -> None:
    """Start a write transaction, waiting (and retrying) while another writer holds the lock."""
    retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"), "starting a write")


def _run(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], begin: str) -> T:
    conn.execute(begin)
    try:
        result = fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


class Connections:
    """Hands out the calling thread's connection (file store) or the shared one (memory store)."""

    def __init__(self, path: str, *, shared: bool) -> None:
        self._path = path
        self._shared = shared
        self._lock = threading.RLock()  # guards the shared connection, or the bookkeeping below
        self._local = threading.local()
        self._pid = os.getpid()
        self._by_thread: dict[int, tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = {}
        self._forked_away: list[sqlite3.Connection] = []  # the parent's; never closed in a child
        self._single: sqlite3.Connection | None = connect(path) if shared else None
        self._closed = False

    @contextmanager
    def lease(self) -> Iterator[sqlite3.Connection]:
        """The connection to use now; for a shared one, held exclusively until the block ends."""
        if self._closed:
            raise StoreError(
                "This tunelog store is closed. Open it again with tunelog.store.open_store(url)."
            )
        if self._single is not None:
            with self._lock:
                yield self._single
            return
        if os.getpid() != self._pid:
            self._after_fork()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._new_for_this_thread()
        yield conn

    def _new_for_this_thread(self) -> sqlite3.Connection:
        conn = connect(self._path)
        thread = threading.current_thread()
        with self._lock:
            dead = [ident for ident, (ref, _) in self._by_thread.items() if not _alive(ref)]
            for ident in dead:
                self._by_thread.pop(ident)[1].close()
            self._by_thread[threading.get_ident()] = (weakref.ref(thread), conn)
        self._local.conn = conn
        return conn

    def _after_fork(self) -> None:
        with self._lock:
            self._forked_away.extend(conn for _, conn in self._by_thread.values())
            self._by_thread.clear()
            self._local = threading.local()
            self._pid = os.getpid()

    def write(self, fn: Callable[[sqlite3.Connection], T], what: str) -> T:
        """Run ``fn`` in one write transaction (``BEGIN IMMEDIATE``), retried while locked.

        ``fn`` may run more than once (after a rollback), so it must not change state outside the
        database. SQLite failures surface as :class:`StoreError`; ``fn``'s own exceptions (such as
        :class:`~tunelog.errors.UsageError`) roll back and pass through unchanged.
        """
        return self._transact(fn, "BEGIN IMMEDIATE", what)

    def release_memory(self) -> None:
        """Free the calling thread's connection's page cache (it refills from the OS's page cache).

        For a thread that only appends, such as the background writer: its cache would otherwise
        keep every page it ever wrote, up to ``cache_size``, for the life of the process."""
        with self.lease() as conn:
            conn.execute("PRAGMA shrink_memory")

    def read(self, fn: Callable[[sqlite3.Connection], T], what: str) -> T:
        """Run ``fn`` in one read transaction (one snapshot), retried while locked."""
        return self._transact(fn, "BEGIN", what)

    def _transact(self, fn: Callable[[sqlite3.Connection], T], begin: str, what: str) -> T:
        with self.lease() as conn:
            try:
                return retry_locked(lambda: _run(conn, fn, begin), what)
            except sqlite3.Error as exc:
                raise StoreError(
                    f"The tunelog store at {self._path} failed while {what}: {exc}. If it persists, "
                    "check the disk (space, permissions) and run 'PRAGMA integrity_check' on the file."
                ) from exc

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._single is not None:
                self._single.close()
            if os.getpid() == self._pid:
                for _, conn in self._by_thread.values():
                    conn.close()
            self._by_thread.clear()


def _alive(ref: weakref.ref[threading.Thread]) -> bool:
    thread = ref()
    return thread is not None and thread.is_alive()
