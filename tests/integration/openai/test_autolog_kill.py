"""autolog in a process that is killed: every call its writer had taken up is in the store once the
next process opens the data directory (the journal is replayed), with the run read as crashed."""

# ruff: noqa: F811  (pytest fixtures imported from autolog_kit are used as arguments)

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tunelog
from tunelog import mapped_journal, spool
from tunelog.simulator.server import Simulator
from tunelog.store import open_store
from tunelog.store.base import RunKey, SpanQuery, SpanRecord, Store

from .autolog_kit import sim  # noqa: F401

_VICTIM = textwrap.dedent("""
    import os, sys, time, openai, tunelog
    from tunelog.integration.openai import autolog
    autolog({"project": "killed", "id": "victim"}, quiet=True)
    client = openai.OpenAI(base_url=sys.argv[1], api_key="sk-test", max_retries=0)
    for i in range(60):
        if i % 3 == 2:
            for _ in client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"n{i}"}], stream=True
            ):
                pass
        else:
            msgs = [{"role": "user", "content": f"n{i}"}]
            client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    while tunelog.run.writer.pending:  # taken up by the writer: journalled, maybe not committed
        time.sleep(0.001)
    time.sleep(0.01)  # the last batch taken is journalled a few microseconds later
    os._exit(0)  # no exit handler runs, nothing is flushed
""")


def test_calls_of_a_process_ended_by_os_exit_are_all_recorded(tl_dir: Path, sim: Simulator) -> None:
    env = {**os.environ, "TUNELOG_DIR": str(tl_dir), "TUNELOG_ENTITY": "tester"}
    subprocess.run([sys.executable, "-c", _VICTIM, sim.url], env=env, check=True, timeout=300)
    api = tunelog.Api()
    run = api.run("killed/victim")
    assert run.state == "crashed"
    got = api.spans("killed", run="victim", limit=1000)
    assert sorted(s.inputs["messages"][0]["content"] for s in got) == sorted(f"n{i}" for i in range(60))
    assert all(s.usage and s.usage["total_tokens"] > 0 for s in got)
    assert run.summary["calls"] == 60  # the summary the writer last journalled came back too
    assert not list((tl_dir / "spool").glob("*.spool"))


_KILLED_AT_ONCE = textwrap.dedent("""
    import os, sys, openai, tunelog
    from tunelog.integration.openai import autolog
    autolog({"project": "killed", "id": "at-once"}, quiet=True)
    client = openai.OpenAI(base_url=sys.argv[1], api_key="sk-test", max_retries=0)
    with tunelog.trace("batch"):
        for i in range(int(sys.argv[2])):
            msgs = [{"role": "user", "content": f"n{i}"}]
            client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    os._exit(0)  # straight after the last call: nothing waited for, flushed or committed
""")


def test_non_streamed_calls_journalled_as_they_end_are_all_recovered_once(
    tl_dir: Path, sim: Simulator
) -> None:
    # 250 calls: the caller's thread built (and journalled) two batches of a hundred on the way, the
    # writer committed some; the rest are only call records. The next process turns exactly the
    # calls no journalled batch holds into spans: none lost, none twice, totals and steps going on.
    env = {**os.environ, "TUNELOG_DIR": str(tl_dir), "TUNELOG_ENTITY": "tester"}
    n = 250
    subprocess.run([sys.executable, "-c", _KILLED_AT_ONCE, sim.url, str(n)], env=env, check=True, timeout=300)
    api = tunelog.Api()
    run = api.run("killed/at-once")
    assert run.state == "crashed"
    spans = [s for s in api.spans("killed", run="at-once", limit=1000) if s.kind == "llm"]
    assert sorted(s.inputs["messages"][0]["content"] for s in spans) == sorted(f"n{i}" for i in range(n))
    assert all(s.usage and s.usage["total_tokens"] > 0 and s.cost_usd for s in spans)
    assert all(s.outputs["choices"][0]["message"]["content"] for s in spans)
    assert all(s.attributes["request_id"] for s in spans)
    assert len({s.parent_id for s in spans}) == 1 and spans[0].parent_id is not None  # under the trace
    assert run.summary["calls"] == n
    assert run.summary["usage/total_tokens"] == sum(s.usage["total_tokens"] for s in spans)
    steps = [row["_step"] for row in run.history(keys=["call/latency_ms"])]
    assert sorted(steps) == list(range(n))


def _killed_at_once(tl_dir: Path, sim: Simulator, n: int) -> Path:
    env = {**os.environ, "TUNELOG_DIR": str(tl_dir), "TUNELOG_ENTITY": "tester"}
    subprocess.run([sys.executable, "-c", _KILLED_AT_ONCE, sim.url, str(n)], env=env, check=True, timeout=300)
    journals = list((tl_dir / "spool").glob("*.mapped"))
    assert len(journals) == 1
    return journals[0]


def _replay(store: Store, tl_dir: Path) -> None:
    """As the next process to open the data directory does: the writer's journal, then the mapped one."""
    spool.recover(store, tl_dir / "spool")
    mapped_journal.recover(store, tl_dir / "spool")


def _llm_spans(store: Store) -> list[SpanRecord]:
    return [s for s in store.list_spans("tester", "killed", SpanQuery(limit=1000)) if s.kind == "llm"]


def test_a_journal_replayed_again_adds_nothing(tl_dir: Path, sim: Simulator) -> None:
    # As if the process had died between committing its calls and emptying its journal.
    journal = _killed_at_once(tl_dir, sim, 150)
    saved = journal.read_bytes()
    store = open_store(f"sqlite:///{tl_dir / 'tunelog.db'}")
    _replay(store, tl_dir)
    assert not journal.exists()
    assert len(_llm_spans(store)) == 150
    journal.write_bytes(saved)
    journal.chmod(0o600)
    _replay(store, tl_dir)
    assert not journal.exists()
    spans = _llm_spans(store)
    assert len(spans) == 150
    key = RunKey("tester", "killed", "at-once")
    record = store.get_run(key)
    assert record is not None and record.summary["calls"] == 150
    assert sorted({r.step for r in store.read_history(key, ["call/latency_ms"])}) == list(range(150))


def test_a_call_record_torn_by_a_crash_is_skipped_with_a_warning(
    tl_dir: Path, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    journal = _killed_at_once(tl_dir, sim, 30)  # fewer than a hundred: all of them call records
    data = bytearray(journal.read_bytes())
    last = mapped_journal.read_records(bytes(data))[-1]
    at = bytes(data).rfind(last) + len(last) - 1  # the end of the last call's response body
    data[at : at + 1] = b"!"
    journal.write_bytes(bytes(data))
    store = open_store(f"sqlite:///{tl_dir / 'tunelog.db'}")
    with caplog.at_level(logging.WARNING, logger="tunelog"):
        _replay(store, tl_dir)
    assert len(_llm_spans(store)) == 29
    assert "1 journalled OpenAI calls could not be read back" in caplog.text
    record = store.get_run(RunKey("tester", "killed", "at-once"))
    assert record is not None and record.summary["calls"] == 29


_MIXED_AT_ONCE = textwrap.dedent("""
    import os, sys, openai, tunelog
    from tunelog.integration.openai import autolog
    autolog({"project": "killed", "id": "mixed"}, quiet=True)
    client = openai.OpenAI(base_url=sys.argv[1], api_key="sk-test", max_retries=0)
    for i in range(int(sys.argv[2])):
        msgs = [{"role": "user", "content": f"n{i}"}]
        if i % 3 == 2:
            for _ in client.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True):
                pass
        else:
            client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    os._exit(0)
""")


def test_streams_and_journalled_calls_mixed_are_recovered_once_each(tl_dir: Path, sim: Simulator) -> None:
    # Streams are built (and journalled as batches) five at a time; the batches also hold the
    # non-streamed calls built with them, whose own records the next process must then skip.
    env = {**os.environ, "TUNELOG_DIR": str(tl_dir), "TUNELOG_ENTITY": "tester"}
    n = 240
    subprocess.run([sys.executable, "-c", _MIXED_AT_ONCE, sim.url, str(n)], env=env, check=True, timeout=300)
    api = tunelog.Api()
    run = api.run("killed/mixed")
    spans = api.spans("killed", run="mixed", limit=1000)
    got = [s.inputs["messages"][0]["content"] for s in spans]
    assert len(got) == len(set(got))  # none twice
    streamed = {f"n{i}" for i in range(n) if i % 3 == 2}
    assert {f"n{i}" for i in range(n) if i % 3 != 2} <= set(got)  # every non-streamed call
    assert len(streamed - set(got)) <= 5  # streams: at most the last few
    assert run.summary["calls"] == len(got)
    steps = [row["_step"] for row in run.history(keys=["call/latency_ms"])]
    assert sorted(steps) == list(range(len(got)))
