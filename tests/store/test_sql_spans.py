"""Run events and spans in the SQLite store."""

from __future__ import annotations

from types import MappingProxyType

from tests.store.store_helpers import make_run, span
from tunelog.store.base import RunEvent, RunKey, SpanQuery, WriteBatch
from tunelog.store.sql import SQLStore


def test_events_are_ordered_and_idempotent_by_source_id(store: SQLStore) -> None:
    key = make_run(store)
    store.write(WriteBatch(events={key: [
        RunEvent(2.0, "info", "second", id="ev-2"),
        RunEvent(1.0, "info", "first", {"n": 1}, id="ev-1"),
        RunEvent(3.0, "warning", "no id"),
    ]}))  # fmt: skip
    store.write(WriteBatch(events={key: [RunEvent(1.0, "error", "first, corrected", id="ev-1"),
                                         RunEvent(3.0, "warning", "no id")]}))  # fmt: skip
    got = store.read_events(key)
    assert [(e.message, e.id) for e in got] == [
        ("first, corrected", "ev-1"), ("second", "ev-2"), ("no id", None), ("no id", None),
    ]  # fmt: skip
    assert got[0].level == "error" and got[0].data is None
    assert [e.message for e in store.read_events(key, limit=2, offset=1)] == ["second", "no id"]
    assert store.read_events(RunKey("e", "p", "ghost")) == []


def test_spans_round_trip_and_replace_by_id(store: SQLStore) -> None:
    key = make_run(store)
    first = span(key, 1, status="incomplete", end_time=None, outputs=None, usage=None)
    store.write(WriteBatch(spans=[first]))
    assert store.get_span("e", "p", "s001") == first
    done = span(key, 1, attributes={"stream": True}, error=None)
    store.write(WriteBatch(spans=[done]))
    assert store.get_span("e", "p", "s001") == done
    assert store.get_span("e", "other", "s001") is None
    assert store.count_spans("e", "p", SpanQuery()) == 1


def test_values_the_fast_encoder_refuses_are_stored_all_the_same(store: SQLStore) -> None:
    key = make_run(store)
    odd = span(
        key, 1, inputs={"seed": 1 << 70, "note": "lone \ud800", 3: "int key"},
        attributes=MappingProxyType({"a": 1}), outputs={"score": float("nan")},
        error={"type": "X", "message": "m"},
    )  # fmt: skip
    plain = span(key, 2)
    store.write(WriteBatch(spans=[odd, plain]))
    got = store.get_span("e", "p", "s001")
    assert got is not None
    assert got.inputs == {"seed": 1 << 70, "note": "lone \ud800", "3": "int key"}
    assert got.attributes == {"a": 1} and got.outputs == {"score": None} and got.error == odd.error
    assert store.get_span("e", "p", "s002") == plain


def test_span_queries_and_keyset_paging(store: SQLStore) -> None:
    a, b = make_run(store, "a"), make_run(store, "b")
    spans = [span(a if i % 2 else b, i, parent_id=None if i % 3 else "root", model="m1" if i < 5 else "m2",
                  status="error" if i == 7 else "ok") for i in range(10)]  # fmt: skip
    store.write(WriteBatch(spans=spans))

    def ids(**q: object) -> list[str]:
        return [s.span_id for s in store.list_spans("e", "p", SpanQuery(**q))]  # type: ignore[arg-type]

    assert ids() == [f"s{i:03d}" for i in reversed(range(10))]  # newest first
    assert ids(run=a) == ["s009", "s007", "s005", "s003", "s001"]
    assert ids(trace_id="t2") == ["s005", "s004"]
    assert ids(parent_id="root") == ["s009", "s006", "s003", "s000"]
    assert ids(roots_only=True, model="m1") == ["s004", "s002", "s001"]
    assert ids(status="error") == ["s007"]
    assert ids(text="hi 3") == ["s003"]
    assert ids(start_after=105.0, start_before=108.0) == ["s007", "s006"]
    pages, before = [], None
    while page := store.list_spans("e", "p", SpanQuery(limit=4, before=before)):
        pages.append([s.span_id for s in page])
        before = (page[-1].start_time, page[-1].span_id)
    assert pages == [["s009", "s008", "s007", "s006"], ["s005", "s004", "s003", "s002"], ["s001", "s000"]]
    assert store.count_spans("e", "p", SpanQuery(run=a, limit=1, before=(200.0, "z"))) == 5


def test_same_start_time_pages_by_span_id(store: SQLStore) -> None:
    key = make_run(store)
    store.write(WriteBatch(spans=[span(key, i, start_time=50.0) for i in range(5)]))
    first = store.list_spans("e", "p", SpanQuery(limit=3))
    rest = store.list_spans("e", "p", SpanQuery(limit=3, before=(50.0, first[-1].span_id)))
    assert [s.span_id for s in first + rest] == ["s004", "s003", "s002", "s001", "s000"]


def test_deleting_a_run_deletes_its_events_and_spans(store: SQLStore) -> None:
    gone, kept = make_run(store, "gone"), make_run(store, "kept")
    store.write(WriteBatch(
        events={gone: [RunEvent(1.0, "info", "x")], kept: [RunEvent(1.0, "info", "y")]},
        spans=[span(gone, 1), span(kept, 2)],
    ))  # fmt: skip
    store.delete_run(gone)
    assert store.read_events(kept) != [] and store.count_spans("e", "p", SpanQuery()) == 1
    record = store.get_run(kept)
    assert record is not None
    store.create_run(record._replace(key=gone))
    assert store.read_events(gone) == []


def test_spans_and_events_of_unknown_runs_are_dropped(store: SQLStore) -> None:
    key = make_run(store)
    ghost = RunKey("e", "p", "ghost")
    store.write(
        WriteBatch(spans=[span(ghost, 1), span(key, 2)], events={ghost: [RunEvent(1.0, "info", "x")]})
    )
    assert [s.span_id for s in store.list_spans("e", "p", SpanQuery())] == ["s002"]
