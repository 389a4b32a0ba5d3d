"""Fixtures and helpers shared by the autolog tests: a running simulator and autolog pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

import tunelog
from tunelog.integration.openai import autolog
from tunelog.simulator.server import Simulator
from tunelog.store.base import SpanRecord

AZURE_VERSION = "2024-10-21"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(speed=1000.0, seed=11) as s:
        yield s


@pytest.fixture
def al(tl_dir: Path, sim: Simulator) -> Iterator[Any]:
    """autolog enabled into a fresh run; disabled afterwards."""
    autolog({"project": "al"}, stream_usage_hosts=[sim.base], quiet=True)
    yield autolog
    autolog.disable()


def client(sim: Simulator) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.url, api_key="sk-test-SECRET", max_retries=0)


def aclient(sim: Simulator) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=sim.url, api_key="sk-test-SECRET", max_retries=0)


def azure(sim: Simulator) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=sim.azure_endpoint, api_key="azure-SECRET", api_version=AZURE_VERSION, max_retries=0
    )


def spans(run: Any = None) -> list[SpanRecord]:
    """Every span of the run (default: autolog's), oldest first."""
    run = run or autolog.run or tunelog.run
    tunelog.flush()
    got = tunelog.Api().spans(f"{run.entity}/{run.project}", run=run.id, limit=100_000)
    return sorted(got, key=lambda s: s.start_time)


MSGS = [{"role": "user", "content": "Say hello"}]
