"""The dashboard's store reads on a real SQLite file: downsampling, keyset paging, views, reports."""

from __future__ import annotations

import time
from pathlib import Path

from tunelog.filters import parse_order
from tunelog.store.base import HistoryRow, RunKey, RunRecord, SpanRecord, WriteBatch
from tunelog.store.sql import SQLStore


def _store(tmp_path: Path) -> SQLStore:
    return SQLStore(tmp_path / "t.db")


def _run(store: SQLStore, rid: str, **kw: object) -> RunKey:
    key = RunKey("e", "p", rid)
    store.create_run(RunRecord(key=key, name=rid, created_at=kw.pop("t", time.time()), updated_at=0.0, **kw))  # type: ignore[arg-type]
    return key


def test_a_long_metric_is_downsampled_keeping_its_range(tmp_path: Path) -> None:
    store = _store(tmp_path)
    key = _run(store, "r")
    rows = [HistoryRow(s, "loss", 1.0 / (1 + s), float(s)) for s in range(100_000)]
    rows[50_000] = HistoryRow(50_000, "loss", 99.0, 50_000.0)  # a spike must stay visible
    store.write(WriteBatch(history={key: rows}))
    s = store.read_metric(key, "loss", max_points=500)
    assert s.downsampled and s.total == 100_000 and 400 <= len(s.steps) <= 500
    assert max(s.maxs) == 99.0 and min(s.mins) == rows[-1].value
    assert s.steps == sorted(s.steps)
    zoom = store.read_metric(key, "loss", max_points=500, min_step=100, max_step=299)
    assert not zoom.downsampled and zoom.steps[0] == 100 and len(zoom.steps) == 200
    assert store.read_metric(key, "missing").total == 0
    info = {k.name: k.points for k in store.metric_keys(key)}
    assert info == {"loss": 100_000}


def test_runs_page_through_every_run_exactly_once_in_order(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for i in range(23):
        summary = {} if i % 5 == 0 else {"loss": float(i % 4)}  # ties and missing values
        _run(store, f"r{i:02d}", summary=summary, t=1000.0 + i % 3)
    for order in ("-created_at", "summary.loss", "-summary.loss", "name"):
        expected = [r.key.run_id for r in store.list_runs("e", "p", _q(order))]
        seen, cursor = [], None
        while True:
            page = store.list_runs_page("e", "p", None, parse_order(order), cursor, limit=4)
            seen += [r.key.run_id for r in page.runs]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(expected) and len(seen) == 23, order
        # Same sort value as the store's own ordering; ties broken by run id.
        values = [store.get_run(RunKey("e", "p", rid)) for rid in seen]
        field = order.lstrip("+-")
        keyf = (
            (lambda r: r.summary.get("loss"))
            if field.startswith("summary")
            else (lambda r, field=field: getattr(r, field))
        )
        present = [keyf(r) for r in values if keyf(r) is not None]
        assert present == sorted(present, reverse=order.startswith("-")), order
        assert all(keyf(r) is None for r in values[len(present) :]), "missing values come last"


def _q(order: str) -> object:
    from tunelog.store.base import RunQuery

    return RunQuery(order=parse_order(order))


def test_views_and_reports_round_trip(tmp_path: Path) -> None:
    store = _store(tmp_path)
    v = store.save_view("e", "p", "mine", {"q": "state = 1", "cols": ["config.a"]})
    assert v.spec["cols"] == ["config.a"]
    store.save_view("e", "p", "mine", {"q": "x"})
    assert [x.spec for x in store.list_views("e", "p")] == [{"q": "x"}]
    store.delete_view("e", "p", "mine")
    assert store.get_view("e", "p", "mine") is None
    r = store.save_report("e", "p", "T", {"blocks": [{"type": "note", "text": "hi"}]})
    r2 = store.save_report("e", "p", "T2", {"blocks": []}, report_id=r.id)
    assert r2.id == r.id and r2.title == "T2" and store.list_reports("e", "p")[0].body == {"blocks": []}
    assert store.get_report("e", "other", r.id) is None
    store.delete_report("e", "p", r.id)
    assert store.list_reports("e", "p") == []


def test_project_stats_and_span_stats(tmp_path: Path) -> None:
    store = _store(tmp_path)
    key = _run(store, "r", state="running")
    _run(store, "s", state="finished")
    t = 1_700_000_000.0
    spans = [
        SpanRecord(
            f"s{i}",
            "t",
            None,
            key,
            "call",
            "llm",
            t + i,
            t + i + 0.5,
            "error" if i == 3 else "ok",
            model="m1" if i % 2 else "m2",
            usage={"prompt_tokens": 10, "completion_tokens": 5},
            cost_usd=0.01,
        )
        for i in range(10)
    ]
    store.write(WriteBatch(spans=spans))
    (ps,) = store.project_stats()
    assert (ps.entity, ps.project, ps.runs, ps.running) == ("e", "p", 2, 1)
    stats = store.span_stats("e", "p", buckets=5)
    assert sum(s.calls for s in stats) == 10 and sum(s.errors for s in stats) == 1
    assert sum(s.prompt_tokens for s in stats) == 100 and {s.model for s in stats} == {"m1", "m2"}
    assert abs(sum(s.cost_usd for s in stats) - 0.1) < 1e-9
    assert store.span_stats("e", "p", run=RunKey("e", "p", "s")) == []
