"""Shared pieces of the fine-tune sync tests: a simulator, SDK clients, datasets, jobs.

Imported explicitly by the test modules (not a conftest: other tests share this folder).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tunelog.integration.openai.openai_client import RetryPolicy
from tunelog.simulator.server import Simulator

AZURE_VERSION = "2024-10-21"
PROJECT = "OpenAI-Fine-Tune"
FAST_RETRY = RetryPolicy(attempts=4, backoff=0.001, max_wait=0.05)


def chat(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "messages": [
                {"role": "system", "content": "You answer in one short sentence."},
                {"role": "user", "content": f"What is {i} plus {i}?"},
                {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."},
            ]
        }
        for i in range(start, start + n)
    ]


def jsonl(rows: list[Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def upload(client: Any, rows: list[Any] | bytes, name: str = "train.jsonl") -> str:
    content = rows if isinstance(rows, bytes) else jsonl(rows)
    return str(client.files.create(file=(name, content), purpose="fine-tune").id)


def start_job(client: Any, train: str, valid: str | None = None, **kw: Any) -> Any:
    kw.setdefault("model", "gpt-4o-mini-2024-07-18")
    if valid is not None:
        kw["validation_file"] = valid
    return client.fine_tuning.jobs.create(training_file=train, **kw)


def finish(sim: Simulator) -> None:
    """Move the simulated clock past the end of every job (no sleeping)."""
    sim.clock.advance(3600)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(speed=1000, seed=11) as s:
        yield s


@pytest.fixture
def slow_sim() -> Iterator[Simulator]:
    """A simulator whose jobs move only when the test advances its clock."""
    with Simulator(speed=1e-9, seed=12) as s:
        yield s


@pytest.fixture
def client(sim: Simulator) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.url, api_key="sk-test", max_retries=0)


@pytest.fixture
def done_job(sim: Simulator, client: openai.OpenAI) -> Any:
    """A succeeded job with a training and a validation file."""
    train = upload(client, chat(24), "train.jsonl")
    valid = upload(client, chat(10, start=100), "valid.jsonl")
    job = start_job(client, train, valid, hyperparameters={"n_epochs": 2})
    finish(sim)
    return client.fine_tuning.jobs.retrieve(job.id)
