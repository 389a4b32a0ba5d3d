"""Several processes at once, and a process killed mid-run: nothing lost that was flushed, no corruption."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import tunelog

_WRITER = textwrap.dedent("""
    import sys, tunelog
    run = tunelog.init(project="multi", id=sys.argv[1])
    for step in range(10_000):
        run.log({"loss": 1.0 / (step + 1), "step_copy": step})
    run.finish()
    sys.exit(0 if tunelog.failures() == 0 else 3)
""")


def _env(tl_dir: Path) -> dict[str, str]:
    return {**os.environ, "TUNELOG_DIR": str(tl_dir), "TUNELOG_ENTITY": "tester"}


def test_four_processes_log_at_once(tl_dir: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, f"w{i}"], env=_env(tl_dir), stderr=subprocess.PIPE, text=True
        )
        for i in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    api = tunelog.Api()
    for i in range(4):
        r = api.run(f"multi/w{i}")
        assert r.state == "finished"
        rows = list(r.scan_history(keys=["loss"], page_size=5000))
        assert len(rows) == 10_000 and rows[-1]["_step"] == 9_999
    with sqlite3.connect(tl_dir / "tunelog.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


_VICTIM = textwrap.dedent("""
    import sys, time, tunelog
    run = tunelog.init(project="crash", id="victim")
    for step in range(500):
        run.log({"loss": 1.0 / (step + 1)})
    tunelog.flush()
    print("flushed", flush=True)
    while True:
        run.log({"loss": 0.0})
        time.sleep(0.001)
""")


def test_killed_process_reads_as_crashed(tl_dir: Path) -> None:
    p = subprocess.Popen([sys.executable, "-c", _VICTIM], env=_env(tl_dir), stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "flushed"
    time.sleep(0.2)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    r = tunelog.Api().run("crash/victim")
    assert r.state == "crashed"
    steps = [row["_step"] for row in r.history(keys=["loss"])]
    assert steps[:500] == list(range(500))  # everything flushed before the kill is there
    assert steps == list(range(len(steps)))  # and nothing torn in between
    with sqlite3.connect(tl_dir / "tunelog.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_project_counts_and_run_lists_see_a_dead_process_run_as_crashed(tl_dir: Path) -> None:
    code = "import tunelog, os; tunelog.init(project='gone', id='dead'); tunelog.flush(); os._exit(0)"
    subprocess.run([sys.executable, "-c", code], env=_env(tl_dir), check=True, timeout=60)
    api = tunelog.Api()
    (stats,) = [s for s in api.project_stats() if s.project == "gone"]
    assert stats.runs == 1 and stats.running == 0
    assert api.runs_page("gone", {"state": "running"})[0] == []
    (run,) = api.runs_page("gone", {"state": "crashed"})[0]
    assert run.id == "dead"
    live = tunelog.init(project="gone", id="alive")  # this process's own run stays running
    try:
        (stats,) = [s for s in api.project_stats() if s.project == "gone"]
        assert stats.running == 1 and [r.id for r in api.runs_page("gone", {"state": "running"})[0]] == [
            "alive"
        ]
    finally:
        live.finish()


def test_uncaught_exception_flushes_and_fails(tl_dir: Path) -> None:
    code = textwrap.dedent("""
        import tunelog
        run = tunelog.init(project="exc", id="e1")
        for s in range(2000):
            run.log({"x": s})
        raise SystemError("boom")
    """)
    p = subprocess.run([sys.executable, "-c", code], env=_env(tl_dir), capture_output=True, text=True)
    assert p.returncode == 1 and "boom" in p.stderr
    r = tunelog.Api().run("exc/e1")
    assert r.state == "failed" and len(r.history()) == 2000


def test_normal_exit_without_finish_loses_nothing(tl_dir: Path) -> None:
    code = (
        "import tunelog\nrun = tunelog.init(project='exit', id='n1')\n"
        "[run.log({'x': s}) for s in range(5000)]\n"
    )
    subprocess.run([sys.executable, "-c", code], env=_env(tl_dir), check=True)
    r = tunelog.Api().run("exit/n1")
    assert r.state == "finished" and len(r.history()) == 5000 and r.summary["x"] == 4999


def test_sys_exit_with_a_nonzero_code_reads_as_failed(tl_dir: Path) -> None:
    code = textwrap.dedent("""
        import sys, tunelog
        tunelog.init(project="exit", id="bad").log({"x": 1})
        ok = tunelog.init(project="exit", id="ok", reinit="create_new")
        ok.finish()
        sys.exit(4)
    """)
    p = subprocess.run([sys.executable, "-c", code], env=_env(tl_dir), capture_output=True, text=True)
    assert p.returncode == 4, p.stderr
    api = tunelog.Api()
    bad = api.run("exit/bad")
    assert bad.state == "failed" and bad.summary["x"] == 1
    assert api.run("exit/ok").state == "finished"  # finished before the exit: left as it was


def test_sys_exit_zero_and_none_read_as_finished(tl_dir: Path) -> None:
    for i, arg in enumerate(("0", "None")):
        code = f"import sys, tunelog\ntunelog.init(project='exit', id='z{i}')\nsys.exit({arg})\n"
        subprocess.run([sys.executable, "-c", code], env=_env(tl_dir), check=True)
        assert tunelog.Api().run(f"exit/z{i}").state == "finished"
