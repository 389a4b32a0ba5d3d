"""Several processes and threads on one store file at once."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

from tests.store.store_helpers import log_steps, log_versions, make_run
from tunelog.store.base import HistoryRow, RunKey, WriteBatch
from tunelog.store.sql import SQLStore


def test_four_processes_logging_10000_steps_each(db_path: Path) -> None:
    SQLStore(db_path).close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)  # all log at the same time
    procs = [
        ctx.Process(target=log_steps, args=(str(db_path), f"run{i}", 10_000, 50, start)) for i in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = SQLStore(db_path)
    try:
        for i in range(4):
            key = RunKey("e", "p", f"run{i}")
            steps = [r.step for r in store.read_history(key)]
            assert steps == list(range(10_000))
            assert store.get_run(key).last_step == 9_999  # type: ignore[union-attr]
    finally:
        store.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM history").fetchone()[0] == 40_000
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_two_processes_numbering_one_collection_leave_no_gaps(db_path: Path) -> None:
    SQLStore(db_path).close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=log_versions, args=(str(db_path), tag, 60, start)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    store = SQLStore(db_path)
    try:
        versions = store.list_versions("e", "p", "shared")
        assert [v.index for v in versions] == list(range(120))
        assert [v.aliases for v in versions if v.aliases] == [("latest",)]
        assert versions[-1].aliases == ("latest",)
    finally:
        store.close()


def test_a_writer_thread_and_reader_threads_share_a_store(store: SQLStore) -> None:
    key = make_run(store)
    errors: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:
        try:
            for s in range(0, 2000, 20):
                store.write(
                    WriteBatch(history={key: [HistoryRow(i, "x", float(i), 0.0) for i in range(s, s + 20)]})
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def reader() -> None:
        try:
            while not done.is_set():
                rows = store.read_history(key, keys=["x"])
                assert [r.step for r in rows] == list(range(len(rows)))  # a consistent snapshot
                store.get_run(key)
                time.sleep(0.001)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), *(threading.Thread(target=reader) for _ in range(3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(store.read_history(key)) == 2000


def test_connections_of_finished_threads_are_closed(store: SQLStore) -> None:
    key = make_run(store)
    for _ in range(5):
        t = threading.Thread(target=store.get_run, args=(key,))
        t.start()
        t.join()
    store.get_run(key)  # a new thread's first call closes the dead threads' connections
    t = threading.Thread(target=store.get_run, args=(key,))
    t.start()
    t.join()
    assert len(store._conns._by_thread) <= 2


def _write_from_child(store: SQLStore, key: RunKey) -> None:
    store.write(WriteBatch(history={key: [HistoryRow(1, "x", 2.0, 0.0)]}))
    store.close()


def test_a_forked_child_gets_its_own_connection(store: SQLStore) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        return
    key = make_run(store)
    store.write(WriteBatch(history={key: [HistoryRow(0, "x", 1.0, 0.0)]}))
    child = multiprocessing.get_context("fork").Process(target=_write_from_child, args=(store, key))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    store.write(
        WriteBatch(history={key: [HistoryRow(2, "x", 3.0, 0.0)]})
    )  # the parent's connection still works
    assert [r.value for r in store.read_history(key)] == [1.0, 2.0, 3.0]
