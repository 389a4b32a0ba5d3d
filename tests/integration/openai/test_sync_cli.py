"""``tunelog sync``: flags, exit codes, and several processes at once (concurrent, killed, restarted)."""
# ruff: noqa: F811  (pytest fixtures imported from .ftkit are redefined as test arguments)

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
from click.testing import CliRunner

import tunelog
from tunelog.cli import main
from tunelog.errors import ReferenceNotFound
from tunelog.integration.openai import FineTuneLogger
from tunelog.simulator.server import Simulator

from .ftkit import PROJECT, chat, client, done_job, finish, sim, slow_sim, start_job, upload  # noqa: F401


def env(sim: Simulator, tl_dir: Path) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": sim.url,
        "AZURE_OPENAI_ENDPOINT": "",
        "TUNELOG_DIR": str(tl_dir),
        "TUNELOG_ENTITY": "tester",
    }


def cli(sim: Simulator, tl_dir: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["sync", "--poll-interval", "0.01", *args], env=env(sim, tl_dir))


def test_sync_flags(tl_dir: Path, sim: Simulator, client: openai.OpenAI, done_job: Any) -> None:
    res = cli(sim, tl_dir, "--id", done_job.id, "--no-datasets", "--tag", "cli")
    assert res.exit_code == 0, res.output
    assert f"synced  {done_job.id} [succeeded]" in res.output and "/runs/" in res.output
    run = tunelog.Api().run(f"{PROJECT}/{done_job.id}")
    assert run.tags == ["cli"] and "n_train" in run.config
    res = cli(sim, tl_dir, "-i", done_job.id)
    assert res.exit_code == 0 and "already synced" in res.output
    res = cli(sim, tl_dir, "--id", done_job.id, "--force", "--project", "P2", "--entity", "team")
    assert res.exit_code == 0 and tunelog.Api().run(f"team/P2/{done_job.id}").state == "finished"
    res = cli(sim, tl_dir, "--n_fine_tunes", "1", "--overwrite")
    assert res.exit_code == 0 and res.output.count("synced ") == 1


def test_no_wait_and_watch_flags_record_a_running_job(tl_dir: Path, slow_sim: Simulator) -> None:
    c = openai.OpenAI(base_url=slow_sim.url, api_key="sk-test", max_retries=0)
    job = start_job(c, upload(c, chat(30)), hyperparameters={"n_epochs": 1, "batch_size": 1})
    slow_sim.clock.advance(12)
    res = cli(slow_sim, tl_dir, "--no-wait")
    assert res.exit_code == 0 and f"{job.id} [running]" in res.output
    assert "still running" in res.output
    assert tunelog.Api().run(f"{PROJECT}/{job.id}").summary["status"] == "running"


def _spawn(sim: Simulator, tl_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tunelog", "sync", "--poll-interval", "0.05", "--no-progress", *args],
        env={**os.environ, **env(sim, tl_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_syncs_at_once_leave_one_consistent_run(tl_dir: Path, sim: Simulator, done_job: Any) -> None:
    procs = [_spawn(sim, tl_dir, "--id", done_job.id) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    api = tunelog.Api()
    run = api.run(f"{PROJECT}/{done_job.id}")
    assert run.state == "finished" and run.summary["sync"]["complete"]
    steps = [h["_step"] for h in run.history()]
    assert steps == sorted(set(steps)) and len(steps) == run.summary["steps"]
    assert len(api.artifact_versions(f"{PROJECT}/model-metadata")) == 1
    assert len(api.artifact_versions(f"{PROJECT}/train-{done_job.training_file}")) == 1
    assert len({e.id for e in run.events()}) == len(run.events())
    assert len(api.runs(PROJECT)) == 1


def test_a_killed_sync_completes_when_started_again(tl_dir: Path, slow_sim: Simulator) -> None:
    c = openai.OpenAI(base_url=slow_sim.url, api_key="sk-test", max_retries=0)
    job = start_job(c, upload(c, chat(30)), hyperparameters={"n_epochs": 1, "batch_size": 1})
    slow_sim.clock.advance(12)  # running, and it stays there: the clock barely moves
    proc = _spawn(slow_sim, tl_dir, "--id", job.id)
    api = tunelog.Api()
    deadline = time.monotonic() + 30
    while True:
        try:
            if api.run(f"{PROJECT}/{job.id}").history():
                break
        except ReferenceNotFound:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert api.run(f"{PROJECT}/{job.id}").state == "crashed"
    finish(slow_sim)
    result = FineTuneLogger.sync(fine_tune_job_id=job.id, openai_client=c, poll_interval=0.01)
    assert result.ok and result.jobs[0].complete
    run = api.run(f"{PROJECT}/{job.id}")
    assert run.state == "finished" and [h["_step"] for h in run.history()] == list(range(1, 31))
    assert len(api.artifact_versions(f"{PROJECT}/train-{job.training_file}")) == 1


def test_watch_syncs_new_jobs_until_interrupted(tl_dir: Path, sim: Simulator, client: openai.OpenAI) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunelog", "sync", "--watch", "--poll-interval", "0.1"],
        env={**os.environ, **env(sim, tl_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    job = start_job(client, upload(client, chat(12)))
    api = tunelog.Api()
    deadline = time.monotonic() + 30
    while True:
        try:
            if api.run(f"{PROJECT}/{job.id}").summary.get("sync", {}).get("complete"):
                break
        except ReferenceNotFound:
            pass
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=20)[0]
    assert proc.returncode == 130 and out.count(f"{job.id} [succeeded]") == 1, out


def test_azure_endpoint_api_version_and_timeout_flags(tl_dir: Path, slow_sim: Simulator) -> None:
    azure = openai.AzureOpenAI(
        azure_endpoint=slow_sim.azure_endpoint, api_key="k", api_version="2024-10-21", max_retries=0
    )
    job = start_job(
        azure, upload(azure, chat(30)), model="gpt-35-turbo-0125", hyperparameters={"n_epochs": 1}
    )
    slow_sim.clock.advance(12)  # running, and it stays there
    flags = ["--azure-endpoint", slow_sim.azure_endpoint, "--api-version", "2024-10-21", "--timeout", "0.2"]
    res = CliRunner().invoke(
        main,
        ["sync", "--poll-interval", "0.05", "--id", job.id, *flags],
        env={**env(slow_sim, tl_dir), "AZURE_OPENAI_API_KEY": "k", "OPENAI_API_KEY": ""},
    )
    assert res.exit_code == 0, res.output
    assert f"{job.id} [running]" in res.output and "timeout" in res.output
    run = tunelog.Api().run(f"{PROJECT}/{job.id}")
    assert run.state == "finished" and run.summary["status"] == "running"
