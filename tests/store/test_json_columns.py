"""A span's JSON fields encoded when the span is built (what autolog does), then stored and journalled."""

from __future__ import annotations

import dataclasses
import gc
import json
import tracemalloc

import pydantic

from tests.store.store_helpers import make_run, span
from tunelog import spool
from tunelog.store.base import WriteBatch
from tunelog.store.json_columns import default, encoded, plain
from tunelog.store.sql import SQLStore


class Format(pydantic.BaseModel):
    name: str


def test_an_encoded_span_is_stored_as_the_same_span_with_plain_values(store: SQLStore) -> None:
    key = make_run(store)
    inputs = {"messages": [{"role": "user", "content": "héllo"}], "response_format": Format,
              "tools": {"a"}, "seed": 3, "temperature": 0.5, "obj": Format(name="x")}  # fmt: skip
    outputs = [{"choices": [{"message": {"content": "hi", "tool_calls": None}}]}]
    as_values = span(key, 1, inputs=inputs, outputs=outputs)
    as_encoded = span(key, 2, inputs=encoded(inputs), outputs=encoded(outputs))
    store.write(WriteBatch(spans=[as_values, as_encoded]))
    a, b = store.get_span("e", "p", "s001"), store.get_span("e", "p", "s002")
    assert a is not None and b is not None
    assert b.inputs == a.inputs and b.outputs == a.outputs == outputs
    assert b.inputs["response_format"] == "Format" and b.inputs["obj"] == {"name": "x"}


def test_an_encoded_value_holds_nothing_the_garbage_collector_walks() -> None:
    value = {"messages": [{"role": "user", "content": "hi"}], "n": [1, 2]}
    held = encoded(value)
    assert gc.is_tracked(value) and not gc.is_tracked(held)
    assert plain(held) == value and plain(value) is value
    assert json.loads(json.dumps({"v": held}, default=default)) == {"v": value}  # the stdlib's way too
    assert encoded(None) is None


def test_an_encoded_value_takes_about_its_length_in_memory() -> None:
    # orjson's own bytes would keep the 4 KiB buffer they were written in: 40 MiB for 10,000 held calls.
    tracemalloc.start()
    try:
        held = [encoded({"role": "user", "content": f"hello {i}"}) for i in range(1000)]
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(held) == 1000 and size < 1000 * 200


def test_what_orjson_refuses_is_kept_as_a_value_for_the_store_to_encode() -> None:
    for value in ({"seed": 1 << 70}, ["lone \ud800"]):
        assert encoded(value) is value


def test_a_journalled_batch_of_encoded_spans_replays_with_plain_values(store: SQLStore) -> None:
    key = make_run(store)
    s = span(key, 1)
    held = dataclasses.replace(s, inputs=encoded(s.inputs), outputs=encoded(s.outputs))
    back = spool.decode(spool.encode(WriteBatch(spans=[held])))
    assert back.spans == [s]
