"""What the caller sees is the same with autolog on and off: for every patched endpoint, sync and async,
streaming and not, success and error (values, types, fields set, chunk sequences, exceptions)."""

# ruff: noqa: F811  (pytest fixtures imported from autolog_kit are used as arguments)

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pydantic
import pytest

from tunelog.integration.openai import autolog
from tunelog.simulator.images import png
from tunelog.simulator.server import Simulator

from .autolog_kit import MSGS, sim  # noqa: F401

_VOLATILE = {"created", "created_at", "completed_at", "system_fingerprint", "url", "obfuscation"}


class Answer(pydantic.BaseModel):
    text: str


def _norm(v: Any) -> Any:
    """Comparable form: dumps with the fields that were set; ids and timestamps dropped."""
    if isinstance(v, pydantic.BaseModel):
        return (
            type(v).__name__,
            sorted(v.model_fields_set),
            _norm(v.model_dump(exclude_unset=True, warnings=False)),
        )
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items() if k not in _VOLATILE and not k.endswith("id")}
    if isinstance(v, list | tuple):
        return [_norm(x) for x in v]
    if isinstance(v, str) and v[:5] in ("chatc", "resp_", "msg_0", "cmpl-", "modr-"):
        return "<id>"
    return v


TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]

# name → (endpoint call taking a client, whether it streams)
CASES: dict[str, tuple[Callable[[Any], Any], bool]] = {
    "chat": (lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=MSGS), False),
    "chat-stream": (
        lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True),
        True,
    ),
    "chat-stream-usage": (
        lambda c: c.chat.completions.create(
            model="gpt-4o-mini", messages=MSGS, stream=True, stream_options={"include_usage": True}
        ),
        True,
    ),
    "chat-tools-stream": (
        lambda c: c.chat.completions.create(
            model="gpt-4o-mini", messages=MSGS, tools=TOOLS, tool_choice="required", stream=True
        ),
        True,
    ),
    "chat-parse": (
        lambda c: c.chat.completions.parse(model="gpt-4o-mini", messages=MSGS, response_format=Answer),
        False,
    ),
    "chat-raw": (
        lambda c: c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSGS),
        False,
    ),
    "responses": (lambda c: c.responses.create(model="gpt-4o-mini", input="hi"), False),
    "responses-stream": (lambda c: c.responses.create(model="gpt-4o-mini", input="hi", stream=True), True),
    "responses-parse": (
        lambda c: c.responses.parse(model="gpt-4o-mini", input="hi", text_format=Answer),
        False,
    ),
    "completions": (lambda c: c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once"), False),
    "completions-stream": (
        lambda c: c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once", stream=True),
        True,
    ),
    "embeddings": (lambda c: c.embeddings.create(model="text-embedding-3-small", input=["a", "b"]), False),
    "moderations": (lambda c: c.moderations.create(input="hello"), False),
    "images": (lambda c: c.images.generate(model="dall-e-2", prompt="cat", size="256x256"), False),
    "imagesedit": (
        lambda c: c.images.edit(image=("cat.png", png(8, 8, 1), "image/png"), prompt="a hat", size="256x256"),
        False,
    ),
}
ROUTES = {
    "chat": "/chat/completions",
    "responses": "/responses",
    "completions": "/completions",
    "embeddings": "/embeddings",
    "moderations": "/moderations",
    "images": "/images/generations",
    "imagesedit": "/images/edits",
}


def _observe_sync(sim: Simulator, name: str) -> Any:
    fn, streams = CASES[name]
    c = openai.OpenAI(base_url=sim.url, api_key="sk-test", max_retries=0)
    try:
        out = fn(c)
        if name.endswith("raw"):
            return ("raw", out.status_code, _norm(out.parse()))
        return (type(out).__name__, [_norm(x) for x in out] if streams else _norm(out))
    except Exception as exc:
        return ("raised", type(exc).__name__, getattr(exc, "status_code", None), str(exc))


def _observe_async(sim: Simulator, name: str) -> Any:
    fn, streams = CASES[name]

    async def main() -> Any:
        async with openai.AsyncOpenAI(base_url=sim.url, api_key="sk-test", max_retries=0) as c:
            try:
                out = await fn(c)
                if name.endswith("raw"):
                    return ("raw", out.status_code, _norm(out.parse()))
                return (type(out).__name__, [_norm(x) async for x in out] if streams else _norm(out))
            except Exception as exc:
                return ("raised", type(exc).__name__, getattr(exc, "status_code", None), str(exc))

    return asyncio.run(main())


@pytest.mark.parametrize("error", [False, True], ids=["ok", "error"])
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_caller_sees_the_same_with_and_without_autolog(
    tl_dir: Path, sim: Simulator, name: str, mode: str, error: bool
) -> None:
    observe = _observe_sync if mode == "sync" else _observe_async
    route = ROUTES[name.split("-")[0]]

    def run_once() -> Any:
        fault = sim.faults.error(route, status=503, times=1) if error else None
        try:
            return observe(sim, name)
        finally:
            if fault is not None:
                sim.faults.remove(fault.id)

    off = run_once()
    autolog({"project": "eq"}, stream_usage_hosts=[sim.base], quiet=True)
    try:
        on = run_once()
        stats = autolog.stats()
    finally:
        autolog.disable()
    assert on == off
    assert stats["recorded"] == 1 and stats["errors"] == 0
    if error:
        assert on[0] == "raised" and on[2] == 503
