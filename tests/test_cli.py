"""The command line: real subprocesses against a real data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import tunelog


def tl(tl_dir: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TUNELOG_DIR": str(tl_dir), "TUNELOG_ENTITY": "tester"}
    return subprocess.run(
        [sys.executable, "-m", "tunelog", *args],
        env=env,
        capture_output=True,
        text=True,
        input=input,
        timeout=120,
    )


def _seed(tl_dir: Path) -> str:
    with tunelog.init(project="cli", id="r1", config={"lr": 0.5}, tags=["a"]) as run:
        run.log({"loss": 0.5})
        art = tunelog.Artifact("data", type="dataset")
        with art.new_file("x.txt", mode="w") as f:
            f.write("hello")
        run.log_artifact(art, aliases=["first"])
    return run.path


def test_runs_commands(tl_dir: Path) -> None:
    _seed(tl_dir)
    out = tl(tl_dir, "runs", "ls", "cli")
    assert out.returncode == 0 and "r1" in out.stdout and "finished" in out.stdout
    out = tl(tl_dir, "runs", "ls", "cli", "--filter", '{"config.lr": {"$gt": 0.1}}', "--json")
    assert json.loads(out.stdout.splitlines()[0])["path"] == "tester/cli/r1"
    shown = json.loads(tl(tl_dir, "runs", "show", "cli/r1").stdout)
    assert shown["config"] == {"lr": 0.5} and shown["history_keys"] == ["loss"]
    assert (
        tl(tl_dir, "runs", "edit", "cli/r1", "--name", "renamed", "--tag", "b", "--untag", "a").returncode
        == 0
    )
    r = tunelog.Api().run("cli/r1")
    assert r.name == "renamed" and r.tags == ["b"]
    assert tl(tl_dir, "runs", "delete", "cli/r1", "--yes").returncode == 0
    assert tunelog.Api().runs("cli") == []


def test_artifact_commands(tl_dir: Path, tmp_path: Path) -> None:
    _seed(tl_dir)
    assert "data" in tl(tl_dir, "artifact", "ls", "cli").stdout
    assert "first" in tl(tl_dir, "artifact", "versions", "cli/data").stdout
    got = tl(tl_dir, "artifact", "get", "cli/data:first", "--root", str(tmp_path / "dl"))
    assert got.returncode == 0 and (Path(got.stdout.strip()) / "x.txt").read_text() == "hello"
    assert tl(tl_dir, "artifact", "delete", "cli/data", "--yes").returncode == 0
    gc = tl(tl_dir, "gc", "--grace", "0")
    assert gc.returncode == 0 and "Deleted 1 blob(s)" in gc.stdout


def test_errors_are_one_line_and_non_zero(tl_dir: Path) -> None:
    _seed(tl_dir)
    for args, code in (
        (("runs", "show", "cli/nope"), 2),
        (("runs", "ls", "cli", "--filter", "{bad json"), 2),
        (("runs", "ls", "cli", "--filter", '{"config.lr": {"$near": 1}}'), 2),
        (("artifact", "get", "cli/data:v7"), 2),
        (("artifact", "get", "a/b/c/d"), 2),
    ):
        out = tl(tl_dir, *args)
        assert out.returncode == code, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), out.stderr
    assert "v0" in tl(tl_dir, "artifact", "get", "cli/data:v7").stderr


def test_demo_command(tl_dir: Path) -> None:
    out = tl(tl_dir, "demo", "--no-serve", "--speed", "1000")
    assert out.returncode == 0, out.stderr
    assert str(tl_dir) in out.stdout
    runs = tunelog.Api().runs("tunelog-demo")
    assert {r.job_type for r in runs} == {"train", "eval", "inference"}
    assert all(r.state == "finished" for r in runs)
    train = next(r for r in runs if r.job_type == "train")
    assert len(train.history(keys=["train_loss"])) == 300
    fine_tunes = tunelog.Api().runs("OpenAI-Fine-Tune")
    assert sorted(r.state for r in fine_tunes) == ["failed", "finished", "finished"]
    assert all(r.job_type == "fine-tune" and r.history() for r in fine_tunes)
    calls = [r for r in runs if r.job_type == "inference"]
    assert (
        len(calls) == 1
        and len(calls[0].spans(limit=1000)) >= 5
        and calls[0].summary["usage/total_tokens"] > 0
    )
    model = tunelog.Api().artifact("tunelog-demo/model-metadata:latest")
    assert [u.id for u in model.used_by()] == [next(r for r in runs if r.job_type == "eval").id]
