"""Store.group_runs on real SQLite: groups, counts and statistics over every matching run (more than
the 2,000 the workspace once grouped in Python), ordering, paging, and keys that cannot inject SQL."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

import pytest

from tunelog.errors import UsageError
from tunelog.filters import parse_filter, parse_order
from tunelog.store.base import RunKey, RunRecord
from tunelog.store.sql import SQLStore

N = 2_600
MODELS = ("gpt-4.1", "gpt-4.1-mini", "gpt-4o-mini")


def _record(i: int) -> RunRecord:
    config: dict[str, Any] = {"hp": {"n_epochs": 1 + i % 4}}
    if i % 13:  # every 13th run has no base model: the None group
        config["base_model"] = MODELS[i % 3]
    summary: dict[str, Any] = {"loss": i / 100}
    if i % 10 == 0:
        summary["loss"] = "diverged"  # text never counts towards a mean, min or max
    return RunRecord(
        RunKey("e", "p", f"r{i:05d}"),
        f"run-{i}",
        state="failed" if i % 7 == 0 else "finished",
        job_type="eval" if i % 5 == 0 else "fine-tune",
        config=config,
        summary=summary,
        created_at=1000.0 + i,
        updated_at=1000.0 + i,
    )


@pytest.fixture
def runs(store: SQLStore) -> list[RunRecord]:
    records = [_record(i) for i in range(N)]
    for r in records:
        store.create_run(r)
    store.create_run(RunRecord(RunKey("e", "other", "x"), "elsewhere", config={"base_model": "gpt-4.1"}))
    return records


def _expected(records: list[RunRecord], key: str) -> dict[Any, list[RunRecord]]:
    out: dict[Any, list[RunRecord]] = defaultdict(list)
    for r in records:
        out[r.config.get(key)].append(r)
    return out


def test_counts_means_min_max_cover_every_matching_run(store: SQLStore, runs: list[RunRecord]) -> None:
    page = store.group_runs(
        "e", "p", None, "config.base_model", ["summary.loss", "config.hp.n_epochs"], limit=1000
    )
    assert page.total_runs == N and page.total_groups == 4
    expected = _expected(runs, "base_model")
    assert [g.value for g in page.groups] == [*MODELS, None]  # by value, missing last
    for g in page.groups:
        members = expected[g.value]
        assert g.runs == len(members)
        losses = [m.summary["loss"] for m in members if isinstance(m.summary["loss"], float)]
        loss = g.stats["summary.loss"]
        assert loss.mean == pytest.approx(statistics.fmean(losses))
        assert (loss.min, loss.max) == (min(losses), max(losses))
        epochs = g.stats["config.hp.n_epochs"]
        assert epochs.mean == pytest.approx(statistics.fmean(m.config["hp"]["n_epochs"] for m in members))
        assert (epochs.min, epochs.max) == (1, 4)
    assert sum(g.runs for g in page.groups) == N > 2000


def test_filter_built_in_keys_and_ordering(store: SQLStore, runs: list[RunRecord]) -> None:
    finished = parse_filter({"state": "finished"})
    page = store.group_runs("e", "p", finished, "job_type", ["summary.loss"])
    want = {"eval": 0, "fine-tune": 0}
    for r in runs:
        if r.state == "finished":
            want[str(r.job_type)] += 1
    assert {g.value: g.runs for g in page.groups} == want
    assert page.total_runs == sum(want.values())

    by_value_desc = store.group_runs("e", "p", None, "state", order=parse_order("-state"))
    assert [g.value for g in by_value_desc.groups] == ["finished", "failed"]
    by_mean = store.group_runs(
        "e", "p", None, "config.base_model", ["summary.loss"], order=parse_order("-summary.loss")
    )
    means = [g.stats["summary.loss"].mean for g in by_mean.groups]
    assert means == sorted(means, reverse=True)
    # A sort key that is neither the group key nor an aggregated column: by value.
    other = store.group_runs("e", "p", None, "config.base_model", order=parse_order("-created_at"))
    assert [g.value for g in other.groups] == [*MODELS, None]


def test_groups_page_with_offset_and_keep_totals_past_the_end(store: SQLStore, runs: list[RunRecord]) -> None:
    first = store.group_runs("e", "p", None, "config.hp.n_epochs", limit=3)
    rest = store.group_runs("e", "p", None, "config.hp.n_epochs", limit=3, offset=3)
    assert [g.value for g in first.groups + rest.groups] == [1, 2, 3, 4]
    assert first.total_groups == rest.total_groups == 4
    past = store.group_runs("e", "p", None, "config.hp.n_epochs", offset=50)
    assert past.groups == [] and (past.total_groups, past.total_runs) == (4, N)
    assert store.group_runs("e", "nothing", None, "state").total_runs == 0


def test_keys_are_bound_never_sql_text(store: SQLStore, runs: list[RunRecord]) -> None:
    evil = "config.x') OR 1=1; DROP TABLE runs; --"
    page = store.group_runs("e", "p", None, evil, [evil])
    assert [(g.value, g.runs) for g in page.groups] == [(None, N)]  # a key no run has
    assert store.count_runs("e", "p", None) == N
    for bad, message in [
        ('config.a"b', "not supported"),
        ("tags", "Cannot group runs by"),
        ("nonsense", "Unknown filter path"),
        ("state; DROP TABLE runs", "Unknown filter path"),
    ]:
        with pytest.raises(UsageError, match=message):
            store.group_runs("e", "p", None, bad)
    with pytest.raises(UsageError, match="at most"):
        store.group_runs("e", "p", None, "state", [f"summary.k{i}" for i in range(60)])
