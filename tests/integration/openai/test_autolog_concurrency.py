"""10,000 calls from 16 threads and 200 concurrent asyncio tasks: every span recorded, nested under the
trace span of its own thread or task, in the right run."""

# ruff: noqa: F811  (pytest fixtures imported from autolog_kit are used as arguments)

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path

import openai

import tunelog
from tunelog.integration.openai import autolog
from tunelog.simulator.server import Simulator
from tunelog.tracing import trace

from .autolog_kit import sim, spans  # noqa: F401

THREADS, PER_THREAD = 16, 400
TASKS, PER_TASK = 200, 18


def test_ten_thousand_calls_threads_and_tasks(tl_dir: Path, sim: Simulator) -> None:
    assert THREADS * PER_THREAD + TASKS * PER_TASK == 10_000
    run = autolog({"project": "stress"}, stream_usage_hosts=[sim.base], quiet=True)
    assert run is not None
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            c = openai.OpenAI(base_url=sim.url, api_key="sk-test", max_retries=0)
            with trace(f"thread-{i}"):
                for _ in range(PER_THREAD):
                    c.embeddings.create(model="text-embedding-3-small", input=f"t{i}")
        except BaseException as exc:
            errors.append(exc)

    async def task(c: openai.AsyncOpenAI, j: int) -> None:
        with trace(f"task-{j}"):
            for _ in range(PER_TASK):
                await c.embeddings.create(model="text-embedding-3-small", input=f"a{j}")

    async def tasks() -> None:
        async with openai.AsyncOpenAI(base_url=sim.url, api_key="sk-test", max_retries=0) as c:
            await asyncio.gather(*(task(c, j) for j in range(TASKS)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    asyncio.run(tasks())
    for t in threads:
        t.join()
    assert not errors
    got = spans(run)
    autolog.disable()
    parents = {s.span_id: s for s in got if s.kind == "chain"}
    calls = [s for s in got if s.kind == "embedding"]
    assert len(parents) == THREADS + TASKS and len(calls) == 10_000
    assert {s.run for s in got} == {run.key}
    per_parent = Counter(s.parent_id for s in calls)
    for pid, n in per_parent.items():
        parent = parents[pid]
        assert n == (PER_THREAD if parent.name.startswith("thread-") else PER_TASK), parent.name
    for s in calls:  # each call carries its own thread's or task's input under that parent
        parent = parents[s.parent_id]  # type: ignore[index]
        assert s.trace_id == parent.trace_id
        assert s.inputs["input"][1:] == parent.name.split("-")[1]
    assert autolog.stats()["recorded"] == 10_000 and autolog.stats()["dropped"] == 0
    assert tunelog.Api().run(run.path).summary["calls"] == 10_000
