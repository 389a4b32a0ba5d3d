"""What the writer thread holds between commits: drained batches, journalled and not yet committed.

The writer (:mod:`tunelog.writer`) drains whatever is queued into one batch and settles it here
(:meth:`HeldBatches.settle`). With a journal (:mod:`tunelog.spool`, the default for a data
directory) the batch is appended to it at once, one ``write``, and held; what is held is committed
to the store at most every tenth of a second, or past a size, or at once when asked (a flush, the
batches callers built and journalled themselves, a drain of 1,000 rows or more, whose commit's fixed
cost is spread over its rows already). Without a journal each batch is committed as it comes. A
commit is retried; one the store still refuses leaves its batch in the journal, for the next process
that opens the data directory to replay. Writer thread only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tunelog.failure_counter import FailureCounter
from tunelog.store.base import Store, WriteBatch

if TYPE_CHECKING:
    from tunelog.spool import Spool

#: With a journal: commit what is held at most this often, or once it holds this many rows.
COMMIT_INTERVAL_S = 0.1
_MAX_HELD_ROWS = 50_000
#: A drain this big is committed at once, not journalled first: the commit's fixed cost is spread
#: over the rows already, and the journal would add ~3 µs a call to a writer that is behind.
_COMMIT_DIRECTLY_ROWS = 1_000


class HeldBatches:
    """The writer's journal and the batches it holds (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        failures: FailureCounter,
        journal_dir: Path | None,
        on_journalled: Callable[[], None],
    ) -> None:
        self._store = store
        self.failures = failures
        #: Where to journal; None: commit as drained. The journal is made at first use.
        self.journal_dir = journal_dir
        self.spool: Spool | None = None
        # Journalled but not yet committed, since ``since`` (time.monotonic), ``rows`` rows.
        self.batch: WriteBatch | None = None
        self.rows = 0
        self.since = 0.0
        self._on_journalled = on_journalled  # a caller handing the writer the GIL may go on

    def settle(self, batch: WriteBatch, rows: int, *, force: bool) -> None:
        """Journal ``batch`` and hold it, or commit it with everything held."""
        now = time.monotonic()
        spool = self.spool
        force = force or rows >= _COMMIT_DIRECTLY_ROWS
        if spool is None and self.journal_dir is not None and batch and not force:
            spool = self.open_spool()
        if spool is not None and not force:
            if batch:
                try:
                    spool.append(batch)
                except Exception as exc:  # a full disk, a value JSON refuses: commit it now instead
                    self.failures.record("journalling metrics and spans", exc)
                    force = True
                else:
                    self._on_journalled()  # safe from a kill: a caller handing over may go on
                    if self.batch is None:
                        self.batch, self.rows, self.since = batch, rows, now
                    else:
                        self.batch.extend(batch)
                        self.rows += rows
                    batch = WriteBatch()
            if not force and (
                self.batch is None or (now - self.since < COMMIT_INTERVAL_S and self.rows < _MAX_HELD_ROWS)
            ):
                return
        fresh = batch  # what the journal does not hold (a batch committed as it was drained)
        held = self.batch
        if held is not None:
            held.extend(batch)
            batch = held
            self.batch = None
            self.rows = 0
        elif not batch:
            return
        if self.commit(batch):
            if spool is not None and spool.dirty:
                try:
                    spool.reset()
                except Exception as exc:
                    self.failures.record("emptying the journal", exc)
                    self.close_spool(unlink=False)
            return
        # The store refused the batch: leave it in the journal, to be replayed by the next process
        # that opens the data directory, and start a new one.
        if fresh and self.journal_dir is not None:
            spool = spool or self.open_spool()
            try:
                if spool is not None:
                    spool.append(fresh)
            except Exception as exc:
                self.failures.record("journalling metrics and spans", exc)
        if spool is not None and spool.dirty:
            self.close_spool(unlink=False)

    def open_spool(self) -> Spool | None:
        from tunelog import spool as spool_mod

        directory = self.journal_dir
        if directory is not None and spool_mod.supported():
            self.spool = spool_mod.Spool(directory)
        else:  # pragma: no cover - Windows: commit as drained
            self.journal_dir = None
        return self.spool

    def close_spool(self, unlink: bool = True) -> None:
        spool = self.spool
        if spool is None:
            return
        try:
            if unlink and not spool.dirty:
                spool.close()
            else:
                spool.abandon()
        except Exception as exc:
            self.failures.record("closing the journal", exc)

    def commit(self, batch: WriteBatch) -> bool:
        for attempt in range(4):
            try:
                self._store.write(batch)
                return True
            except Exception as exc:
                if attempt == 3:
                    # One kind of failure however big the batch: the message is logged once per kind.
                    self.failures.record("writing metrics, events and spans to the store", exc)
                    return False
                time.sleep(0.05 * (2**attempt))
        return False
