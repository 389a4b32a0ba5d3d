"""Micro-benchmark of the store's history path: ``SQLStore.write`` of 1,000,000 points.

200,000 steps × 5 keys, committed in batches as the background writer would, into a fresh SQLite
file; then the reads the dashboard and ``scan_history`` make. Prints rows/s. Not a test: run it as
``python bench/store_history_bench.py [--batch 10000]``.

Only the store is timed here (HistoryRow objects are built beforehand); the end-to-end number,
``run.log`` included, is the 1M-point benchmark of ``bench/``.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

from tunelog.store.base import HistoryRow, RunKey, RunRecord, WriteBatch
from tunelog.store.sql import SQLStore

KEYS = ("train/loss", "train/accuracy", "valid/loss", "valid/accuracy", "learning_rate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument(
        "--batch", type=int, nargs="+", default=[1_000, 10_000, 100_000], help="rows per commit"
    )
    args = parser.parse_args()
    print(f"SQLite {sqlite3.sqlite_version}; {args.steps:,} steps × {len(KEYS)} keys")
    for batch in args.batch:
        bench(args.steps, batch)


def bench(steps: int, batch: int) -> None:
    now = time.time()
    rows = [HistoryRow(step, k, step * 0.001 + i, now) for step in range(steps) for i, k in enumerate(KEYS)]
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLStore(Path(tmp) / "bench.db")
        key = RunKey("bench", "bench", "run1")
        store.create_run(RunRecord(key, name="run1", created_at=now, updated_at=now))
        t0 = time.perf_counter()
        for start in range(0, len(rows), batch):
            store.write(WriteBatch(history={key: rows[start : start + batch]}))
        write_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        points = store.read_history(key, keys=["train/loss"], min_step=50_000, limit=100_000)
        one_key_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        page = store.read_history(key, min_step=100_000, limit=5_000)
        page_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        everything = store.read_history(key)
        all_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rerun = rows[:50_000]  # a resumed fine-tune sync rewriting steps it already wrote
        store.write(WriteBatch(history={key: rerun}))
        upsert_s = time.perf_counter() - t0
        run = store.get_run(key)
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        store.close()
    assert run is not None and run.last_step == steps - 1 and len(points) == 100_000 and len(page) == 5_000
    assert len(everything) == len(rows)
    n = len(rows)
    print(
        f"batch {batch:>7,}: write {n:,} rows in {write_s:.2f} s = {n / write_s:,.0f} rows/s; "
        f"re-upsert 50,000 in {upsert_s:.2f} s; one key 100k points {one_key_s * 1000:.0f} ms; "
        f"5,000-row page {page_s * 1000:.0f} ms; all rows {all_s:.2f} s; file {size / 1e6:.0f} MB"
    )


if __name__ == "__main__":
    main()
