"""Metric history in the SQLite store: upserts, value types, ranges, keys, last_step."""

from __future__ import annotations

import logging
import math

import pytest

from tests.store.store_helpers import make_run
from tunelog.errors import ReferenceNotFound
from tunelog.store.base import HistoryRow, RunKey, WriteBatch
from tunelog.store.sql import SQLStore


def rows(*points: tuple[int, str, object]) -> list[HistoryRow]:
    return [HistoryRow(step, key, value, 100.0 + step) for step, key, value in points]


def test_write_and_read_in_step_then_key_order(store: SQLStore) -> None:
    key = make_run(store)
    store.write(WriteBatch(history={key: rows((1, "b", 2.0), (0, "z", 1.0), (0, "a", 0.5), (1, "a", 3.0))}))
    got = store.read_history(key)
    assert [(r.step, r.key, r.value) for r in got] == [
        (0, "a", 0.5),
        (0, "z", 1.0),
        (1, "a", 3.0),
        (1, "b", 2.0),
    ]
    assert got[0].time == 100.0
    assert store.history_keys(key) == ["a", "b", "z"]


def test_a_later_write_of_the_same_step_replaces_it(store: SQLStore) -> None:
    key = make_run(store)
    store.write(WriteBatch(history={key: rows((0, "loss", 1.0), (1, "loss", 0.9))}))
    store.write(WriteBatch(history={key: [HistoryRow(1, "loss", "text now", 555.0)]}))
    got = store.read_history(key)
    assert [(r.step, r.value, r.time) for r in got] == [(0, 1.0, 100.0), (1, "text now", 555.0)]


def test_value_types(store: SQLStore) -> None:
    key = make_run(store)
    values: list[object] = [
        1,
        2.5,
        True,
        None,
        math.nan,
        "s",
        [1, "x"],
        {"_type": "table-ref", "sha256": "ab"},
        math.inf,
        2**80,
        "héllo \u2603",
    ]
    store.write(WriteBatch(history={key: [HistoryRow(i, "v", v, 0.0) for i, v in enumerate(values)]}))
    got = [r.value for r in store.read_history(key)]
    assert got[:3] == [1.0, 2.5, 1.0] and all(
        isinstance(v, float) for v in got[:3]
    )  # numbers and bools: REAL
    assert got[3] is None and got[4] is None  # None stays JSON null; NaN reads back as None
    assert got[5:8] == ["s", [1, "x"], {"_type": "table-ref", "sha256": "ab"}]
    assert got[8] == math.inf
    assert got[9] == float(2**80)
    assert got[10] == "héllo \u2603"


def test_ranges_keys_and_limit(store: SQLStore) -> None:
    key = make_run(store)
    store.write(
        WriteBatch(history={key: [HistoryRow(s, k, float(s), 0.0) for s in range(100) for k in "abc"]})
    )
    assert [(r.step, r.key) for r in store.read_history(key, min_step=10, max_step=11)] == [
        (10, "a"), (10, "b"), (10, "c"), (11, "a"), (11, "b"), (11, "c"),
    ]  # fmt: skip
    only_b = store.read_history(key, keys=["b"], min_step=95)
    assert [(r.step, r.key) for r in only_b] == [(s, "b") for s in range(95, 100)]
    assert [r.key for r in store.read_history(key, keys=["c", "a"], max_step=0)] == ["a", "c"]
    assert store.read_history(key, keys=["nope"]) == []
    page = store.read_history(key, min_step=50, limit=4)
    assert [(r.step, r.key) for r in page] == [(50, "a"), (50, "b"), (50, "c"), (51, "a")]
    # Keyset paging over one key, as a chart does.
    seen: list[int] = []
    after = -1
    while chunk := store.read_history(key, keys=["a"], min_step=after + 1, limit=30):
        seen.extend(r.step for r in chunk)
        after = chunk[-1].step
    assert seen == list(range(100))


def test_last_step_follows_the_highest_step_written(store: SQLStore) -> None:
    key = make_run(store)
    assert store.get_run(key).last_step is None  # type: ignore[union-attr]
    store.write(WriteBatch(history={key: rows((5, "a", 1.0), (7, "a", 1.0))}))
    store.write(WriteBatch(history={key: rows((3, "a", 1.0))}))  # a rewrite of an older step
    assert store.get_run(key).last_step == 7  # type: ignore[union-attr]


def test_one_batch_for_several_runs_with_updates_is_one_transaction(store: SQLStore) -> None:
    a, b = make_run(store, "a"), make_run(store, "b")
    batch = WriteBatch(
        history={a: rows((0, "x", 1.0)), b: rows((0, "x", 2.0))},
        run_updates={a: {"summary": {"x": 1.0}}, b: {"summary": {"x": 2.0}, "heartbeat_at": 5.0}},
    )
    store.write(batch)
    assert store.get_run(a).summary == {"x": 1.0}  # type: ignore[union-attr]
    assert store.get_run(b).heartbeat_at == 5.0  # type: ignore[union-attr]
    # An invalid update is refused before anything is written.
    with pytest.raises(ValueError, match="Cannot update run field"):
        store.write(WriteBatch(history={a: rows((1, "x", 9.0))}, run_updates={a: {"bogus": 1}}))
    assert [r.step for r in store.read_history(a)] == [0]


def test_rows_for_a_deleted_run_are_dropped_and_logged_once(
    store: SQLStore, caplog: pytest.LogCaptureFixture
) -> None:
    alive = make_run(store, "alive")
    gone = RunKey("e", "p", "gone")
    with caplog.at_level(logging.WARNING, logger="tunelog"):
        store.write(WriteBatch(history={gone: rows((0, "x", 1.0)), alive: rows((0, "x", 1.0))}))
        store.write(WriteBatch(history={gone: rows((1, "x", 1.0))}))
    assert len(store.read_history(alive)) == 1
    assert sum("dropped" in r.message for r in caplog.records) == 1


def test_history_of_unknown_run_is_empty_and_blob_refs_need_a_run(store: SQLStore) -> None:
    ghost = RunKey("e", "p", "ghost")
    assert store.read_history(ghost) == [] and store.history_keys(ghost) == []
    with pytest.raises(ReferenceNotFound):
        store.add_blob_refs(ghost, ["x"])


def test_many_keys(store: SQLStore) -> None:
    key = make_run(store)
    names = [f"k{i:04d}" for i in range(1200)]  # more than one IN (...) chunk
    store.write(WriteBatch(history={key: [HistoryRow(0, n, 1.0, 0.0) for n in names]}))
    store.write(WriteBatch(history={key: [HistoryRow(1, n, 2.0, 0.0) for n in names]}))
    assert store.history_keys(key) == names
    assert len(store.read_history(key, keys=names[::2])) == 1200


def test_lone_surrogates_are_stored_escaped(store: SQLStore) -> None:
    key = make_run(store, config={"bad": "\ud800"})
    store.write(WriteBatch(history={key: [HistoryRow(0, "t", "x\udfff", 0.0)]}))
    assert store.get_run(key).config == {"bad": "\ud800"}  # type: ignore[union-attr]
    assert store.read_history(key)[0].value == "x\udfff"
