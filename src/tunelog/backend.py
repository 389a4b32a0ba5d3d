"""The backend of a process: one store, one blob store and one writer per data location.

Opened lazily on first use (so ``import tunelog`` does no I/O) and shared by every run, artifact and
``Api`` of the process that points at the same place.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tunelog.blobs.base import BlobStore
from tunelog.settings import Settings
from tunelog.store.base import Store
from tunelog.writer import FailureCounter, Writer


@dataclass
class Backend:
    settings: Settings
    store: Store
    blobs: BlobStore
    writer: Writer
    failures: FailureCounter


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
                b = Backend(settings, b.store, b.blobs, b.writer, b.failures)
            return b

    def all(self) -> list[Backend]:
        with self._lock:
            return list(self._open.values())


def _open_backend(settings: Settings) -> Backend:
    from tunelog.blobs import open_blobs
    from tunelog.store import open_store

    if settings.mode != "disabled":
        settings.dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store_url)
    blobs = open_blobs(settings.blobs_url)
    failures = FailureCounter()
    return Backend(settings, store, blobs, Writer(store, failures), failures)


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
