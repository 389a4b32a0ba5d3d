"""autolog in a process that is killed: every call its writer had taken up is in the store once the
next process opens the data directory (the journal is replayed), with the run read as crashed."""

# ruff: noqa: F811  (pytest fixtures imported from autolog_kit are used as arguments)

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import tunelog
from tunelog.simulator.server import Simulator

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
