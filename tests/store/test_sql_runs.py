"""Runs in the SQLite store: create, read, update, list, delete."""

from __future__ import annotations

import math

import pytest

from tests.store.store_helpers import make_run, new_version
from tunelog.errors import ReferenceNotFound, RunExistsError, StoreError
from tunelog.store.base import HistoryRow, RunKey, RunQuery, RunRecord, WriteBatch
from tunelog.store.sql import SQLStore


def test_create_and_get_round_trips_every_field(store: SQLStore) -> None:
    key = RunKey("ent", "proj", "abc123")
    record = RunRecord(
        key, name="first", state="running", job_type="eval", group="g1", notes="n", tags=("a", "b"),
        config={"lr": 0.1, "nested": {"x": [1, 2]}}, summary={"loss": 0.5}, meta={"host": "h"},
        created_at=10.5, updated_at=11.5, finished_at=None, heartbeat_at=12.0, exit_code=None,
        host="box", pid=4242, pid_start=987654, last_step=None,
    )  # fmt: skip
    store.create_run(record)
    assert store.get_run(key) == record
    assert store.get_run(RunKey("ent", "proj", "nope")) is None


def test_run_ids_are_unique_per_entity_and_project(store: SQLStore) -> None:
    make_run(store, "same")
    with pytest.raises(RunExistsError, match="resume='allow'"):
        make_run(store, "same")
    make_run(store, "same", project="other")  # another project: fine
    make_run(store, "same", entity="other")


def test_update_run_sets_fields_and_validates_names(store: SQLStore) -> None:
    key = make_run(store)
    store.update_run(key, {"state": "finished", "exit_code": 0, "tags": ["x"], "group": "G",
                           "summary": {"acc": 0.9}, "finished_at": 20.0})  # fmt: skip
    run = store.get_run(key)
    assert run is not None
    assert (run.state, run.exit_code, run.tags, run.group, run.summary) == (
        "finished",
        0,
        ("x",),
        "G",
        {"acc": 0.9},
    )
    with pytest.raises(ValueError, match="last_step"):
        store.update_run(key, {"last_step": 5})
    with pytest.raises(ValueError, match="Invalid run state"):
        store.update_run(key, {"state": "exploded"})
    with pytest.raises(ReferenceNotFound):
        store.update_run(RunKey("e", "p", "missing"), {"notes": "x"})


def test_non_finite_floats_in_json_columns_do_not_break_filters(store: SQLStore) -> None:
    key = make_run(store, config={"lr": math.nan, "cap": math.inf, "ok": 1})
    run = store.get_run(key)
    assert run is not None and run.config == {"lr": None, "cap": None, "ok": 1}
    assert store.count_runs("e", "p", None) == 1
    from tunelog.filters import parse_filter

    assert store.count_runs("e", "p", parse_filter({"config.ok": 1})) == 1


def test_list_runs_orders_newest_first_and_pages(store: SQLStore) -> None:
    for i in range(5):
        make_run(store, f"r{i}", created_at=100.0 + i)
    make_run(store, "elsewhere", project="q")
    ids = [r.key.run_id for r in store.list_runs("e", "p", RunQuery())]
    assert ids == ["r4", "r3", "r2", "r1", "r0"]
    page = store.list_runs("e", "p", RunQuery(limit=2, offset=1))
    assert [r.key.run_id for r in page] == ["r3", "r2"]
    assert store.list_runs("e", "p", RunQuery(offset=4))[0].key.run_id == "r0"
    assert store.count_runs("e", "p", None) == 5


def test_list_projects_includes_runs_and_artifacts(store: SQLStore) -> None:
    make_run(store, project="a")
    make_run(store, project="b", entity="other")
    store.create_version(new_version(project="c"))
    assert store.list_projects() == [("e", "a"), ("e", "c"), ("other", "b")]
    assert store.list_projects("other") == [("other", "b")]


def test_delete_run_removes_history_usage_and_blob_refs_but_keeps_artifacts(store: SQLStore) -> None:
    key = make_run(store)
    keep = make_run(store, "r2")
    store.write(
        WriteBatch(history={key: [HistoryRow(0, "a", 1.0, 0.0)], keep: [HistoryRow(0, "a", 2.0, 0.0)]})
    )
    version, _ = store.create_version(new_version(logged_by=key))
    store.add_usage(version.id, key)
    store.add_blob_refs(key, ["tablesha"])
    assert "tablesha" in store.referenced_blobs()

    store.delete_run(key)

    assert store.get_run(key) is None
    assert store.read_history(key) == []
    assert store.version_users(version.id) == []
    assert "tablesha" not in store.referenced_blobs()
    survivor = store.get_version_by_id(version.id)
    assert survivor is not None and survivor.logged_by is None  # stays, unowned
    assert [r.value for r in store.read_history(keep)] == [2.0]
    with pytest.raises(ReferenceNotFound):
        store.delete_run(key)


def test_closed_store_refuses_politely(db_path: object) -> None:
    s = SQLStore(db_path)  # type: ignore[arg-type]
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.get_run(RunKey("e", "p", "r"))


def test_not_a_database_is_a_store_error(tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "junk.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="Cannot open the tunelog store"):
        SQLStore(bad)


def test_memory_store_is_shared_across_threads() -> None:
    import threading

    s = SQLStore(None)
    key = make_run(s)
    seen: list[object] = []
    t = threading.Thread(target=lambda: seen.append(s.get_run(key)))
    t.start()
    t.join()
    assert seen and seen[0] is not None
    s.close()
