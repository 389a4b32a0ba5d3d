"""Every route, parsed by the real SDK: strictly for OpenAI and AsyncOpenAI, by default for Azure.

Strict validation (``_strict_response_validation=True``) makes the SDK raise on any field that does
not fit its types, so these tests catch shape drift in the simulator. What OpenAI itself sends
outside its types is listed once, in ``tunelog.simulator.known_deviations``; here it is shown to
fail strict parsing (so the list stays honest) and to parse with default validation.
"""

from __future__ import annotations

import inspect
from typing import Any

import openai
import pytest

from tunelog.simulator import Simulator
from tunelog.simulator.images import png
from tunelog.simulator.known_deviations import escapes

from .simdata import AZURE_VERSION, chat_examples, finish, jsonl

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"answer": {"type": "string"}, "score": {"type": "integer"}},
            "required": ["answer", "score"],
            "additionalProperties": False,
        },
    },
}
MESSAGES = [{"role": "user", "content": "Say hello"}]


async def _r(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _drain(stream: Any) -> list[Any]:
    if hasattr(stream, "__aiter__"):
        return [item async for item in stream]
    return list(stream)


async def exercise(c: Any, sim: Simulator) -> dict[str, Any]:
    """Call every OpenAI route once (sync or async client); returns what came back, by route."""
    out: dict[str, Any] = {}
    f = await _r(c.files.create(file=("train.jsonl", jsonl(chat_examples(10))), purpose="fine-tune"))
    v = await _r(c.files.create(file=("valid.jsonl", jsonl(chat_examples(3, start=9))), purpose="fine-tune"))
    out["files.list"] = await _r(c.files.list(purpose="fine-tune", limit=1))
    out["files.retrieve"] = await _r(c.files.retrieve(f.id))
    out["files.content"] = await _r(c.files.content(f.id))
    job = await _r(
        c.fine_tuning.jobs.create(
            model="gpt-4o-mini",
            training_file=f.id,
            validation_file=v.id,
            suffix="parse",
            metadata={"team": "a"},
            integrations=[{"type": "wandb", "wandb": {"project": "p", "tags": ["x"]}}],
        )
    )
    doomed = await _r(c.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=f.id))
    out["jobs.cancel"] = await _r(c.fine_tuning.jobs.cancel(doomed.id))
    bad = await _r(c.files.create(file=("bad.jsonl", b"{not json}\n"), purpose="fine-tune"))
    failing = await _r(c.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=bad.id))
    finish(sim)
    out["jobs.retrieve"] = await _r(c.fine_tuning.jobs.retrieve(job.id))
    out["jobs.failed"] = await _r(c.fine_tuning.jobs.retrieve(failing.id))
    out["jobs.list"] = await _r(c.fine_tuning.jobs.list(limit=2))
    out["jobs.events"] = await _r(c.fine_tuning.jobs.list_events(job.id, limit=100))
    out["jobs.checkpoints"] = await _r(c.fine_tuning.jobs.checkpoints.list(job.id))
    tuned = out["jobs.retrieve"].fine_tuned_model
    out["models.list"] = await _r(c.models.list())
    out["models.retrieve"] = await _r(c.models.retrieve(tuned))
    out["models.delete"] = await _r(c.models.delete(tuned))
    out["files.delete"] = await _r(c.files.delete(v.id))

    chat = c.chat.completions
    out["chat"] = await _r(chat.create(model="gpt-4o-mini", messages=MESSAGES, n=2))
    out["chat.tools"] = await _r(
        chat.create(model="gpt-4o-mini", messages=MESSAGES, tools=[WEATHER], tool_choice="required")
    )
    out["chat.json_schema"] = await _r(
        chat.create(model="gpt-4o-mini", messages=MESSAGES, response_format=SCHEMA)
    )
    stream = await _r(
        chat.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    out["chat.stream"] = await _drain(stream)
    out["completions"] = await _r(
        c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hi", max_tokens=5)
    )
    out["embeddings"] = await _r(
        c.embeddings.create(model="text-embedding-3-small", input=["a", "b"], encoding_format="float")
    )
    out["responses"] = await _r(c.responses.create(model="gpt-4o-mini", input="Say hello", store=True))
    out["responses.retrieve"] = await _r(c.responses.retrieve(out["responses"].id))
    out["responses.stream"] = await _drain(
        await _r(c.responses.create(model="gpt-4o-mini", input="Hi", stream=True))
    )
    out["moderations"] = await _r(c.moderations.create(model="omni-moderation-latest", input="I like tea"))
    out["images.b64"] = await _r(
        c.images.generate(model="dall-e-2", prompt="a cat", response_format="b64_json")
    )
    out["images.url"] = await _r(c.images.generate(model="dall-e-2", prompt="a cat", response_format="url"))
    out["images.edit"] = await _r(
        c.images.edit(
            image=("cat.png", png(8, 8, 1), "image/png"), prompt="a hat", response_format="b64_json"
        )
    )
    return out


def _check(out: dict[str, Any]) -> None:
    job = out["jobs.retrieve"]
    assert job.status == "succeeded" and job.metadata == {"team": "a"} and job.integrations
    assert out["jobs.failed"].error.code == "invalid_training_file"
    assert out["jobs.cancel"].status == "cancelled"
    assert any(e.type == "metrics" for e in out["jobs.events"].data)
    assert len(out["jobs.checkpoints"].data) == 3
    assert out["models.delete"].deleted and out["files.delete"].deleted
    assert out["chat.tools"].choices[0].message.tool_calls
    assert out["chat.stream"][-1].usage is not None
    assert len(out["chat"].choices) == 2


def test_openai_strict_parses_every_route(sim: Simulator, client: openai.OpenAI) -> None:
    import asyncio

    _check(asyncio.run(exercise(client, sim)))


async def test_async_openai_strict_parses_every_route(sim: Simulator, aclient: openai.AsyncOpenAI) -> None:
    _check(await exercise(aclient, sim))


def test_paused_is_the_listed_deviation(sim: Simulator, client: openai.OpenAI) -> None:
    assert escapes("pause", "sdk"), "the paused status must be listed in known_deviations"
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=client.files.create(file=("t.jsonl", jsonl(chat_examples(30))), purpose="fine-tune").id,
    )
    sim.clock.advance(10)
    with pytest.raises(openai.APIResponseValidationError):
        client.fine_tuning.jobs.pause(job.id)
    lenient = client.with_options(max_retries=0)
    lenient._strict_response_validation = False
    assert lenient.fine_tuning.jobs.retrieve(job.id).status == "paused"  # type: ignore[comparison-overlap]


def test_base64_embeddings_are_the_listed_deviation(client: openai.OpenAI) -> None:
    assert escapes("/embeddings", "sdk"), "base64 embeddings must be listed in known_deviations"
    with pytest.raises(openai.APIResponseValidationError):
        client.embeddings.create(model="text-embedding-3-small", input="a")
    lenient = client.with_options(max_retries=0)
    lenient._strict_response_validation = False
    floats = lenient.embeddings.create(model="text-embedding-3-small", input="a", encoding_format="float")
    decoded = lenient.embeddings.create(
        model="text-embedding-3-small", input="a"
    )  # base64, decoded by the SDK
    assert decoded.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)


def test_azure_parses_every_azure_route(sim: Simulator, azure: openai.AzureOpenAI) -> None:
    f = azure.files.create(file=("train.jsonl", jsonl(chat_examples(10))), purpose="fine-tune")
    assert azure.files.list().data[0].id == f.id
    assert azure.files.retrieve(f.id).bytes == f.bytes
    assert azure.files.content(f.id).content == jsonl(chat_examples(10))
    job = azure.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id, seed=3)
    other = azure.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
    sim.clock.advance(10)
    assert azure.fine_tuning.jobs.pause(other.id).status == "paused"  # type: ignore[comparison-overlap]
    assert azure.fine_tuning.jobs.resume(other.id).status == "running"
    assert azure.fine_tuning.jobs.cancel(other.id).status == "cancelled"
    finish(sim)
    job = azure.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded" and job.fine_tuned_model
    assert [j.id for j in azure.fine_tuning.jobs.list()] == [other.id, job.id]
    assert azure.fine_tuning.jobs.list_events(job.id).data
    assert len(azure.fine_tuning.jobs.checkpoints.list(job.id).data) == 3
    assert azure.models.retrieve(job.fine_tuned_model).id == job.fine_tuned_model
    assert any(m.id == job.fine_tuned_model for m in azure.models.list())
    # inference goes to /openai/deployments/{model}/...; the deployment may be any name
    chat = azure.chat.completions.create(model="my-deployment", messages=MESSAGES)  # type: ignore[arg-type]
    assert chat.choices[0].message.content
    assert azure.embeddings.create(model="emb-deployment", input="x").data[0].embedding
    assert azure.completions.create(model="instruct", prompt="Hi", max_tokens=3).choices[0].text
    assert azure.images.generate(model="dalle", prompt="a cat", response_format="b64_json").data
    assert azure.responses.create(model="gpt-4o-mini", input="Hi").output_text
    deployed = openai.AzureOpenAI(
        azure_endpoint=sim.azure_endpoint, azure_deployment="dep", api_key="k", api_version=AZURE_VERSION
    )
    assert deployed.chat.completions.create(model="ignored", messages=MESSAGES).choices  # type: ignore[arg-type]
    v1 = openai.OpenAI(base_url=sim.azure_endpoint + "/openai/v1", api_key="azure-key")
    assert v1.fine_tuning.jobs.retrieve(job.id).status == "succeeded"
    assert v1.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices  # type: ignore[arg-type]
