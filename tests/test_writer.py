"""The background writer across fork: a child process gets a writer of its own, writes what it logs,
and never writes again what the parent had queued."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tunelog


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_writes_with_a_writer_of_its_own(tl_dir: Path) -> None:
    parent = tunelog.init(project="fork", id="parent")
    for step in range(100):
        parent.log({"loss": float(step)})
    pid = os.fork()
    if pid == 0:  # the child: a run of its own, written by its own writer thread
        code = 1
        try:
            child = tunelog.init(project="fork", id="child", reinit=True)
            for step in range(50):
                child.log({"loss": float(step)})
            child.finish()
            code = 0 if tunelog.flush(30) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    parent.finish()
    api = tunelog.Api()
    # Nothing the parent queued before the fork written twice:
    assert [r["_step"] for r in api.run("fork/parent").history(keys=["loss"])] == list(range(100))
    assert [r["_step"] for r in api.run("fork/child").history(keys=["loss"])] == list(range(50))
