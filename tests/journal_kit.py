"""What the journal tests (test_spool, test_mapped_journal) share: a real SQLite store with one run,
batches of its steps, and the steps it holds."""

from __future__ import annotations

import os
from pathlib import Path

from tunelog.store import open_store
from tunelog.store.base import RunKey, RunRecord, Store, WriteBatch

KEY = RunKey("tester", "journal", "r1")


def journal_env(tl_dir: Path) -> dict[str, str]:
    return {**os.environ, "TUNELOG_DIR": str(tl_dir), "TUNELOG_ENTITY": "tester"}


def journal_store(tl_dir: Path) -> Store:
    tl_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(f"sqlite:///{tl_dir / 'tunelog.db'}")
    if store.get_run(KEY) is None:
        store.create_run(RunRecord(KEY, "r1", created_at=1.0, updated_at=1.0))
    return store


def steps_batch(first: int, n: int) -> WriteBatch:
    return WriteBatch(steps={KEY: [(s, 1.0 + s, {"loss": 1.0 / (s + 1)}) for s in range(first, first + n)]})


def stored_steps(store: Store) -> list[int]:
    return sorted({r.step for r in store.read_history(KEY, ["loss"])})
