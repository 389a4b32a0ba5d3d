"""Fixtures for the simulator tests: a running Simulator and strict SDK clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import openai
import pytest

from tunelog.simulator import Simulator

from .simdata import AZURE_VERSION


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(speed=1.0, seed=7) as s:
        yield s


@pytest.fixture
def client(sim: Simulator) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.url, api_key="sk-test", _strict_response_validation=True, max_retries=0)


@pytest.fixture
async def aclient(sim: Simulator) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=sim.url, api_key="sk-test", _strict_response_validation=True, max_retries=0
    ) as c:
        yield c


@pytest.fixture
def azure(sim: Simulator) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=sim.azure_endpoint, api_key="azure-key", api_version=AZURE_VERSION, max_retries=0
    )
