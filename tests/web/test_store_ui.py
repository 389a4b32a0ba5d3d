"""The dashboard's store reads on a real SQLite file: downsampling, keyset paging, views, reports."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

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


def _totals(stats: list[Any]) -> tuple[int, int, int, int]:
    return (
        sum(s.calls for s in stats),
        sum(s.prompt_tokens for s in stats),
        sum(s.errors for s in stats),
        round(sum(s.cost_usd for s in stats) * 1e6),
    )


def test_span_stats_from_the_rollup_stay_exact_over_ranges_rewrites_and_deletes(tmp_path: Path) -> None:
    from tunelog.store import span_rollup

    store = _store(tmp_path)
    a, b = _run(store, "a"), _run(store, "b")
    t0 = 1_700_000_013.7  # not on a minute boundary
    n = span_rollup.RAW_LIMIT + 5_000  # over the limit: whole minutes from the rollup
    spans = [
        SpanRecord(
            f"s{i}", f"t{i}", None, a if i % 5 else b, "call", "llm", t0 + i * 0.3, t0 + i * 0.3 + 0.1,
            "error" if i % 97 == 0 else "ok", model=("m1", "m2", "m3")[i % 3],
            usage={"prompt_tokens": 1 + i % 7, "completion_tokens": 2}, cost_usd=1e-6 * (i % 4),
        )
        for i in range(n)
    ]  # fmt: skip
    spans.append(SpanRecord("group", "tg", None, a, "agent", "agent", t0, t0 + 1, "ok"))  # no model
    store.write(WriteBatch(spans=spans[: n // 2]))
    store.span_stats("e", "p")  # the rollup catches up to here; the rest comes on the next read
    store.write(WriteBatch(spans=spans[n // 2 :]))

    def expect(keep: Any) -> tuple[int, int, int, int]:
        chosen = [s for s in spans if s.model and keep(s)]
        return (
            len(chosen),
            sum(s.usage["prompt_tokens"] for s in chosen),  # type: ignore[index]
            sum(s.status == "error" for s in chosen),
            round(sum(s.cost_usd or 0 for s in chosen) * 1e6),
        )

    everything = store.span_stats("e", "p", buckets=60)
    assert _totals(everything) == expect(lambda s: True)
    assert {s.model for s in everything} == {"m1", "m2", "m3"} and len({s.start for s in everything}) <= 61
    lo, hi = t0 + 134.5, t0 + 7400.9  # both ends inside a minute: counted from the raw spans
    ranged = store.span_stats("e", "p", start_after=lo, start_before=hi)
    assert _totals(ranged) == expect(lambda s: lo <= s.start_time < hi)
    assert _totals(ranged)[0] > span_rollup.RAW_LIMIT and ranged[0].width % 60 == 0
    assert _totals(store.span_stats("e", "p", run=b)) == expect(lambda s: s.run == b)
    small = store.span_stats("e", "p", start_after=lo, start_before=lo + 600)  # few calls: raw buckets
    assert _totals(small) == expect(lambda s: lo <= s.start_time < lo + 600)
    # Rewriting a counted span replaces its contribution; deleting a run takes its spans out.
    old = spans[1]
    spans[1] = SpanRecord(
        old.span_id, old.trace_id, None, old.run, "call", "llm", old.start_time, old.end_time, "error",
        model="m1", usage={"prompt_tokens": 1000}, cost_usd=0.0,
    )  # fmt: skip
    store.write(WriteBatch(spans=[spans[1]]))
    assert _totals(store.span_stats("e", "p")) == expect(lambda s: True)
    store.delete_run(b)
    assert _totals(store.span_stats("e", "p")) == expect(lambda s: s.run == a)


def test_project_keys_are_every_config_and_summary_leaf(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _run(store, "a", config={"base_model": "m", "hyperparameters": {"n_epochs": 3}, "_private": 1})
    _run(store, "b", config={"training_file": "t.jsonl"}, summary={"loss": 0.1, "img": {"_type": "image"}})
    for i in range(300):  # keys of old runs count too, not only the newest runs'
        _run(store, f"n{i}", config={"seed": i}, t=float(i))
    assert store.project_keys("e", "p") == [
        "config.base_model",
        "config.hyperparameters.n_epochs",
        "config.seed",
        "config.training_file",
        "summary.loss",
    ]
    assert len(store.project_keys("e", "p", limit=2)) == 2
