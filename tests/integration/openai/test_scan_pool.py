"""Large dataset files are scanned by a worker process: same statistics as scanning in-process."""
# ruff: noqa: F811  (pytest fixtures imported from .ftkit are redefined as test arguments)

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

import tunelog
from tunelog.integration.openai import FineTuneLogger, datasets, scan_pool
from tunelog.integration.openai.scan_pool import PendingScan, ScanPool
from tunelog.simulator.server import Simulator

from .ftkit import FAST_RETRY, PROJECT, chat, client, finish, jsonl, sim, start_job, upload  # noqa: F401


def test_a_worker_scans_like_the_main_process(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(jsonl(chat(30)) + b"{broken\n")
    pool = ScanPool(min_bytes=1)
    try:
        assert pool.wants(1) and not pool.wants(0) and not pool.wants(None)
        pool.warm("gpt-4o-mini")
        stats = pool.scan(path, "gpt-4o-mini", "supervised", "train").result()
    finally:
        pool.close()
    here = datasets.scan_bytes(path.read_bytes(), "gpt-4o-mini", "supervised", "train")
    assert stats.metadata() == here.metadata() and stats.examples == 30 and stats.unparsed == 1
    fallback = PendingScan(None, (str(path), "gpt-4o-mini", "supervised", "train")).result()
    assert fallback.metadata() == here.metadata()  # what runs if the worker cannot


def test_sync_with_the_worker(
    tl_dir: Path, sim: Simulator, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = start_job(client, upload(client, chat(24)), upload(client, chat(10, start=50), "valid.jsonl"))
    finish(sim)
    monkeypatch.setattr(scan_pool, "WORKER_SCAN_BYTES", 1)  # every file counts as large
    result: Any = FineTuneLogger.sync(fine_tune_job_id=job.id, openai_client=client, retry=FAST_RETRY)
    assert result.ok
    job = client.fine_tuning.jobs.retrieve(job.id)
    api = tunelog.Api()
    run = api.run(f"{PROJECT}/{job.id}")
    assert (run.config["n_train"], run.config["n_valid"]) == (24, 10) and run.summary["sync"]["complete"]
    meta = api.artifact(f"{PROJECT}/train-{job.training_file}:latest").metadata
    assert (
        meta["examples"] == 24
        and meta["tokens"]["total"] * job.hyperparameters.n_epochs == job.trained_tokens
    )
