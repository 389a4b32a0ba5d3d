"""Scanning large dataset files in a worker process, so that tokenizing overlaps the rest of a sync.

Exact token counts are the bulk of a sync's CPU time (about 2 s for a 140 MB training file), and
they cannot share the process with the history writes: quicktok's ``count`` and ``encode_batch``
hold the GIL, and so does loading a vocabulary (about 0.6 s). So a file of at least
:data:`WORKER_SCAN_BYTES` is scanned by one worker process, started as soon as sync knows such a file
is coming: it loads the tokenizer while the main process downloads, then scans the stored file while
the main process writes the run. Smaller files are scanned in-process as they download, since
starting a process would cost more than it saves. If the worker cannot be started or dies, the file
is scanned in-process instead (logged once), so the result never depends on the worker.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from tunelog.integration.openai import datasets

log = logging.getLogger("tunelog")

#: Files at least this large are scanned by the worker process.
WORKER_SCAN_BYTES = 24 << 20
_READ_BYTES = 1 << 20


def scan_file(path: str, model: str | None, method: str | None, label: str) -> datasets.DatasetStats:
    """Scan a stored JSONL file (the function the worker runs; also the in-process fallback)."""
    scanner = datasets.DatasetScanner(model, method, label)
    with open(path, "rb") as f:
        while chunk := f.read(_READ_BYTES):
            scanner.feed(chunk)
    return scanner.finish()


def _load_tokenizer(encoding: str) -> None:
    datasets.tokenizer(encoding)


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group; the sync process decides what to stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class PendingScan:
    """The statistics of a file being scanned; :meth:`result` waits for them."""

    def __init__(
        self, future: Future[datasets.DatasetStats] | None, args: tuple[str, str | None, str | None, str]
    ) -> None:
        self._future = future
        self._args = args
        self._stats: datasets.DatasetStats | None = None

    def result(self) -> datasets.DatasetStats:
        if self._stats is None:
            if self._future is not None:
                try:
                    self._stats = self._future.result()
                except Exception as exc:  # the worker died or could not start: scan here instead
                    log.warning("tunelog: the dataset scan worker failed (%r); scanning in-process", exc)
            if self._stats is None:
                self._stats = scan_file(*self._args)
        return self._stats


class ScanPool:
    """One worker process for the dataset scans of a sync, started on first use; thread-safe.

    Args:
        min_bytes: files at least this large go to the worker (smaller ones are scanned in-process).
    """

    def __init__(self, min_bytes: int | None = None) -> None:
        self.min_bytes = WORKER_SCAN_BYTES if min_bytes is None else min_bytes
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._failed = False
        self._warm: set[str] = set()

    def wants(self, size: int | None) -> bool:
        """Whether a file of ``size`` bytes is scanned by the worker."""
        return size is not None and size >= self.min_bytes and not self._failed

    def warm(self, model: str | None) -> None:
        """Start the worker (if needed) and have it load the tokenizer for ``model`` meanwhile."""
        encoding = datasets.encoding_name(model)
        with self._lock:
            if encoding in self._warm:
                return
            self._warm.add(encoding)
            pool = self._start()
            if pool is not None:
                self._submit(pool, _load_tokenizer, encoding)

    def scan(self, path: Path, model: str | None, method: str | None, label: str) -> PendingScan:
        """Scan ``path`` in the worker; the returned :class:`PendingScan` gives the statistics."""
        args = (str(path), model, method, label)
        with self._lock:
            pool = self._start()
            future = self._submit(pool, scan_file, *args) if pool is not None else None
        return PendingScan(future, args)

    def close(self) -> None:
        """Stop the worker (waiting for scans in progress)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _start(self) -> ProcessPoolExecutor | None:
        if self._pool is None and not self._failed:
            try:
                # spawn, not fork: the sync process has threads (the writer, HTTP pools)
                self._pool = ProcessPoolExecutor(
                    1, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_interrupts
                )
            except (OSError, ValueError) as exc:
                self._failed = True
                log.warning("tunelog: cannot start a dataset scan worker (%r); scanning in-process", exc)
        return self._pool

    def _submit(
        self, pool: ProcessPoolExecutor, fn: object, *args: object
    ) -> Future[datasets.DatasetStats] | None:
        try:
            return pool.submit(fn, *args)  # type: ignore[arg-type]
        except RuntimeError as exc:  # broken or shut down
            self._failed = True
            log.warning("tunelog: the dataset scan worker is unavailable (%r); scanning in-process", exc)
            return None
