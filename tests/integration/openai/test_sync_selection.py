"""Which jobs a sync reads (every page of the job list) and what it knows without downloading."""
# ruff: noqa: F811  (pytest fixtures imported from .ftkit are redefined as test arguments)

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai

import tunelog
from tunelog.integration.openai import FineTuneLogger
from tunelog.integration.openai.openai_client import FineTuneApi
from tunelog.simulator.server import Simulator

from .ftkit import FAST_RETRY, PROJECT, chat, client, finish, sim, start_job, upload  # noqa: F401


def sync(client: Any, **kw: Any) -> Any:
    return FineTuneLogger.sync(openai_client=client, retry=FAST_RETRY, poll_interval=0.01, **kw)


def test_the_job_list_is_read_across_pages(tl_dir: Path, sim: Simulator, client: openai.OpenAI) -> None:
    train = upload(client, chat(10))
    created = [start_job(client, train, suffix=f"j{i}").id for i in range(105)]  # over one page of 100
    finish(sim)
    api = FineTuneApi(client)
    assert [j.id for j in api.jobs()] == created[::-1]  # every job, newest first
    assert [j.id for j in api.jobs(102)] == created[::-1][:102]  # the first 102, over the page break
    result = sync(client, num_fine_tunes=2, log_datasets=False)
    assert [j.job_id for j in result] == [created[-1], created[-2]]


def test_log_datasets_false_still_knows_the_counts_it_has(
    tl_dir: Path, sim: Simulator, client: openai.OpenAI
) -> None:
    shared, fresh = upload(client, chat(12)), upload(client, chat(15), "fresh.jsonl")
    first, second, third = (start_job(client, f) for f in (shared, shared, fresh))
    finish(sim)
    sync(client, fine_tune_job_id=first.id)  # logs the dataset of `shared`
    for file_id in (shared, fresh):  # log_datasets=False downloads no dataset
        sim.faults.error(f"/files/{file_id}/content", status=404)
    sync(client, fine_tune_job_id=[second.id, third.id], log_datasets=False)
    api = tunelog.Api()
    known = api.run(f"{PROJECT}/{second.id}").config
    assert known["n_train"] == 12 and known["training_file_name"] == "train.jsonl"
    unknown = api.run(f"{PROJECT}/{third.id}").config  # never logged: counting would mean downloading
    assert unknown["n_train"] is None and unknown["training_file_name"] == "fresh.jsonl"
    assert [r.path.split("/")[-1] for r in api.artifact(f"{PROJECT}/train-{shared}:latest").used_by()] == [
        first.id
    ]
