"""Helpers for the store tests, and the entry points of the processes the concurrency tests start
(module-level functions, so ``multiprocessing``'s spawn can import them)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tunelog.store.base import (
    HistoryRow,
    ManifestEntry,
    NewVersion,
    RunKey,
    RunRecord,
    SpanRecord,
    Store,
    WriteBatch,
)
from tunelog.store.sql import SQLStore


def make_run(
    store: Store, run_id: str = "r1", project: str = "p", entity: str = "e", **fields: Any
) -> RunKey:
    key = RunKey(entity, project, run_id)
    values: dict[str, Any] = {"name": run_id, "created_at": 1000.0, "updated_at": 1000.0}
    values.update(fields)
    store.create_run(RunRecord(key, **values))
    return key


def span(run: RunKey, i: int, **fields: object) -> SpanRecord:
    values: dict[str, object] = {
        "span_id": f"s{i:03d}", "trace_id": f"t{i // 2}", "parent_id": None, "run": run,
        "name": "chat.completions.create", "kind": "llm", "start_time": 100.0 + i, "end_time": 100.5 + i,
        "status": "ok", "model": "gpt-4o-mini", "outputs": {"content": "hello"},
        "inputs": {"messages": [{"role": "user", "content": f"hi {i}"}]},
        "usage": {"total_tokens": 7}, "cost_usd": 0.001,
    }  # fmt: skip
    values.update(fields)
    return SpanRecord(**values)  # type: ignore[arg-type]


def new_version(name: str = "data", digest: str = "d0", files: int = 1, **fields: Any) -> NewVersion:
    values: dict[str, Any] = {
        "entity": "e",
        "project": "p",
        "name": name,
        "type": "dataset",
        "digest": digest,
        "files": [ManifestEntry(f"f{i}.txt", f"{digest}-sha{i}", 10 + i) for i in range(files)],
    }
    values.update(fields)
    return NewVersion(**values)


# -- process entry points -------------------------------------------------------------------------
def open_once(path: str, start: Any) -> None:
    """Wait for the others (``start`` is a Barrier), then open (and so migrate) the store."""
    start.wait(30)
    SQLStore(Path(path)).close()


def log_steps(path: str, run_id: str, steps: int, batch: int, start: Any) -> None:
    """Open the store, create a run and write ``steps`` steps in ``batch``-step transactions."""
    store = SQLStore(Path(path))
    key = make_run(store, run_id)
    start.wait(30)
    now = time.time()
    for first in range(0, steps, batch):
        rows = [HistoryRow(s, "loss", 1.0 / (s + 1), now) for s in range(first, min(first + batch, steps))]
        store.write(WriteBatch(history={key: rows}, run_updates={key: {"heartbeat_at": time.time()}}))
    store.close()


def log_versions(path: str, tag: str, count: int, start: Any) -> None:
    """Add ``count`` versions (distinct content) to one shared collection."""
    store = SQLStore(Path(path))
    start.wait(30)
    for i in range(count):
        store.create_version(new_version("shared", digest=f"{tag}-{i}"))
    store.close()
