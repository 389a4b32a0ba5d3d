"""autolog: stream usage asked of a running simulator by itself, request ids, raw-response streams,
streams dropped unread, images.edit, and estimates counted without the simulator."""

# ruff: noqa: F811  (pytest fixtures imported from autolog_kit are used as arguments)

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

from tunelog.integration.openai import autolog
from tunelog.simulator.server import Simulator

from .autolog_kit import MSGS, aclient, al, client, sim, spans  # noqa: F401


def test_a_running_simulator_is_asked_for_stream_usage_without_naming_it(
    tl_dir: Path, sim: Simulator
) -> None:
    autolog({"project": "al"}, quiet=True)  # no stream_usage_hosts
    try:
        chunks = list(client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True))
        (span,) = spans()
    finally:
        autolog.disable()
    assert all(ch.choices for ch in chunks)
    assert span.attributes["usage_requested_by_tunelog"] is True and "estimated" not in span.usage


def test_request_id_is_recorded_from_the_response_header(al: Any, sim: Simulator) -> None:
    raw = client(sim).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSGS)
    list(client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True))
    first, second = spans()
    assert first.attributes["request_id"] == raw.headers["x-request-id"]
    assert first.attributes["request_id"].startswith("req_")
    assert second.attributes["request_id"].startswith("req_")
    assert first.attributes["request_id"] != second.attributes["request_id"]


def test_raw_response_stream_is_recorded_with_estimated_usage(al: Any, sim: Simulator) -> None:
    raw = client(sim).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MSGS, stream=True
    )
    lines = list(raw.http_response.iter_lines())
    assert any(line.startswith("data:") for line in lines)
    assert not any('"usage":{' in line for line in lines)  # the request was left untouched
    (span,) = spans()
    assert span.attributes["raw_stream"] is True and span.attributes["request_id"].startswith("req_")
    assert span.usage is not None and span.usage["estimated"] is True and span.usage["prompt_tokens"] > 0


def test_streaming_response_helper_is_recorded_with_estimated_usage(al: Any, sim: Simulator) -> None:
    with client(sim).chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MSGS, stream=True
    ) as resp:
        lines = list(resp.iter_lines())
    assert lines
    (span,) = spans()
    assert span.usage is not None and span.usage["estimated"] is True


def test_stream_dropped_without_iterating_ends_incomplete(al: Any, sim: Simulator) -> None:
    stream = client(sim).chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True)
    del stream
    gc.collect()
    (span,) = spans()
    assert span.status == "incomplete" and span.attributes["chunks"] == 0


def test_images_edit_is_recorded(al: Any, sim: Simulator) -> None:
    from tunelog.simulator.images import png

    cat = ("cat.png", png(8, 8, 1), "image/png")
    out = client(sim).images.edit(image=cat, prompt="a hat", response_format="b64_json")
    (span,) = spans()
    assert span.name == "openai.images.edit" and span.kind == "image" and span.status == "ok"
    assert span.inputs["prompt"] == "a hat"
    assert span.outputs["data"][0]["b64_json"] == f"<{len(out.data[0].b64_json or '')} chars>"


def test_estimated_usage_does_not_import_the_simulator() -> None:
    code = (
        "import sys\n"
        "from tunelog.integration.openai import assemble\n"
        "asm = assemble.Assembled({}, None, 'gpt-4o-mini', 'Hello there')\n"
        "u = assemble.estimate_usage('chat', {'messages': [{'role': 'user', 'content': 'Hi'}]}, asm, None)\n"
        "assert u == {'prompt_tokens': 8, 'completion_tokens': 2, 'total_tokens': 10, 'estimated': True}, u\n"
        "assert not [m for m in sys.modules if m.startswith('tunelog.simulator')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_raw_response_helpers_made_before_autolog_are_recorded(tl_dir: Path, sim: Simulator) -> None:
    early = client(sim)
    raw_before = early.chat.completions.with_raw_response  # the SDK caches it, with the unpatched create
    raw_before.create(model="gpt-4o-mini", messages=MSGS)
    with early.embeddings.with_streaming_response.create(model="text-embedding-3-small", input="x") as r:
        r.read()
    early.chat.with_raw_response.completions.create(model="gpt-4o-mini", messages=MSGS)
    early.with_raw_response.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
    autolog({"project": "al"}, stream_usage_hosts=[sim.base], quiet=True)
    try:
        raw = early.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSGS)
        assert raw.parse().choices[0].message.content
        with early.embeddings.with_streaming_response.create(model="text-embedding-3-small", input="x") as r:
            r.read()
        early.chat.with_raw_response.completions.create(model="gpt-4o-mini", messages=MSGS)
        early.with_raw_response.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
        assert early.chat.completions.with_raw_response is early.chat.completions.with_raw_response
        run = autolog.run
        got = spans()
    finally:
        autolog.disable()
    assert [s.name for s in got] == ["openai.chat.completions.create", "openai.embeddings.create"] + [
        "openai.chat.completions.create"
    ] * 2
    assert got[0].attributes["request_id"] == raw.headers["x-request-id"]
    # Unpatched again: the SDK's own helper, as cached before, and nothing recorded.
    assert early.chat.completions.with_raw_response is raw_before
    early.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSGS)
    early.with_raw_response.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
    assert len(spans(run)) == 4


async def test_async_raw_helper_made_before_autolog_is_recorded(tl_dir: Path, sim: Simulator) -> None:
    early = aclient(sim)
    await early.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSGS)
    autolog({"project": "al"}, stream_usage_hosts=[sim.base], quiet=True)
    try:
        raw = await early.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSGS)
        (span,) = spans()
    finally:
        autolog.disable()
    assert span.attributes["request_id"] == raw.headers["x-request-id"]
