"""autolog against the simulator with the real openai SDK: what each endpoint records."""

# ruff: noqa: F811  (pytest fixtures imported from autolog_kit are used as arguments)

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
from pathlib import Path
from typing import Any

import openai
import pydantic
import pytest

import tunelog
from tunelog.integration.openai import autolog
from tunelog.simulator.server import Simulator

from .autolog_kit import MSGS, aclient, al, azure, client, sim, spans  # noqa: F401

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def test_chat_call_is_one_span_with_usage_cost_and_params(al: Any, sim: Simulator) -> None:
    c = client(sim)
    resp = c.chat.completions.create(model="gpt-4o-mini", messages=MSGS, temperature=0.2, seed=1)
    (span,) = spans()
    assert span.name == "openai.chat.completions.create" and span.kind == "llm" and span.status == "ok"
    assert span.inputs == {"model": "gpt-4o-mini", "messages": MSGS, "temperature": 0.2, "seed": 1}
    assert span.outputs["choices"][0]["message"]["content"] == resp.choices[0].message.content
    assert resp.usage is not None
    assert span.usage["prompt_tokens"] == resp.usage.prompt_tokens
    assert span.usage["total_tokens"] == resp.usage.total_tokens
    assert span.cost_usd is not None and span.cost_usd > 0
    assert span.model == resp.model
    assert span.end_time is not None and span.end_time >= span.start_time
    run = tunelog.Api().run(autolog.run.path)
    assert run.summary["calls"] == 1 and run.summary["errors"] == 0
    assert run.summary["usage/total_tokens"] == resp.usage.total_tokens
    rows = list(run.history())
    assert rows[0]["call/total_tokens"] == resp.usage.total_tokens and rows[0]["call/latency_ms"] > 0


def test_messages_mutated_after_the_call_are_recorded_as_sent(al: Any, sim: Simulator) -> None:
    msgs: list[Any] = list(MSGS)
    resp = client(sim).chat.completions.create(model="gpt-4o-mini", messages=msgs)
    msgs.append(resp.choices[0].message)
    (span,) = spans()
    assert span.inputs["messages"] == MSGS


def test_stream_records_ttft_text_and_hidden_usage(al: Any, sim: Simulator) -> None:
    c = client(sim)
    chunks = list(c.chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True))
    assert all(ch.choices for ch in chunks)  # the usage chunk tunelog asked for is not shown
    assert all("usage" not in ch.model_fields_set for ch in chunks)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks)
    (span,) = spans()
    assert span.outputs["choices"][0]["message"]["content"] == text
    assert span.usage is not None and span.usage["completion_tokens"] > 0 and "estimated" not in span.usage
    assert span.attributes["ttft_ms"] > 0 and span.attributes["usage_requested_by_tunelog"] is True
    assert "stream_options" not in span.inputs


def test_stream_usage_asked_by_caller_is_passed_through(al: Any, sim: Simulator) -> None:
    chunks = list(
        client(sim).chat.completions.create(
            model="gpt-4o-mini", messages=MSGS, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].usage is not None and not chunks[-1].choices
    (span,) = spans()
    assert span.usage["total_tokens"] == chunks[-1].usage.total_tokens


def test_unknown_server_gets_no_stream_options_and_estimated_usage(tl_dir: Path, sim: Simulator) -> None:
    autolog({"project": "al"}, quiet=True)
    # Reached as "localhost", the simulator is not recognised: treated as an unknown server.
    other = openai.OpenAI(base_url=sim.url.replace("127.0.0.1", "localhost"), api_key="sk-t", max_retries=0)
    try:
        list(other.chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True))
        (span,) = spans()
    finally:
        autolog.disable()
    assert span.usage is not None and span.usage["estimated"] is True and span.usage["completion_tokens"] > 0
    assert "usage_requested_by_tunelog" not in span.attributes


def test_abandoned_stream_is_incomplete_with_what_arrived(al: Any, sim: Simulator) -> None:
    stream = client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True)
    first = next(iter(stream))
    stream.close()
    del stream
    gc.collect()
    (span,) = spans()
    assert span.status == "incomplete"
    assert span.attributes["chunks"] >= 1
    assert first.choices


def test_break_out_of_stream_then_drop_it(al: Any, sim: Simulator) -> None:
    for _ in client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True):
        break
    gc.collect()
    (span,) = spans()
    assert span.status == "incomplete"


def test_cut_stream_is_an_error_span_and_the_error_reaches_the_caller(al: Any, sim: Simulator) -> None:
    fault = sim.faults.cut_stream("/chat/completions", after_events=2, times=1)
    try:
        with pytest.raises(Exception) as info:
            list(client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True))
    finally:
        sim.faults.remove(fault.id)
    (span,) = spans()
    assert span.status == "error" and span.error is not None
    assert span.error["type"] == type(info.value).__name__


def test_tool_calls_streamed_and_not(al: Any, sim: Simulator) -> None:
    c = client(sim)
    kw: dict[str, Any] = {"model": "gpt-4o-mini", "tools": TOOLS, "tool_choice": "required"}
    msgs = [{"role": "user", "content": "Weather in Paris?"}]
    resp = c.chat.completions.create(messages=msgs, **kw)
    list(c.chat.completions.create(messages=msgs, stream=True, **kw))
    plain, streamed = spans()
    call = resp.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert plain.outputs["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert plain.inputs["tools"] == TOOLS
    tc = streamed.outputs["choices"][0]["message"]["tool_calls"][0]
    assert tc["function"]["name"] == call.function.name and tc["function"]["arguments"]
    assert streamed.outputs["choices"][0]["finish_reason"] == "tool_calls"


class City(pydantic.BaseModel):
    name: str
    country: str


def test_parse_and_stream_helpers(al: Any, sim: Simulator) -> None:
    c = client(sim)
    parsed = c.chat.completions.parse(model="gpt-4o-mini", messages=MSGS, response_format=City)
    assert isinstance(parsed.choices[0].message.parsed, City)
    with c.chat.completions.stream(model="gpt-4o-mini", messages=MSGS) as s:
        final = s.get_final_completion()
    assert final.usage is None  # as without autolog: the hidden usage chunk never reaches the helper
    p, st = spans()
    assert p.name == "openai.chat.completions.parse" and p.inputs["response_format"] == "City"
    assert p.outputs["choices"][0]["message"]["parsed"]["name"]
    assert st.name == "openai.chat.completions.create" and st.attributes["stream"] is True
    assert st.usage is not None and st.usage["completion_tokens"] > 0


def test_responses_completions_embeddings_moderations_images(al: Any, sim: Simulator) -> None:
    c = client(sim)
    r = c.responses.create(model="gpt-4o-mini", input="hello", instructions="be brief")
    events = list(c.responses.create(model="gpt-4o-mini", input="hello", stream=True))
    c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once", max_tokens=5)
    e = c.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    c.moderations.create(input="hello")
    c.images.generate(model="dall-e-2", prompt="a cat", n=1, size="256x256")
    names = [s.name for s in spans()]
    assert names == [
        "openai.responses.create",
        "openai.responses.create",
        "openai.completions.create",
        "openai.embeddings.create",
        "openai.moderations.create",
        "openai.images.generate",
    ]
    resp, resp_stream, comp, emb, mod, img = spans()
    assert r.usage is not None and resp.usage["prompt_tokens"] == r.usage.input_tokens
    assert resp_stream.usage is not None and resp_stream.attributes["stream"] is True
    assert events and resp_stream.outputs["output"]
    assert comp.outputs["choices"][0]["text"] and comp.usage["completion_tokens"] > 0
    assert emb.kind == "embedding" and emb.outputs == {"count": 2, "dimensions": len(e.data[0].embedding)}
    assert "embedding" not in str(emb.outputs)
    assert mod.kind == "moderation" and "results" in mod.outputs
    assert img.kind == "image"


def test_raw_response_is_recorded_and_left_for_the_caller(al: Any, sim: Simulator) -> None:
    raw = client(sim).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSGS)
    parsed = raw.parse()
    (span,) = spans()
    assert span.attributes["http_status"] == 200
    assert span.usage is not None and parsed.usage is not None
    assert span.usage["total_tokens"] == parsed.usage.total_tokens


def test_errors_are_recorded_and_reraised_unchanged(al: Any, sim: Simulator) -> None:
    fault = sim.faults.error("/chat/completions", status=429, times=1, retry_after=0)
    c = client(sim)
    try:
        with pytest.raises(openai.RateLimitError) as info:
            c.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
    finally:
        sim.faults.remove(fault.id)
    (span,) = spans()
    assert span.status == "error"
    assert span.error == {"type": "RateLimitError", "message": str(info.value), "status_code": 429} | (
        {"code": span.error["code"]} if "code" in span.error else {}
    ) | ({"request_id": span.error["request_id"]} if "request_id" in span.error else {})
    assert tunelog.Api().run(autolog.run.path).summary["errors"] == 1


def test_async_client_sync_and_streaming(al: Any, sim: Simulator) -> None:
    async def main() -> str:
        async with aclient(sim) as ac:
            await ac.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
            s = await ac.chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True)
            return "".join([ch.choices[0].delta.content or "" async for ch in s])

    text = asyncio.run(main())
    plain, streamed = spans()
    assert plain.usage is not None and plain.status == "ok"
    assert streamed.outputs["choices"][0]["message"]["content"] == text and streamed.usage is not None


def test_azure_deployment_maps_to_model_for_cost(tl_dir: Path, sim: Simulator) -> None:
    autolog({"project": "al"}, azure_deployments={"my-deploy": "gpt-4o-mini"}, quiet=True)
    try:
        azure(sim).chat.completions.create(model="my-deploy", messages=MSGS)
        list(azure(sim).chat.completions.create(model="my-deploy", messages=MSGS, stream=True))
        plain, streamed = spans()
    finally:
        autolog.disable()
    assert plain.attributes["azure"] is True and plain.attributes["azure_deployment"] == "my-deploy"
    assert plain.cost_usd is not None and plain.cost_usd > 0
    assert streamed.usage is not None and "estimated" not in streamed.usage  # api-version 2024-10-21


def test_api_keys_are_never_stored(al: Any, sim: Simulator, tl_dir: Path) -> None:
    c = client(sim)
    c.chat.completions.create(
        model="gpt-4o-mini",
        messages=MSGS,
        extra_headers={"Authorization": "Bearer sk-test-SECRET", "X-Ok": "1"},
    )
    azure(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS)
    (span, _) = spans()
    assert span.inputs["extra_headers"] == {"X-Ok": "1"}
    tunelog.flush()
    for f in tl_dir.rglob("*"):
        if f.is_file():
            assert b"SECRET" not in f.read_bytes(), f


def test_capture_content_false_and_redact(tl_dir: Path, sim: Simulator) -> None:
    def redact(span: Any) -> Any:
        return None if span.model == "drop-me" else dataclasses.replace(span, attributes={"redacted": True})

    autolog({"project": "al"}, capture_content=False, redact=redact, quiet=True)
    try:
        client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS)
        (span,) = spans()
    finally:
        autolog.disable()
    assert "Say hello" not in str(span.inputs) and span.inputs["messages"] == [{"role": "user"}]
    assert span.outputs["choices"][0]["message"]["content"] == "…"
    assert span.usage is not None and span.attributes == {"redacted": True}


def test_sample_rate_zero_records_nothing(tl_dir: Path, sim: Simulator) -> None:
    autolog({"project": "al"}, sample_rate=0.0, quiet=True)
    try:
        client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS)
        assert spans() == [] and autolog.stats()["sampled_out"] == 1
    finally:
        autolog.disable()


def test_price_override_and_unknown_model_warned_once(
    al: Any, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    from tunelog.integration.openai.pricing import PriceBook

    autolog.disable()
    autolog({"project": "al"}, quiet=True, prices={"gpt-4o-mini": {"input": 1000.0, "output": 0.0}})
    client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS)
    (span,) = spans()
    assert span.cost_usd == pytest.approx(span.usage["prompt_tokens"] * 1000.0 / 1e6)
    book = PriceBook()
    with caplog.at_level(logging.WARNING, logger="tunelog"):
        assert book.cost("no-such-model-xyz", 10, 10) is None
        assert book.cost("no-such-model-xyz", 10, 10) is None
    assert sum("no cost recorded" in m for m in caplog.messages) == 1


def test_fine_tuned_model_priced_at_fine_tuned_rates(al: Any, sim: Simulator) -> None:
    from tunelog.integration.openai.pricing import PriceBook

    book = PriceBook()
    base = book.cost("gpt-4o-mini-2024-07-18", 1000, 1000)
    ft = book.cost("ft:gpt-4o-mini-2024-07-18:acme:suffix:abc123", 1000, 1000)
    assert base is not None and ft is not None and ft > base
    assert book.cost("ft:unknown-base-model:acme::x", 1000, 1000) is None


def test_disable_unpatches_and_finishes_only_its_own_run(tl_dir: Path, sim: Simulator) -> None:
    original = openai.resources.chat.completions.Completions.create
    own = autolog({"project": "al"}, quiet=True)
    assert openai.resources.chat.completions.Completions.create is not original
    autolog({"project": "al"}, quiet=True)  # again: starts over, does not wrap the wrapper
    wrapped = openai.resources.chat.completions.Completions.create
    assert wrapped.__tunelog_original__ is original  # type: ignore[attr-defined]
    autolog.disable()
    assert openai.resources.chat.completions.Completions.create is original
    assert own is not None and tunelog.Api().run(own.path).state == "finished"
    with tunelog.init(project="mine") as run:
        assert autolog({"project": "ignored"}, quiet=True) is run
        client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS)
        autolog.disable()
        assert tunelog.run is run and run.state == "running"
        assert len(spans(run)) == 1
    client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS)  # not recorded
    assert len(spans(run)) == 1


def test_disabled_mode_does_nothing(tl_dir: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNELOG_MODE", "disabled")
    original = openai.resources.chat.completions.Completions.create
    assert autolog({"project": "al"}, quiet=True) is None
    assert openai.resources.chat.completions.Completions.create is original and not autolog.enabled


def test_stats_and_trace_nesting(al: Any, sim: Simulator) -> None:
    c = client(sim)
    with tunelog.tracing.trace("pipeline", user="ada") as outer:
        c.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
        with tunelog.tracing.trace("inner"):
            c.embeddings.create(model="text-embedding-3-small", input="x")
    got = {s.name: s for s in spans()}
    assert got["openai.chat.completions.create"].parent_id == outer.id
    assert got["openai.embeddings.create"].parent_id == got["inner"].span_id
    assert got["inner"].parent_id == outer.id and got["pipeline"].attributes == {"user": "ada"}
    assert len({s.trace_id for s in got.values()}) == 1
    assert autolog.stats()["recorded"] == 2 and autolog.stats()["errors"] == 0


def test_a_failing_store_never_reaches_the_caller(al: Any, sim: Simulator) -> None:
    def broken(span: Any) -> Any:
        raise RuntimeError("redact hook bug")

    autolog.disable()
    autolog({"project": "al"}, redact=broken, quiet=True)
    resp = client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS)
    assert resp.choices
    tunelog.flush()
    assert autolog.stats()["errors"] == 1


def test_autolog_demo_records_calls(tl_dir: Path, sim: Simulator) -> None:
    from tunelog.integration.openai.autolog_demo import run_autolog_demo
    from tunelog.settings import Settings

    path = run_autolog_demo(Settings.resolve(), sim)
    entity, project, run_id = path.split("/")
    got = tunelog.Api().spans(f"{entity}/{project}", run=run_id, limit=1000)
    names = {s.name for s in got}
    assert {"openai.chat.completions.create", "openai.embeddings.create", "openai.responses.create"} <= names
    assert any(s.status == "error" for s in got) and any(s.attributes.get("stream") for s in got)
    assert tunelog.Api().run(path).state == "finished"
