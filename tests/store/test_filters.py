"""The filter tree compiled to SQL, run against a real store: operators, JSON paths, tags, ordering,
and hostile keys and values (always bound, never spliced into SQL)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.store.store_helpers import make_run
from tunelog.errors import UsageError
from tunelog.filters import parse_filter, parse_order
from tunelog.store.base import RunQuery
from tunelog.store.sql import SQLStore


@pytest.fixture
def runs(store: SQLStore) -> SQLStore:
    make_run(
        store,
        "a",
        created_at=1.0,
        state="finished",
        tags=("baseline", "gpt"),
        group="g1",
        config={
            "lr": 0.1,
            "hp": {"n_epochs": 3, "model": "gpt-4o"},
            "flag": True,
            "list": [1, 2],
            "s": "10",
            "names": ["alpha", "beta"],
        },
        summary={"loss": 0.2, "best": {"acc": 0.9}},
    )
    make_run(store, "b", created_at=2.0, state="failed", tags=("gpt",), notes="has notes",
             config={"lr": 0.01, "hp": {"n_epochs": 5, "model": "gpt-4o-mini"}, "flag": False, "s": "abc"},
             summary={"loss": 0.5})  # fmt: skip
    make_run(store, "c", created_at=3.0, state="running", config={"lr": "auto", "hp": {"n_epochs": None}},
             summary={})  # fmt: skip
    make_run(store, "ft-d", created_at=4.0, state="finished", tags=("prod",),
             config={"a.b": 1, "weird'key": 2, "hp": {"n_epochs": 10}}, summary={"loss": 0.1})  # fmt: skip
    return store


def ids(store: SQLStore, spec: dict[str, Any] | None, order: str | None = "created_at") -> list[str]:
    q = RunQuery(filter=parse_filter(spec), order=parse_order(order))
    found = [r.key.run_id for r in store.list_runs("e", "p", q)]
    assert store.count_runs("e", "p", q.filter) == len(found)
    return found


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, ["a", "b", "c", "ft-d"]),
        ({"state": "finished"}, ["a", "ft-d"]),
        ({"id": "b"}, ["b"]),
        ({"state": {"$ne": "finished"}}, ["b", "c"]),
        ({"state": {"$in": ["failed", "running"]}}, ["b", "c"]),
        ({"state": {"$nin": ["failed", "running"]}}, ["a", "ft-d"]),
        ({"name": {"$regex": "^ft-"}}, ["ft-d"]),
        ({"notes": {"$exists": True}}, ["b"]),
        ({"notes": {"$exists": False}}, ["a", "c", "ft-d"]),
        ({"notes": None}, ["a", "c", "ft-d"]),
        ({"notes": {"$contains": "note"}}, ["b"]),
        ({"group": "g1"}, ["a"]),
        ({"created_at": {"$gte": 2, "$lt": 4}}, ["b", "c"]),
        # Nested config paths, compared numerically.
        ({"config.hp.n_epochs": {"$gte": 4}}, ["b", "ft-d"]),
        ({"config.hp.n_epochs": {"$gt": 3, "$lte": 5}}, ["b"]),
        ({"config.hp.n_epochs": 3}, ["a"]),
        ({"config.hp.n_epochs": 3.0}, ["a"]),
        ({"config.lr": {"$lt": 0.05}}, ["b"]),  # "auto" is not a number: never less than one
        ({"config.lr": {"$gt": "a"}}, ["c"]),  # strings compare with strings only
        ({"config.s": {"$gt": 5}}, []),  # "10" is a string, not a number
        ({"config.lr": "auto"}, ["c"]),
        ({"config.hp.model": {"$regex": "mini$"}}, ["b"]),
        ({"config.hp.model": {"$contains": "4o"}}, ["a", "b"]),
        ({"config.list": [1, 2]}, ["a"]),
        ({"config.names": {"$contains": "beta"}}, ["a"]),  # a JSON array: has this element
        ({"config.names": {"$contains": "bet"}}, []),
        ({"config.flag": True}, ["a"]),
        ({"config.flag": False}, ["b"]),
        ({"config.hp.n_epochs": None}, ["c"]),  # JSON null
        ({"config.hp.n_epochs": {"$exists": True}}, ["a", "b", "c", "ft-d"]),  # null exists
        ({"config.lr": {"$exists": False}}, ["ft-d"]),
        ({"config.lr": {"$ne": 0.1}}, ["b", "c", "ft-d"]),  # a missing value is "not equal"
        ({"config.lr": {"$nin": [0.1, 0.01]}}, ["c", "ft-d"]),
        ({"config.lr": {"$in": [0.1, None]}}, ["a", "ft-d"]),
        ({"config.lr": {"$nin": [0.1, None]}}, ["b", "c"]),
        ({"config.lr": {"$in": []}}, []),
        ({"summary.best.acc": {"$gt": 0.5}}, ["a"]),
        ({"summary.loss": {"$lt": 0.3}}, ["a", "ft-d"]),
        ({"config.a.b": 1}, []),  # dotted keys are split: config["a"]["b"], which does not exist
        ({"config.weird'key": 2}, ["ft-d"]),
        # Tags.
        ({"tags": "gpt"}, ["a", "b"]),
        ({"tags": {"$contains": "prod"}}, ["ft-d"]),
        ({"tags": {"$in": ["prod", "baseline"]}}, ["a", "ft-d"]),
        ({"tags": {"$nin": ["gpt"]}}, ["c", "ft-d"]),
        ({"tags": {"$ne": "gpt"}}, ["c", "ft-d"]),
        ({"tags": ["gpt", "baseline"]}, ["a"]),
        ({"tags": {"$exists": False}}, ["c"]),
        ({"tags": {"$regex": "^pr"}}, ["ft-d"]),
        ({"tags": {"$in": []}}, []),
        # Combinators.
        ({"$or": [{"summary.loss": {"$lt": 0.15}}, {"name": {"$regex": "^b"}}]}, ["b", "ft-d"]),
        ({"$and": [{"tags": "gpt"}, {"state": "finished"}]}, ["a"]),
        ({"$not": {"config.lr": {"$lt": 0.05}}}, ["a", "c", "ft-d"]),  # incl. non-numbers and missing
        ({"$not": {"$or": [{"state": "finished"}, {"tags": "gpt"}]}}, ["c"]),
        ({"state": "finished", "$not": {"config.hp.n_epochs": {"$gt": 5}}}, ["a"]),
    ],
)
def test_filters(runs: SQLStore, spec: dict[str, Any], expected: list[str]) -> None:
    assert ids(runs, spec) == expected


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("created_at", ["a", "b", "c", "ft-d"]),
        ("-created_at", ["ft-d", "c", "b", "a"]),
        (None, ["ft-d", "c", "b", "a"]),  # default: newest first
        ("summary.loss", ["ft-d", "a", "b", "c"]),  # no loss: last
        ("-summary.loss", ["b", "a", "ft-d", "c"]),  # nulls last either way
        ("config.hp.n_epochs", ["a", "b", "ft-d", "c"]),
        ("-name", ["ft-d", "c", "b", "a"]),
    ],
)
def test_order(runs: SQLStore, order: str | None, expected: list[str]) -> None:
    assert ids(runs, None, order) == expected


def test_ties_break_stably(store: SQLStore) -> None:
    for i in range(6):
        make_run(store, f"t{i}", created_at=5.0)
    assert ids(store, None, "created_at") == [f"t{i}" for i in range(6)]
    assert ids(store, None, "-created_at") == [f"t{i}" for i in reversed(range(6))]


HOSTILE = [
    "'; DROP TABLE runs; --",
    '" OR 1=1 --',
    "x') OR ('1'='1",
    "$.lr",
    "a]",
    "%",
    "\\",
    "\x00nul",
    "🙂",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_bound(runs: SQLStore, value: str) -> None:
    for spec in (
        {"name": value},
        {"state": {"$in": [value, "x"]}},
        {"config.hp.model": {"$contains": value}},
        {"tags": value},
        {"tags": {"$nin": [value]}},
        {"summary.loss": {"$gt": value}},
        {"notes": {"$ne": value}},
    ):
        ids(runs, spec)
    assert ids(runs, {"name": value}) == []
    assert len(ids(runs, None)) == 4  # the table is still there


@pytest.mark.parametrize(
    "key", ["'; DROP TABLE runs; --", "a') OR 1=1 --", "$", "x[0]", "*", "🙂", "température", "a b"]
)
def test_hostile_keys_are_bound(runs: SQLStore, key: str) -> None:
    make_run(runs, "hostile", config={key: 7}, created_at=9.0)
    assert ids(runs, {f"config.{key}": 7}) == ["hostile"]
    assert ids(runs, {f"config.{key}": {"$exists": True}}) == ["hostile"]
    assert ids(runs, None, f"-config.{key}")[0] == "hostile"
    assert len(ids(runs, None)) == 5


def test_keys_with_double_quotes_are_refused_clearly(runs: SQLStore) -> None:
    with pytest.raises(UsageError, match="not supported"):
        ids(runs, {'config.a"b': 1})


def test_bad_operands_are_usage_errors(runs: SQLStore) -> None:
    with pytest.raises(UsageError, match="regular expression"):
        ids(runs, {"name": {"$regex": "(unclosed"}})
    with pytest.raises(UsageError, match="number or a string"):
        ids(runs, {"config.lr": {"$gt": [1]}})
    with pytest.raises(UsageError, match="tags"):
        ids(runs, {"tags": {"$gt": "a"}})
    with pytest.raises(UsageError):
        ids(runs, {"name": {"$eq": {"a": 1}}})
