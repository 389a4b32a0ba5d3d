"""Chat and legacy completions of the simulator, through the real openai SDK over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import httpx2
import jsonschema
import openai
import pydantic
import pytest
import quicktok

from tunelog.simulator import Simulator

O200K = quicktok.get_encoding("o200k_base")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """One simulator per module (the conftest's is per test): answers do not depend on earlier tests."""
    with Simulator(seed=7) as running:
        yield running


@pytest.fixture(scope="module")
def base_url(sim: Simulator) -> str:
    return sim.url


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """OpenAI's cookbook framing: 3 tokens per message, 3 to prime the answer, plus every string value."""
    return 3 + sum(3 + sum(len(O200K.encode_ordinary(v)) for v in m.values()) for m in messages)


MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Explain how penguins keep warm in Antarctica."},
]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "details": {
                    "type": "object",
                    "properties": {
                        "wind": {"type": "boolean"},
                        "hours": {"type": "array", "items": {"type": "integer"}},
                    },
                    "required": ["wind", "hours"],
                    "additionalProperties": False,
                },
            },
            "required": ["city", "unit", "days", "details"],
            "additionalProperties": False,
        },
    },
}


def test_chat_completion_shape_and_usage(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert r.model == "gpt-4o-mini" and r.system_fingerprint and r.created > 1_600_000_000
    choice = r.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content
    assert content and content[0].isupper() and content.endswith(".")
    assert r.usage is not None
    assert r.usage.prompt_tokens == prompt_tokens(MESSAGES)
    assert r.usage.completion_tokens == len(O200K.encode_ordinary(content))
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.prompt_tokens_details and r.usage.prompt_tokens_details.cached_tokens == 0
    assert r.usage.completion_tokens_details and r.usage.completion_tokens_details.reasoning_tokens == 0


def test_same_request_same_answer_and_seed_changes_it(client: openai.OpenAI) -> None:
    def ask(**kw: Any) -> str:
        r = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **kw)  # type: ignore[arg-type]
        return r.choices[0].message.content or ""

    assert ask(seed=7) == ask(seed=7)
    assert len({ask(seed=s) for s in range(6)}) > 1


def test_stream_deltas_equal_the_non_streamed_content(client: openai.OpenAI) -> None:
    full = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, seed=3)  # type: ignore[arg-type]
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,  # type: ignore[arg-type]
            seed=3,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert len(chunks) > 5  # token-sized deltas, not one blob
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.model_dump() == full.usage.model_dump()  # type: ignore[union-attr]
    assert all(c.usage is None for c in chunks[:-1])
    assert [c.choices[0].finish_reason for c in chunks[:-1]][-1] == "stop"
    assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].object == "chat.completion.chunk"


def test_stream_without_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)


def test_n_choices(client: openai.OpenAI) -> None:
    one = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    three = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, n=3)  # type: ignore[arg-type]
    assert [c.index for c in three.choices] == [0, 1, 2]
    assert three.choices[0].message.content == one.choices[0].message.content
    assert len({c.message.content for c in three.choices}) == 3
    assert three.usage and three.usage.completion_tokens == sum(
        len(O200K.encode_ordinary(c.message.content or "")) for c in three.choices
    )
    streamed = list(
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, n=3, stream=True)  # type: ignore[arg-type]
    )
    for i in range(3):
        text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices[0].index == i)
        assert text == three.choices[i].message.content


def test_max_tokens_stops_with_length(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=5)  # type: ignore[arg-type]
    assert r.choices[0].finish_reason == "length"
    assert r.usage and r.usage.completion_tokens == 5
    assert len(O200K.encode_ordinary(r.choices[0].message.content or "")) == 5
    legacy = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=3)  # type: ignore[arg-type]
    assert (
        legacy.choices[0].finish_reason == "length" and legacy.usage and legacy.usage.completion_tokens == 3
    )


def test_reasoning_models_report_reasoning_tokens(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="o4-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert r.usage and r.usage.completion_tokens_details
    reasoning = r.usage.completion_tokens_details.reasoning_tokens or 0
    assert reasoning > 0
    assert r.usage.completion_tokens == reasoning + len(
        O200K.encode_ordinary(r.choices[0].message.content or "")
    )


def test_tool_call_arguments_match_the_schema(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    r = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER])  # type: ignore[arg-type, list-item]
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])  # type: ignore[index]
    tools_tokens = len(O200K.encode_ordinary(json.dumps([WEATHER], separators=(",", ":"))))
    assert r.usage and r.usage.prompt_tokens == prompt_tokens(messages) + tools_tokens

    chunks = list(
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER], stream=True)  # type: ignore[arg-type, list-item]
    )
    deltas = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == call.id and deltas[0].function and deltas[0].function.name == "get_weather"
    assert "".join(d.function.arguments or "" for d in deltas if d.function) == call.function.arguments
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    # Given the tool's result, the model answers in text: agent loops end.
    follow = [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
    ]
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=follow, tools=[WEATHER])  # type: ignore[arg-type, list-item]
    assert answer.choices[0].finish_reason == "stop" and answer.choices[0].message.content


def test_tool_choice(client: openai.OpenAI) -> None:
    other = {
        "type": "function",
        "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}},
    }
    tools = [WEATHER, other]
    named = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,  # type: ignore[arg-type]
        tools=tools,  # type: ignore[arg-type]
        tool_choice={"type": "function", "function": {"name": "noop"}},
    )
    assert named.choices[0].message.tool_calls[0].function.name == "noop"  # type: ignore[index, union-attr]
    none = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, tools=tools, tool_choice="none"
    )  # type: ignore[arg-type]
    assert none.choices[0].message.tool_calls is None and none.choices[0].message.content


class Priority(StrEnum):
    low = "low"
    high = "high"


class Step(pydantic.BaseModel):
    title: str
    minutes: int
    done: bool


class Plan(pydantic.BaseModel):
    name: str
    priority: Priority
    steps: list[Step]
    owner: str | None
    score: float


def test_structured_output_parses_into_the_model(client: openai.OpenAI) -> None:
    r = client.chat.completions.parse(model="gpt-4o-2024-08-06", messages=MESSAGES, response_format=Plan)  # type: ignore[arg-type]
    plan = r.choices[0].message.parsed
    assert isinstance(plan, Plan) and plan.steps and isinstance(plan.priority, Priority)
    with client.chat.completions.stream(
        model="gpt-4o-2024-08-06", messages=MESSAGES, response_format=Plan
    ) as s:  # type: ignore[arg-type]
        final = s.get_final_completion()
    assert final.choices[0].message.parsed == plan


def test_json_object_mode(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,  # type: ignore[arg-type]
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(r.choices[0].message.content or ""), dict)


def test_logprobs(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, logprobs=True, top_logprobs=2)  # type: ignore[arg-type]
    lp = r.choices[0].logprobs
    assert lp and lp.content
    assert "".join(t.token for t in lp.content) == r.choices[0].message.content
    assert all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in lp.content)


def test_prompt_caching_reports_cached_tokens(client: openai.OpenAI) -> None:
    long_system = {"role": "system", "content": "Answer briefly and precisely. " * 300}
    first = [long_system, {"role": "user", "content": "First question?"}]
    r1 = client.chat.completions.create(model="gpt-4o-mini", messages=first)  # type: ignore[arg-type]
    assert r1.usage and r1.usage.prompt_tokens >= 1024
    assert r1.usage.prompt_tokens_details and r1.usage.prompt_tokens_details.cached_tokens == 0
    second = [long_system, {"role": "user", "content": "A different question?"}]
    r2 = client.chat.completions.create(model="gpt-4o-mini", messages=second)  # type: ignore[arg-type]
    cached = r2.usage.prompt_tokens_details.cached_tokens  # type: ignore[union-attr]
    assert cached and cached % 128 == 0 and 1024 <= cached <= r2.usage.prompt_tokens  # type: ignore[union-attr]


def test_bad_requests_name_the_param(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert e.value.status_code == 400 and e.value.param == "messages" and e.value.code == "empty_array"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, n=0)  # type: ignore[arg-type]
    assert e.value.param == "n" and e.value.code == "integer_below_min_value"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "robot", "content": "hi"}])  # type: ignore[list-item, typeddict-item]
    assert e.value.param == "messages[0].role" and e.value.code == "invalid_value"
    with pytest.raises(openai.BadRequestError) as e:
        client.post("/chat/completions", body={"model": "gpt-4o-mini"}, cast_to=object)
    assert e.value.param == "messages" and e.value.code == "missing_required_parameter"


def test_unknown_model_is_404_when_the_simulator_knows_its_models(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-nonexistent", messages=MESSAGES)  # type: ignore[arg-type]
    assert e.value.code == "model_not_found"


def test_invalid_json_body(base_url: str) -> None:
    import httpx2

    r = httpx2.post(
        base_url + "/chat/completions",
        content=b"{not json",
        headers={"Authorization": "Bearer sk-test", "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "could not parse the JSON body" in r.json()["error"]["message"]


async def test_async_client_chat_and_stream(aclient: openai.AsyncOpenAI) -> None:
    full = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    stream = await aclient.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(parts) == full.choices[0].message.content


# --- legacy completions -------------------------------------------------------------------------


def test_legacy_completion_defaults_to_16_tokens(client: openai.OpenAI) -> None:
    r = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Write about the sea")
    assert r.object == "text_completion" and r.id.startswith("cmpl-")
    assert r.choices[0].finish_reason == "length"
    assert r.usage and r.usage.completion_tokens == 16
    assert r.usage.prompt_tokens == len(
        quicktok.get_encoding("cl100k_base").encode_ordinary("Write about the sea")
    )


def test_legacy_completion_stream_echo_n_and_logprobs(client: openai.OpenAI, base_url: str) -> None:
    kw: dict[str, Any] = {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": ["One", "Two"],
        "max_tokens": 40,
        "n": 2,
    }
    full = client.completions.create(**kw, echo=True, logprobs=2)
    assert [c.index for c in full.choices] == [0, 1, 2, 3]
    assert full.choices[0].text.startswith("One") and full.choices[2].text.startswith("Two")
    assert full.choices[0].logprobs and full.choices[0].logprobs.tokens
    assert "".join(full.choices[0].logprobs.tokens) == full.choices[0].text
    # OpenAI streams legacy chunks with "finish_reason": null, which the SDK's Completion type does not
    # allow; the simulator answers as OpenAI does, so this part needs the SDK's default validation.
    lenient = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
    chunks = list(
        lenient.completions.create(**kw, echo=True, stream=True, stream_options={"include_usage": True})
    )
    for i in range(4):
        assert (
            "".join(c.choices[0].text for c in chunks if c.choices and c.choices[0].index == i)
            == full.choices[i].text
        )
    assert chunks[-1].usage and chunks[-1].usage.model_dump() == full.usage.model_dump()  # type: ignore[union-attr]
    tokens_in = client.completions.create(model="gpt-3.5-turbo-instruct", prompt=[1, 2, 3], max_tokens=5)
    assert tokens_in.usage and tokens_in.usage.prompt_tokens == 3


# --- with the full simulator: Azure paths and a cut stream ------------------------------------


def test_azure_deployment_names_the_model(sim: Simulator) -> None:
    azure = openai.AzureOpenAI(
        azure_endpoint=sim.azure_endpoint, api_key="azure-key", api_version="2024-10-21", max_retries=0
    )
    r = azure.chat.completions.create(model="my-gpt4o-deployment", messages=MESSAGES)  # type: ignore[arg-type]
    assert r.model == "my-gpt4o-deployment" and r.choices[0].message.content
    chunks = list(azure.chat.completions.create(model="my-gpt4o-deployment", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == r.choices[0].message.content
    )
    e = azure.embeddings.create(model="my-embedder", input="hello", encoding_format="float")
    assert len(e.data[0].embedding) == 1536


def test_stream_cut_after_n_events(sim: Simulator, client: openai.OpenAI) -> None:
    sim.faults.cut_stream("/chat/completions", after_events=3, times=1)
    received = []
    with pytest.raises((openai.APIConnectionError, httpx2.RemoteProtocolError)):
        for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):  # type: ignore[arg-type]
            received.append(chunk)
    assert len(received) == 3
    # The fault is spent: the next stream is whole.
    assert list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
