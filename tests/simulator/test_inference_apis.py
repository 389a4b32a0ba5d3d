"""Responses API, embeddings, moderations, images and legacy edits, through the real SDK over HTTP."""

from __future__ import annotations

import base64
import json
import math
import struct
import zlib
from collections.abc import Iterator
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


def count(text: str) -> int:
    return len(O200K.encode_ordinary(text))


WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    "strict": True,
}


# --- responses --------------------------------------------------------------------------------


def test_response_text_and_usage(client: openai.OpenAI) -> None:
    r = client.responses.create(model="gpt-4o-mini", instructions="Be brief.", input="Why is the sky blue?")
    assert r.object == "response" and r.id.startswith("resp_") and r.status == "completed"
    assert r.instructions == "Be brief." and r.output_text
    message = r.output[0]
    assert message.type == "message" and message.id.startswith("msg_") and message.role == "assistant"
    assert r.usage is not None
    # Instructions count as a developer message ahead of the input (3 + 3 per message + role + text).
    expected = (
        3
        + (3 + count("developer") + count("Be brief."))
        + (3 + count("user") + count("Why is the sky blue?"))
    )
    assert r.usage.input_tokens == expected
    assert r.usage.output_tokens == count(r.output_text)
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    assert r.usage.output_tokens_details.reasoning_tokens == 0


def test_response_stream_event_sequence(client: openai.OpenAI) -> None:
    full = client.responses.create(model="gpt-4o-mini", input="Tell me about rivers")
    with client.responses.stream(model="gpt-4o-mini", input="Tell me about rivers") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    head = [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    tail = [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert kinds[:4] == head and kinds[-4:] == tail
    assert set(kinds[4:-4]) == {"response.output_text.delta"} and len(kinds) > 10
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == full.output_text == final.output_text
    assert final.usage and full.usage and final.usage.output_tokens == full.usage.output_tokens


def test_response_raw_stream_and_message_list_input(client: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": [{"type": "input_text", "text": "Describe a lighthouse."}]},
    ]
    events = list(client.responses.create(model="gpt-4o-mini", input=messages, stream=True))  # type: ignore[arg-type]
    completed = events[-1]
    assert completed.type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == completed.response.output_text


class Recipe(pydantic.BaseModel):
    title: str
    servings: int
    ingredients: list[str]
    vegetarian: bool


def test_response_parse_and_stream_with_text_format(client: openai.OpenAI) -> None:
    parsed = client.responses.parse(model="gpt-4o-2024-08-06", input="A soup recipe", text_format=Recipe)
    assert isinstance(parsed.output_parsed, Recipe) and parsed.output_parsed.ingredients
    assert parsed.text and parsed.text.format and parsed.text.format.type == "json_schema"
    with client.responses.stream(model="gpt-4o-2024-08-06", input="A soup recipe", text_format=Recipe) as s:
        final = s.get_final_response()
    assert final.output_parsed == parsed.output_parsed


def test_response_function_call_then_answer(client: openai.OpenAI) -> None:
    r = client.responses.create(model="gpt-4o-mini", input="Weather in Oslo?", tools=[WEATHER])  # type: ignore[list-item]
    call = r.output[0]
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id.startswith("call_")
    jsonschema.validate(json.loads(call.arguments), WEATHER["parameters"])  # type: ignore[arg-type]
    assert r.tools[0].type == "function" and r.tools[0].name == "get_weather"

    with client.responses.stream(model="gpt-4o-mini", input="Weather in Oslo?", tools=[WEATHER]) as s:  # type: ignore[list-item]
        events = list(s)
    kinds = [e.type for e in events]
    assert (
        "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    )
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert done.arguments == call.arguments

    follow = client.responses.create(
        model="gpt-4o-mini",
        previous_response_id=r.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"temp": 3}'}],
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert follow.output[0].type == "message" and follow.output_text
    assert follow.previous_response_id == r.id
    assert follow.usage and r.usage and follow.usage.input_tokens > r.usage.input_tokens


def test_response_retrieve_delete_and_limits(client: openai.OpenAI) -> None:
    r = client.responses.create(model="gpt-4o-mini", input="Hello there")
    assert client.responses.retrieve(r.id).output_text == r.output_text
    client.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)
    short = client.responses.create(
        model="gpt-4o-mini", input="Write a long essay on ships", max_output_tokens=16
    )
    if short.usage and short.usage.output_tokens == 16:
        assert short.status == "incomplete" and short.incomplete_details
        assert short.incomplete_details.reason == "max_output_tokens"
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="gpt-4o-mini", input="x", max_output_tokens=3)
    assert e.value.param == "max_output_tokens"


def test_reasoning_model_response_has_reasoning_item(client: openai.OpenAI) -> None:
    r = client.responses.create(model="o4-mini", input="Think about primes")
    assert [o.type for o in r.output] == ["reasoning", "message"]
    assert r.usage and r.usage.output_tokens_details.reasoning_tokens > 0
    with client.responses.stream(model="o4-mini", input="Think about primes") as s:
        assert s.get_final_response().output_text == r.output_text


async def test_async_response_stream(aclient: openai.AsyncOpenAI) -> None:
    full = await aclient.responses.create(model="gpt-4o-mini", input="Name a colour")
    async with aclient.responses.stream(model="gpt-4o-mini", input="Name a colour") as s:
        text = "".join([e.delta async for e in s if e.type == "response.output_text.delta"])
    assert text == full.output_text


# --- embeddings -----------------------------------------------------------------------------


def test_embeddings_float_base64_dimensions_and_tokens(client: openai.OpenAI, base_url: str) -> None:
    texts = ["the quick brown fox", "jumps over the lazy dog"]
    floats = client.embeddings.create(model="text-embedding-3-small", input=texts, encoding_format="float")
    # Without encoding_format the SDK asks for base64 and decodes it after parsing; strict validation
    # checks the base64 string against list[float] first and fails (against OpenAI too), so this call
    # uses the SDK's default validation.
    lenient = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
    b64 = lenient.embeddings.create(model="text-embedding-3-small", input=texts)
    assert [d.index for d in floats.data] == [0, 1]
    for f, b in zip(floats.data, b64.data, strict=True):
        assert len(f.embedding) == len(b.embedding) == 1536
        assert math.isclose(math.fsum(v * v for v in f.embedding), 1.0, rel_tol=1e-5)
        assert all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(f.embedding, b.embedding, strict=True))
    assert floats.data[0].embedding != floats.data[1].embedding
    cl100k = quicktok.get_encoding("cl100k_base")
    assert floats.usage.prompt_tokens == sum(len(cl100k.encode_ordinary(t)) for t in texts)
    again = client.embeddings.create(model="text-embedding-3-small", input=texts[0], encoding_format="float")
    assert again.data[0].embedding == floats.data[0].embedding  # deterministic
    as_tokens = client.embeddings.create(
        model="text-embedding-3-small", input=[cl100k.encode_ordinary(texts[0])], encoding_format="float"
    )
    assert as_tokens.data[0].embedding == floats.data[0].embedding
    short = client.embeddings.create(
        model="text-embedding-3-large", input="hi", dimensions=256, encoding_format="float"
    )
    assert len(short.data[0].embedding) == 256
    assert math.isclose(math.fsum(v * v for v in short.data[0].embedding), 1.0, rel_tol=1e-5)


def test_embeddings_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="text-embedding-3-small", input="")
    assert e.value.param == "input"
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="text-embedding-ada-002", input="x", dimensions=10)
    assert e.value.param == "dimensions"


def test_embeddings_wire_format_is_little_endian_float32(base_url: str) -> None:
    r = httpx2.post(
        base_url + "/embeddings",
        json={"model": "text-embedding-3-small", "input": "abc", "encoding_format": "base64"},
        headers={"Authorization": "Bearer sk-test"},
    )
    raw = base64.b64decode(r.json()["data"][0]["embedding"])
    values = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert len(values) == 1536 and math.isclose(sum(v * v for v in values), 1.0, rel_tol=1e-4)


# --- moderations ------------------------------------------------------------------------------


def test_moderations(client: openai.OpenAI) -> None:
    r = client.moderations.create(
        model="omni-moderation-latest", input=["I love gardening.", "I will kill you."]
    )
    calm, violent = r.results
    assert not calm.flagged and violent.flagged and violent.categories.violence
    assert violent.category_scores.violence > 0.5 and calm.category_scores.violence < 0.01
    assert not violent.categories.hate and r.id.startswith("modr-")
    raw = r.model_dump(by_alias=True)["results"][0]
    assert {"self-harm/intent", "harassment/threatening", "illicit/violent"} <= raw["categories"].keys()
    image = client.moderations.create(
        model="omni-moderation-latest",
        input=[
            {"type": "text", "text": "a cat"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        ],
    )
    assert image.results[0].category_applied_input_types.violence == ["text", "image"]


# --- images -----------------------------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    zlib.decompress(data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8])  # a valid deflate stream
    return width, height


def test_image_generation_b64_and_url(client: openai.OpenAI) -> None:
    r = client.images.generate(
        model="dall-e-3", prompt="a lighthouse", size="1792x1024", response_format="b64_json"
    )
    image = r.data[0]  # type: ignore[index]
    assert image.revised_prompt == "a lighthouse"
    width, height = _png_size(base64.b64decode(image.b64_json or ""))
    assert width == 64 and height == 37  # the requested aspect, scaled down
    urls = client.images.generate(model="dall-e-2", prompt="a lighthouse", n=2, response_format="url")
    assert len(urls.data or []) == 2
    fetched = httpx2.get(urls.data[0].url or "", headers={"Authorization": "Bearer sk-test"})  # type: ignore[index]
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
    assert _png_size(fetched.content) == (64, 64)
    gpt = client.images.generate(model="gpt-image-1", prompt="a lighthouse")
    assert gpt.data and gpt.data[0].b64_json and gpt.usage and gpt.usage.input_tokens == count("a lighthouse")


# --- legacy edits (openai 0.28's Edit.create) --------------------------------------------------


def test_legacy_edit(base_url: str) -> None:
    body: dict[str, Any] = {
        "model": "text-davinci-edit-001",
        "input": "what day of the wek is it?",
        "instruction": "Fix the spelling mistakes",
    }
    r = httpx2.post(base_url + "/edits", json=body, headers={"Authorization": "Bearer sk-test"})
    data = r.json()
    assert r.status_code == 200 and data["object"] == "edit"
    assert data["choices"][0]["text"].startswith("What day") and data["choices"][0]["index"] == 0
    assert (
        data["usage"]["total_tokens"] == data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]
    )
    bad = httpx2.post(
        base_url + "/edits",
        json={"model": "text-davinci-edit-001"},
        headers={"Authorization": "Bearer sk-test"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "instruction"
