"""A recorded corpus of simulator responses (every route, success and error) vs OpenAI's OpenAPI spec.

Each exchange is matched to its operation in ``/work/shared/openai/openapi.yaml`` by method and path
template, and its body validated (JSON Schema 2020-12, ``$ref``s resolved inside the spec) against
the operation's response schema for that status and content type; server-sent events are validated
one ``data:`` payload at a time. The document is OpenAPI 3.1 but still marks ~100 fields with 3.0's
``nullable: true``, which JSON Schema 2020-12 ignores; it is honoured here as its authors meant it
(``type: [T, "null"]``). Error bodies are validated against ``ErrorResponse``, the envelope
OpenAI sends for every error. Exceptions come from ``tunelog.simulator.known_deviations`` only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tunelog.simulator import Simulator
from tunelog.simulator.images import png
from tunelog.simulator.known_deviations import escapes

from .simdata import chat_examples, finish, jsonl

SPEC = Path("/work/shared/openai/openapi.yaml")
BASE = "urn:openai-spec"


@dataclass
class Exchange:
    method: str
    path: str  # relative to /v1, with real ids
    status: int
    content_type: str
    body: Any  # parsed JSON, list of SSE payloads, or text
    label: str


class Spec:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.registry: Registry = Registry().with_resource(
            BASE, Resource.from_contents(doc, default_specification=DRAFT202012)
        )
        self.templates = [(re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", p) + "$"), p) for p in doc["paths"]]

    def validator(self, pointer: str) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator({"$ref": f"{BASE}#{pointer}"}, registry=self.registry)

    def template(self, path: str) -> str | None:
        # the most specific template: fewest path parameters
        found = [t for rx, t in self.templates if rx.match(path)]
        return min(found, key=lambda t: t.count("{")) if found else None

    def response_pointer(self, method: str, template: str, status: int, content_type: str) -> str | None:
        if status >= 400:
            return "/components/schemas/ErrorResponse"
        op = self.doc["paths"][template].get(method.lower())
        if op is None:
            return None
        resp = op["responses"].get(str(status))
        content = (resp or {}).get("content") or {}
        kind = "text/event-stream" if content_type.startswith("text/event-stream") else "application/json"
        if kind not in content:
            kind = "application/json"
            if kind not in content:
                return None
        esc = template.replace("~", "~0").replace("/", "~1")
        return f"/paths/{esc}/{method.lower()}/responses/{status}/content/{kind.replace('/', '~1')}/schema"


def _honour_nullable(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("nullable") is True:
            kind = node.get("type")
            if isinstance(kind, str):
                node["type"] = [kind, "null"]
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
            if "$ref" in node:
                node["anyOf"] = [{"$ref": node.pop("$ref")}, {"type": "null"}]
        for value in node.values():
            _honour_nullable(value)
    elif isinstance(node, list):
        for value in node:
            _honour_nullable(value)


@pytest.fixture(scope="session")
def spec() -> Spec:
    if not SPEC.exists():
        pytest.skip(f"{SPEC} is not there; the conformance test needs OpenAI's OpenAPI document")
    with SPEC.open() as fh:
        doc = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    _honour_nullable(doc)
    return Spec(doc)


def _sse(text: str) -> list[Any]:
    payloads = []
    for line in text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            payloads.append(json.loads(line[6:]))
    return payloads


class Recorder:
    def __init__(self, sim: Simulator) -> None:
        self.http = httpx2.Client(base_url=sim.url, headers={"Authorization": "Bearer sk-test"}, timeout=30)
        self.corpus: list[Exchange] = []

    def __call__(self, method: str, path: str, label: str = "", **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        ctype = r.headers.get("content-type", "")
        if ctype.startswith("text/event-stream"):
            body: Any = _sse(r.text)
        elif ctype.startswith("application/json"):
            body = r.json()
        else:
            body = r.text
        self.corpus.append(Exchange(method, path.split("?")[0], r.status_code, ctype, body, label or path))
        return body


def record(sim: Simulator) -> Iterator[Exchange]:
    rec = Recorder(sim)
    f = rec(
        "POST", "/files", files={"file": ("t.jsonl", jsonl(chat_examples(10)))}, data={"purpose": "fine-tune"}
    )
    rec("GET", "/files?purpose=fine-tune")
    rec("GET", f"/files/{f['id']}")
    rec("GET", f"/files/{f['id']}/content")
    job = rec(
        "POST", "/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": f["id"], "suffix": "c"}
    )
    other = rec("POST", "/fine_tuning/jobs", json={"model": "gpt-4o-mini", "training_file": f["id"]})
    sim.clock.advance(10)
    rec("POST", f"/fine_tuning/jobs/{other['id']}/pause", label="pause")
    rec("POST", f"/fine_tuning/jobs/{other['id']}/resume")
    rec("POST", f"/fine_tuning/jobs/{other['id']}/cancel")
    finish(sim)
    done = rec("GET", f"/fine_tuning/jobs/{job['id']}")
    rec("GET", "/fine_tuning/jobs?limit=1")
    rec("GET", f"/fine_tuning/jobs/{job['id']}/events?limit=50")
    rec("GET", f"/fine_tuning/jobs/{job['id']}/checkpoints")
    rec("GET", "/models")
    rec("GET", f"/models/{done['fine_tuned_model']}")
    rec("DELETE", f"/models/{done['fine_tuned_model']}")
    rec("GET", f"/files/{done['result_files'][0]}")
    rec("DELETE", f"/files/{f['id']}")
    msgs = [{"role": "user", "content": "Hello"}]
    rec("POST", "/chat/completions", json={"model": "gpt-4o-mini", "messages": msgs, "n": 2})
    rec(
        "POST",
        "/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "messages": msgs,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    rec("POST", "/completions", json={"model": "gpt-3.5-turbo-instruct", "prompt": "Hi", "max_tokens": 5})
    rec("POST", "/embeddings", json={"model": "text-embedding-3-small", "input": "Hi"})
    rec(
        "POST",
        "/embeddings",
        json={"model": "text-embedding-3-small", "input": "Hi", "encoding_format": "base64"},
        label="base64",
    )
    resp = rec("POST", "/responses", json={"model": "gpt-4o-mini", "input": "Hi"})
    rec("GET", f"/responses/{resp['id']}")
    rec("POST", "/responses", json={"model": "gpt-4o-mini", "input": "Hi", "stream": True})
    rec("POST", "/moderations", json={"input": "I like tea"})
    rec(
        "POST",
        "/images/generations",
        json={"model": "dall-e-2", "prompt": "a cat", "response_format": "b64_json"},
    )
    rec(
        "POST",
        "/images/edits",
        files={"image": ("cat.png", png(8, 8, 1), "image/png")},
        data={"prompt": "a hat", "response_format": "b64_json"},
    )
    # errors
    rec("GET", "/models", headers={"Authorization": ""}, label="401")
    rec("GET", "/nope", label="404 route")
    rec("DELETE", "/fine_tuning/jobs", label="405")
    rec(
        "POST",
        "/chat/completions",
        content=b"{oops",
        headers={"Content-Type": "application/json"},
        label="bad json",
    )
    rec("POST", "/chat/completions", json={"model": "gpt-4o-mini"}, label="missing messages")
    rec("GET", "/files/file-missing", label="404 file")
    rec("GET", "/fine_tuning/jobs/ftjob-missing", label="404 job")
    rec("POST", "/fine_tuning/jobs", json={"model": "gpt-99", "training_file": "x"}, label="400 model")
    rec("GET", "/models/ft:nope", label="404 model")
    for status in (429, 500, 503):
        fault = sim.faults.error("/models", status=status, times=1)
        rec("GET", "/models", label=f"fault {status}")
        assert fault.spent
    rec("GET", "/files?purpose=batch", label="empty list")
    rec.http.close()
    return iter(rec.corpus)


def _errors(spec: Spec, ex: Exchange) -> list[str]:
    if ex.status >= 400:
        validator = spec.validator("/components/schemas/ErrorResponse")
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(ex.body)]
    template = spec.template(ex.path)
    if template is None:
        return [f"no operation in the spec for {ex.method} {ex.path}"]
    pointer = spec.response_pointer(ex.method, template, ex.status, ex.content_type)
    if pointer is None:
        return [f"the spec has no {ex.status} {ex.content_type} response for {ex.method} {template}"]
    validator = spec.validator(pointer)
    bodies = ex.body if ex.content_type.startswith("text/event-stream") else [ex.body]
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for b in bodies
        for e in validator.iter_errors(b)
    ]


def test_every_recorded_response_conforms(spec: Spec) -> None:
    with Simulator(seed=11) as sim:
        corpus = list(record(sim))
    assert len(corpus) >= 40 and {ex.status for ex in corpus} >= {200, 400, 401, 404, 405, 429, 500, 503}
    failures = {}
    for ex in corpus:
        problems = _errors(spec, ex)
        if ex.label == "pause":
            assert problems and escapes("pause", "spec"), "paused is a listed spec deviation"
            assert all("paused" in p for p in problems)
            continue
        if ex.label == "base64":
            assert problems and escapes("/embeddings", "spec"), "base64 embeddings are a listed deviation"
            assert all("is not of type 'array'" in p for p in problems)
            continue
        if ex.label == "empty list":
            assert problems and escapes("GET /files with no matching file", "spec")
            assert all("None is not of type 'string'" in p for p in problems)
            continue
        if problems:
            failures[f"{ex.method} {ex.path} ({ex.label}) {ex.status}"] = problems[:3]
    assert not failures, json.dumps(failures, indent=1)


def test_edits_is_outside_the_spec_and_listed(spec: Spec) -> None:
    assert spec.template("/edits") is None and escapes("/edits", "spec")
