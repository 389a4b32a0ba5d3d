"""What the writer thread holds between commits (tunelog.held_batches): journalled at once, committed
every tenth of a second or when asked, committed as it comes without a journal."""

from __future__ import annotations

from pathlib import Path

from tunelog.failure_counter import FailureCounter
from tunelog.held_batches import HeldBatches
from tunelog.store.base import WriteBatch

from .journal_kit import journal_store, steps_batch, stored_steps


def test_without_a_journal_a_batch_is_committed_as_it_comes(tmp_path: Path) -> None:
    store = journal_store(tmp_path)
    held = HeldBatches(store, FailureCounter(), None, lambda: None)
    held.settle(steps_batch(0, 2), 2, force=False)
    assert stored_steps(store) == [0, 1]
    assert held.batch is None and held.spool is None


def test_with_a_journal_a_batch_is_journalled_held_then_committed_with_the_next(tmp_path: Path) -> None:
    store = journal_store(tmp_path)
    journalled: list[bool] = []
    held = HeldBatches(store, FailureCounter(), tmp_path / "spool", lambda: journalled.append(True))
    held.settle(steps_batch(0, 2), 2, force=False)
    assert journalled == [True]  # safe from a kill from here on
    assert stored_steps(store) == []
    assert held.rows == 2 and held.spool is not None and held.spool.dirty
    held.settle(steps_batch(2, 1), 1, force=True)  # a flush: everything held goes in one commit
    assert stored_steps(store) == [0, 1, 2]
    assert held.batch is None and not held.spool.dirty


def test_a_big_drain_skips_the_journal(tmp_path: Path) -> None:
    store = journal_store(tmp_path)
    held = HeldBatches(store, FailureCounter(), tmp_path / "spool", lambda: None)
    held.settle(steps_batch(0, 1000), 1000, force=False)
    assert len(stored_steps(store)) == 1000
    assert held.spool is None


def test_nothing_to_settle_does_nothing(tmp_path: Path) -> None:
    store = journal_store(tmp_path)
    held = HeldBatches(store, FailureCounter(), tmp_path / "spool", lambda: None)
    held.settle(WriteBatch(), 0, force=True)
    assert stored_steps(store) == [] and held.spool is None
