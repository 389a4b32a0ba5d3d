"""The backend of a process: one store, one blob store and one writer per data location.

Opened lazily on first use (so ``import tunelog`` does no I/O) and shared by every run, artifact and
``Api`` of the process that points at the same place. The blob store opens only when something first
uses blobs: starting and finishing a run never does, and opening it costs imports and a directory scan.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from tunelog.failure_counter import FailureCounter
from tunelog.writer import Writer

if TYPE_CHECKING:
    from pathlib import Path

    from tunelog.blobs.base import BlobStore
    from tunelog.settings import Settings
    from tunelog.store.base import Store


class LazyBlobs:
    """The blob store at ``url``, opened on first use and then kept (shared by a place's backends)."""

    __slots__ = ("_blobs", "_lock", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._blobs: BlobStore | None = None

    def get(self) -> BlobStore:
        blobs = self._blobs
        if blobs is None:
            with self._lock:
                if self._blobs is None:
                    from tunelog.blobs import open_blobs

                    self._blobs = open_blobs(self.url)
                blobs = self._blobs
        return blobs


class Backend:
    """What runs, artifacts and ``Api`` of one data location share. A plain class, not a dataclass:
    it is defined on the way to the first ``init``, where a dataclass costs milliseconds."""

    __slots__ = ("_blobs", "failures", "settings", "store", "writer")

    def __init__(
        self, settings: Settings, store: Store, blobs: LazyBlobs, writer: Writer, failures: FailureCounter
    ) -> None:
        self.settings = settings
        self.store = store
        self._blobs = blobs
        self.writer = writer
        self.failures = failures

    @property
    def blobs(self) -> BlobStore:
        return self._blobs.get()

    def replay_journals(self) -> None:
        """Replay the journals of processes that died since this backend opened (a long-lived reader,
        such as ``tunelog ui``, calls it when it finds a crashed run; see :mod:`tunelog.spool`)."""
        directory = self.writer.journal_dir
        if directory is not None and directory.is_dir():
            _replay(self.store, directory, self.failures)

    def with_settings(self, settings: Settings) -> Backend:
        """The same store, blobs and writer under other settings (entity, ui url)."""
        return Backend(settings, self.store, self._blobs, self.writer, self.failures)

    def __repr__(self) -> str:
        return f"Backend({self.settings!r}, {self.store!r})"


class _Backends:
    """The process's open backends by location. Created on first use, never at import time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str], Backend] = {}

    def get(self, settings: Settings) -> Backend:
        loc = (settings.store_url, settings.blobs_url)
        with self._lock:
            b = self._open.get(loc)
            if b is None or b.settings.mode != settings.mode:
                b = self._open[loc] = _open_backend(settings)
            elif b.settings != settings:
                # Same place, other defaults (entity, ui url): share the store, keep the new settings.
                b = b.with_settings(settings)
            return b

    def all(self) -> list[Backend]:
        with self._lock:
            return list(self._open.values())


def _open_backend(settings: Settings) -> Backend:
    from tunelog.store import open_store

    if settings.mode != "disabled":
        settings.dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store_url)
    failures = FailureCounter()
    journal = None
    if settings.mode != "disabled":
        journal = settings.dir / "spool"
        if journal.is_dir():  # the usual case is no directory: nothing to replay, nothing to import
            _replay(store, journal, failures)
    writer = Writer(store, failures, journal_dir=journal)
    return Backend(settings, store, LazyBlobs(settings.blobs_url), writer, failures)


def _replay(store: Store, directory: Path, failures: FailureCounter) -> None:
    """Replay the journals of processes that died (see :mod:`tunelog.spool`), then what their
    callers journalled (see :mod:`tunelog.mapped_journal`). Never raises."""
    from tunelog import mapped_journal, spool

    for recover in (spool.recover, mapped_journal.recover):
        try:
            recover(store, directory)
        except Exception as exc:
            failures.record(f"replaying the journal of a process that died (in {directory})", exc)


_backends: _Backends | None = None
_init_lock = threading.Lock()


def backends() -> _Backends:
    global _backends
    if _backends is None:
        with _init_lock:
            if _backends is None:
                _backends = _Backends()
    return _backends


def backend_for(settings: Settings) -> Backend:
    return backends().get(settings)
