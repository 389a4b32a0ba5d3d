"""Runs: init arguments, states, steps, summary, config, resume, reinit, provenance, url."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

import tunelog
from tunelog.errors import ReferenceNotFound, RunExistsError, UsageError


def test_init_arguments_and_edits(tl_dir: Path) -> None:
    run = tunelog.init(
        project="p",
        name="first",
        id="run1",
        job_type="train",
        config={"a": {"b": 1}},
        tags=["x", "y", "x"],
        notes="hello",
        group="g",
    )
    assert tunelog.run is run
    assert (run.id, run.name, run.job_type, run.tags, run.notes, run.group) == (
        "run1",
        "first",
        "train",
        ("x", "y"),
        "hello",
        "g",
    )
    assert run.url == "http://127.0.0.1:8765/tester/p/runs/run1"
    run.config.lr = 0.5
    run.config["epochs"] = 3
    run.config.update({"batch": 8})
    assert run.config.lr == 0.5 and run.config["a"] == {"b": 1}
    run.name = "renamed"
    run.tags = ["z"]
    run.notes = "changed"
    run.group = "h"
    run.finish()
    assert tunelog.run is None
    r = tunelog.Api().run("p/run1")
    assert (r.name, r.tags, r.notes, r.group, r.state) == ("renamed", ["z"], "changed", "h", "finished")
    assert r.config == {"a": {"b": 1}, "lr": 0.5, "epochs": 3, "batch": 8}
    r.name, r.tags = "again", ["t1", "t2"]
    r.update()
    assert tunelog.Api().run("p/run1").name == "again"


def test_default_entity_and_generated_ids(tl_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUNELOG_ENTITY")
    run = tunelog.init()
    assert run.project == "uncategorized" and len(run.id) == 8 and run.entity
    run.finish()


def test_steps_and_summary(tl_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with tunelog.init(project="p") as run:
        run.log({"a": 1})
        run.log({"a": 2, "nested": {"x": 1.5, "y": {"z": True}}})
        run.log({"b": 10}, step=5)
        run.log({"c": 1}, step=5)
        with caplog.at_level(logging.WARNING, logger="tunelog"):
            run.log({"a": 99}, step=2)
            run.log({"a": 98}, step=1)
        assert sum("smaller than the current step" in m for m in caplog.messages) == 1
        run.log({"nan": float("nan"), "none": None, "flag": False, "big": 10**20})
        run.summary["best"] = 0.1
        run.log({"best": 0.5})
        key = run.path
    r = tunelog.Api().run(key)
    hist = {row["_step"]: row for row in r.history()}
    assert hist[0]["a"] == 1 and hist[1]["nested/y/z"] == 1.0 and hist[1]["nested/x"] == 1.5
    assert hist[5] == {**hist[5], "b": 10, "c": 1, "nan": None, "none": None, "flag": 0.0, "big": 1e20}
    assert 2 not in hist and hist[6]["best"] == 0.5
    assert r.summary["a"] == 2 and r.summary["best"] == 0.1 and r.summary["nested/y/z"] is True


def test_same_step_rewrite_replaces(tl_dir: Path) -> None:
    with tunelog.init(project="p") as run:
        for s in range(1, 4):
            run.log({"train_loss": s * 1.0}, step=s)
        run.rewrite(2, {"train_loss": 0.5})
        key = run.path
    hist = tunelog.Api().run(key).history()
    assert [h["train_loss"] for h in hist] == [1.0, 0.5, 3.0]


def test_states(tl_dir: Path) -> None:
    with pytest.raises(RuntimeError), tunelog.init(project="p", id="boom"):
        raise RuntimeError("x")
    tunelog.init(project="p", id="code").finish(exit_code=3)
    api = tunelog.Api()
    assert api.run("p/boom").state == "failed"
    assert api.run("p/code").state == "failed" and api.run("p/code").exit_code == 3


def test_resume(tl_dir: Path) -> None:
    with tunelog.init(project="p", id="job1", config={"a": 1}) as run:
        run.log({"m": 1}, step=10)
    with pytest.raises(RunExistsError, match="resume='allow'"):
        tunelog.init(project="p", id="job1")
    with pytest.raises(ReferenceNotFound, match="resume='must'"):
        tunelog.init(project="p", id="nope", resume="must")
    with tunelog.init(project="p", id="job1", resume="allow", config={"b": 2}) as run:
        assert run.resumed and run.step == 11 and run.config.as_dict() == {"a": 1, "b": 2}
        run.log({"m": 2})
    with tunelog.init(project="p", id="job2", resume="allow") as run:
        assert not run.resumed
    with pytest.raises(UsageError, match="resume"):
        tunelog.init(project="p", id="job3", resume="sometimes")
    r = tunelog.Api().run("p/job1")
    assert [h["_step"] for h in r.history()] == [10, 11] and r.state == "finished"


def test_reinit(tl_dir: Path) -> None:
    first = tunelog.init(project="p")
    assert tunelog.init(project="p", reinit=False) is first
    second = tunelog.init(project="p")
    assert second is not first and first.state == "finished"
    second.finish()


def test_invalid_names(tl_dir: Path) -> None:
    for bad in ("a/b", "a:b", " ", "x" * 200):
        with pytest.raises(UsageError):
            tunelog.init(project=bad)
    with pytest.raises(UsageError, match="reserved"):
        tunelog.init(project="registry")
    with pytest.raises(TypeError):
        tunelog.init(project="p", not_an_argument=1)
    tunelog.init(project="p", save_code=True, anonymous="never").finish()  # wandb arguments accepted


def test_provenance(tl_dir: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "f").write_text("1")
    subprocess.run(["git", "-C", str(repo), "add", "f"], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "m"],
        check=True,
    )
    (repo / "f").write_text("2")
    import os

    os.chdir(repo)
    with tunelog.init(project="p") as run:
        key = run.path
    tunelog.flush()  # where the run came from is gathered on a thread of its own
    meta = tunelog.Api().run(key).metadata
    assert meta["git"]["dirty"] is True and len(meta["git"]["commit"]) == 40
    assert meta["python"]["version"] and "openai" in meta["packages"] and meta["host"]
    assert isinstance(meta["command"], list)


def test_non_json_config(tl_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Odd:
        def __repr__(self) -> str:
            return "<Odd>"

    with (
        caplog.at_level(logging.WARNING, logger="tunelog"),
        tunelog.init(project="p", config={"obj": Odd(), "ok": 1}) as run,
    ):
        run.config.other = {1, 2}
        key = run.path
    assert any("not JSON-serialisable" in m for m in caplog.messages)
    cfg = tunelog.Api().run(key).config
    assert cfg["obj"] == "<Odd>" and cfg["ok"] == 1 and cfg["other"] == "{1, 2}"
