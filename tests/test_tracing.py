"""trace() and @traced: parent spans, nesting through threads and asyncio tasks, errors."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import tunelog
from tunelog.store.base import SpanRecord
from tunelog.tracing import current_span, propagate, trace, traced


def _spans(run: Any) -> dict[str, SpanRecord]:
    tunelog.flush()
    return {s.name: s for s in tunelog.Api().spans(f"{run.entity}/{run.project}", run=run.id)}


def test_nesting_attributes_and_outputs(tl_dir: Path) -> None:
    with tunelog.init(project="tr") as run:
        with trace("outer", user="ada") as outer:
            assert current_span() is not None and current_span().span_id == outer.id  # type: ignore[union-attr]
            with trace("inner", kind="tool") as inner:
                inner.set(hits=3)
                inner.output = {"answer": 42}
        assert current_span() is None
    got = _spans(run)
    assert got["outer"].parent_id is None and got["outer"].attributes == {"user": "ada"}
    assert got["inner"].parent_id == outer.id and got["inner"].trace_id == got["outer"].trace_id
    assert got["inner"].kind == "tool" and got["inner"].attributes == {"hits": 3}
    assert got["inner"].outputs == {"answer": 42} and got["inner"].status == "ok"
    assert got["outer"].start_time <= got["inner"].start_time <= got["inner"].end_time  # type: ignore[operator]


def test_error_marks_span_and_propagates(tl_dir: Path) -> None:
    with tunelog.init(project="tr") as run, pytest.raises(KeyError), trace("boom"):
        raise KeyError("x")
    s = _spans(run)["boom"]
    assert s.status == "error" and s.error == {"type": "KeyError", "message": "'x'"}


def test_traced_sync_and_async(tl_dir: Path) -> None:
    @traced
    def add(a: int, b: int = 0) -> int:
        return a + b

    @traced(name="fetch", kind="retriever", capture=False)
    async def fetch(q: str) -> list[str]:
        await asyncio.sleep(0)
        return [q]

    with tunelog.init(project="tr") as run:
        assert add(1, b=2) == 3
        assert asyncio.run(fetch("q")) == ["q"]
    got = _spans(run)
    add_span = got[add.__qualname__]
    assert add_span.inputs == {"args": [1], "kwargs": {"b": 2}} and add_span.outputs == 3
    assert got["fetch"].kind == "retriever" and got["fetch"].inputs is None and got["fetch"].outputs is None


def test_threads_are_isolated_and_propagate_carries_the_span(tl_dir: Path) -> None:
    seen: dict[str, str | None] = {}

    def look(name: str) -> None:
        cur = current_span()
        seen[name] = cur.span_id if cur else None

    with tunelog.init(project="tr"), trace("outer") as outer:
        t = threading.Thread(target=look, args=("plain",))
        t.start()
        t.join()
        with ThreadPoolExecutor(2) as pool:
            pool.submit(propagate(look), "propagated").result()
    assert seen == {"plain": None, "propagated": outer.id}


def test_asyncio_tasks_each_nest_under_their_own_span(tl_dir: Path) -> None:
    async def child(i: int) -> None:
        with trace(f"task-{i}"):
            await asyncio.sleep(0.001)
            with trace(f"leaf-{i}"):
                await asyncio.sleep(0)

    async def main() -> None:
        with trace("root"):
            await asyncio.gather(*(child(i) for i in range(20)))

    with tunelog.init(project="tr") as run:
        asyncio.run(main())
    got = _spans(run)
    for i in range(20):
        assert got[f"leaf-{i}"].parent_id == got[f"task-{i}"].span_id
        assert got[f"task-{i}"].parent_id == got["root"].span_id


def test_without_a_run_nothing_is_recorded_and_nothing_fails(tl_dir: Path) -> None:
    with trace("orphan") as s:
        assert s.id is not None
    assert tunelog.run is None


def test_propagate_runs_on_many_pool_workers_at_once() -> None:
    barrier = threading.Barrier(4)

    def where(_: int) -> str | None:
        barrier.wait(5)  # all four workers inside the wrapper at the same time
        span = current_span()
        return span.span_id if span is not None else None

    with trace("batch") as outer, ThreadPoolExecutor(4) as pool:
        got = list(pool.map(propagate(where), range(4)))
    assert got == [outer.id] * 4
