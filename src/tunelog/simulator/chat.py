"""``POST /chat/completions``: answers, tool calls and structured outputs, streamed or not."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tunelog.simulator import params, tokens
from tunelog.simulator.errors import APIError
from tunelog.simulator.prompt_cache import PromptCache
from tunelog.simulator.streaming import DONE, EventStream, data_event
from tunelog.simulator.textgen import (
    chunk_text,
    from_schema,
    logprob_entries,
    paragraph,
    pieces,
    seed_of,
    short_id,
    topic_word,
    truncate,
)

ROLES = ("system", "assistant", "user", "function", "tool", "developer")
# Reasoning models spend hidden tokens before they answer; these prefixes are OpenAI's o-series and
# the GPT-5 family, which report ``reasoning_tokens``.
REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
TOOL_CALL_OVERHEAD = 4  # tokens a tool call costs beyond its name and arguments


def compact(value: Any) -> str:
    """JSON the way models write tool arguments and structured outputs: no spaces."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def is_reasoning(model: str) -> bool:
    base = model.split(":")[1] if model.startswith("ft:") else model
    return base.startswith(REASONING_PREFIXES)


def fingerprint(model: str) -> str:
    return "fp_" + format(seed_of("fp", model) & 0xFFFFFFFFFF, "010x")


@dataclass
class Choice:
    """One generated choice, before it is rendered as a message or as chunks."""

    content: str | None
    ids: list[int]
    finish_reason: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    function_call: dict[str, Any] | None = None
    reasoning_tokens: int = 0
    logprobs: list[dict[str, Any]] | None = None
    overhead: int = 0  # billed tokens that are not in ``ids`` (a tool call's name and framing)

    @property
    def completion_tokens(self) -> int:
        return len(self.ids) + self.overhead + self.reasoning_tokens


@dataclass
class ChatRequest:
    """A validated chat completion request."""

    model: str
    messages: list[dict[str, Any]]
    n: int
    max_tokens: int | None
    stop: list[str] | None
    stream: bool
    include_usage: bool
    tools: list[dict[str, Any]]
    tool_choice: Any
    functions: list[dict[str, Any]]
    function_call: Any
    response_format: dict[str, Any] | None
    logprobs: bool
    top_logprobs: int
    seed: int


def parse(request: Request, body: dict[str, Any]) -> ChatRequest:
    """Validate a chat request as OpenAI does, naming the offending ``param``."""
    model = params.model_of(request, body)
    messages = params.get(body, "messages", "array", required=True)
    if not messages:
        raise APIError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise params.type_error(f"messages[{i}]", "object", m)
        role = m.get("role")
        if role is None:
            raise params.missing(f"messages[{i}].role")
        if role not in ROLES:
            raise params.invalid_value(f"messages[{i}].role", role, ROLES)
        content = m.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise params.type_error(f"messages[{i}].content", "string", content)
    n = params.get_int(body, "n", 1, 1, 128) or 1
    max_tokens = params.get_int(body, "max_completion_tokens", None, 1)
    if max_tokens is None:
        max_tokens = params.get_int(body, "max_tokens", None, 1)
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    elif stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise params.type_error("stop", "string", stop)
    params.get_number(body, "temperature", 1.0, 0, 2)
    params.get_number(body, "top_p", 1.0, 0, 1)
    stream = bool(params.get(body, "stream", "boolean", False))
    options = params.get(body, "stream_options", "object", {})
    if options and not stream:
        raise APIError(
            400,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code="invalid_value",
        )
    tools = params.get(body, "tools", "array", [])
    for i, t in enumerate(tools):
        if not isinstance(t, dict) or (t.get("type", "function") == "function" and "function" not in t):
            raise params.missing(f"tools[{i}].function")
    tool_choice = body.get("tool_choice", "auto" if tools else "none")
    if isinstance(tool_choice, str) and tool_choice not in ("none", "auto", "required"):
        raise params.invalid_value("tool_choice", tool_choice, ("none", "auto", "required"))
    if tool_choice not in (None, "none", "auto") and not tools:
        raise APIError(
            400,
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            param="tool_choice",
            code=None,
        )
    response_format = params.get(body, "response_format", "object", None)
    if response_format is not None:
        kind = response_format.get("type")
        if kind not in ("text", "json_object", "json_schema"):
            raise params.invalid_value("response_format.type", kind, ("json_schema", "json_object", "text"))
        if kind == "json_schema" and not isinstance(response_format.get("json_schema"), dict):
            raise params.missing("response_format.json_schema")
    logprobs = bool(params.get(body, "logprobs", "boolean", False))
    top = params.get_int(body, "top_logprobs", None, 0, 20)
    if top is not None and not logprobs:
        raise APIError(
            400,
            "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is set.",
            param="top_logprobs",
        )
    return ChatRequest(
        model=model,
        messages=messages,
        n=n,
        max_tokens=max_tokens,
        stop=stop,
        stream=stream,
        include_usage=bool(options.get("include_usage")),
        tools=[t for t in tools if t.get("type", "function") == "function"],
        tool_choice=tool_choice,
        functions=params.get(body, "functions", "array", []),
        function_call=body.get("function_call", "auto"),
        response_format=response_format,
        logprobs=logprobs,
        top_logprobs=top or 0,
        seed=seed_of(
            model, messages, body.get("seed"), tools, tool_choice, response_format, body.get("functions")
        ),
    )


def extra_prompt_tokens(req: ChatRequest) -> int:
    """Tokens OpenAI bills for tool and schema definitions, counted on their JSON."""
    extra = 0
    if req.tools:
        extra += tokens.count(compact(req.tools), req.model)
    if req.functions:
        extra += tokens.count(compact(req.functions), req.model)
    if req.response_format and req.response_format.get("type") == "json_schema":
        extra += tokens.count(compact(req.response_format["json_schema"]), req.model)
    return extra


def _last_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        content = m.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(
                p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
    return ""


def _pick_tool(req: ChatRequest, rng: random.Random) -> dict[str, Any] | None:
    """The tool to call, or None to answer in text.

    With ``tool_choice="auto"`` the simulated model calls a tool unless it has just been given a tool
    result, so agent loops (call → result → answer) terminate.
    """
    if not req.tools or req.tool_choice == "none":
        return None
    if isinstance(req.tool_choice, dict):
        name = (req.tool_choice.get("function") or {}).get("name")
        for t in req.tools:
            if t["function"].get("name") == name:
                return t["function"]  # type: ignore[no-any-return]
        raise APIError(
            400,
            f"Invalid value for 'tool_choice': function '{name}' is not one of the provided tools.",
            param="tool_choice",
        )
    if req.tool_choice == "auto" and req.messages[-1].get("role") in ("tool", "function"):
        return None
    return rng.choice(req.tools)["function"]  # type: ignore[no-any-return]


def _pick_function(req: ChatRequest, rng: random.Random) -> dict[str, Any] | None:
    if not req.functions or req.function_call == "none" or req.messages[-1].get("role") == "function":
        return None
    if isinstance(req.function_call, dict):
        for f in req.functions:
            if f.get("name") == req.function_call.get("name"):
                return f  # type: ignore[no-any-return]
    return rng.choice(req.functions)  # type: ignore[no-any-return]


def answer_text(model: str, response_format: dict[str, Any] | None, prompt: str, rng: random.Random) -> str:
    """The visible answer: English, or JSON for ``json_object`` / ``json_schema`` formats."""
    kind = (response_format or {}).get("type")
    if kind == "json_schema":
        schema = (response_format or {}).get("json_schema", {}).get("schema", {"type": "object"})
        return compact(from_schema(schema, rng))
    if kind == "json_object":
        return compact({"answer": paragraph(rng, topic_word(prompt, rng), 1)})
    return paragraph(rng, topic_word(prompt, rng))


def generate(req: ChatRequest, index: int) -> Choice:
    """Choice ``index`` of the request: a pure function of the request and ``index``."""
    rng = random.Random(req.seed + index)
    reasoning = rng.randint(1, 8) * 64 if is_reasoning(req.model) else 0
    limit = req.max_tokens
    if limit is not None and reasoning:
        reasoning = min(reasoning, limit - 1) if limit > 1 else 0
        limit -= reasoning
    tool = _pick_tool(req, rng)
    function = None if tool else _pick_function(req, rng)
    chosen = tool or function
    if chosen is not None:
        name = str(chosen.get("name", "tool"))
        args = compact(from_schema(chosen.get("parameters") or {"type": "object"}, rng))
        budget = None if limit is None else max(0, limit - TOOL_CALL_OVERHEAD - tokens.count(name, req.model))
        args, ids, finish = truncate(args, req.model, budget)
        overhead = TOOL_CALL_OVERHEAD + tokens.count(name, req.model)
        if tool:
            fn = {"name": name, "arguments": args}
            call = {"id": "call_" + short_id(rng), "type": "function", "function": fn}
            finish = "tool_calls" if finish == "stop" else finish
            return Choice(None, ids, finish, [call], None, reasoning, overhead=overhead)
        fc = {"name": name, "arguments": args}
        finish = "function_call" if finish == "stop" else finish
        return Choice(None, ids, finish, [], fc, reasoning, overhead=overhead)
    text = answer_text(req.model, req.response_format, _last_text(req.messages), rng)
    content, ids, finish = truncate(text, req.model, limit, req.stop)
    lps = logprob_entries(ids, req.model, rng, req.top_logprobs) if req.logprobs else None
    return Choice(content, ids, finish, reasoning_tokens=reasoning, logprobs=lps)


def usage(prompt_tokens: int, cached: int, choices: list[Choice]) -> dict[str, Any]:
    completion = sum(c.completion_tokens for c in choices)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": sum(c.reasoning_tokens for c in choices),
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def message(choice: Choice) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": choice.content, "refusal": None, "annotations": []}
    if choice.tool_calls:
        msg["tool_calls"] = choice.tool_calls
    if choice.function_call:
        msg["function_call"] = choice.function_call
    return msg


async def create(request: Request, cache: PromptCache) -> Response:
    """Handle ``POST /chat/completions``."""
    req = parse(request, await params.read_json(request))
    prompt_tokens = tokens.count_messages(req.messages, req.model) + extra_prompt_tokens(req)
    cached = cache.cached_tokens(req.model, req.messages, prompt_tokens)
    choices = [generate(req, i) for i in range(req.n)]
    base = {
        "id": "chatcmpl-" + short_id(length=29),
        "object": "chat.completion",
        "created": params.now(request),
        "model": req.model,
        "service_tier": "default",
        "system_fingerprint": fingerprint(req.model),
    }
    if req.stream:
        return EventStream(
            _chunks(req, base, choices, usage(prompt_tokens, cached, choices)),
            params.stream_cut_after(request),
        )
    rendered = []
    for i, c in enumerate(choices):
        rendered.append(
            {
                "index": i,
                "message": message(c),
                "logprobs": {"content": c.logprobs, "refusal": None} if c.logprobs is not None else None,
                "finish_reason": c.finish_reason,
            }
        )
    base["choices"] = rendered
    base["usage"] = usage(prompt_tokens, cached, choices)
    return params.json_response(base)


def _chunks(
    req: ChatRequest, base: dict[str, Any], choices: list[Choice], total: dict[str, Any]
) -> list[bytes]:
    """The SSE events of a streamed answer; their deltas concatenate to the non-streamed message."""
    base = dict(base, object="chat.completion.chunk")
    head = b"data: " + params.dumps(base)[:-1] + b',"choices":['
    tail = (b'],"usage":null}' if req.include_usage else b"]}") + b"\n\n"
    events = []

    def emit(index: int, delta: dict[str, Any], finish: str | None = None, lps: Any = None) -> None:
        choice = {"index": index, "delta": delta, "logprobs": lps, "finish_reason": finish}
        events.append(head + params.dumps(choice) + tail)

    for i, c in enumerate(choices):
        if c.tool_calls or c.function_call:
            emit(i, {"role": "assistant", "content": None, "refusal": None})
            if c.tool_calls:
                call = c.tool_calls[0]
                fn = call["function"]
                opener = {"name": fn["name"], "arguments": ""}
                first = {"index": 0, "id": call["id"], "type": "function", "function": opener}
                emit(i, {"tool_calls": [first]})
                for piece in chunk_text(fn["arguments"], req.model):
                    emit(i, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            else:
                fc = c.function_call or {}
                emit(i, {"function_call": {"name": fc["name"], "arguments": ""}})
                for piece in chunk_text(fc["arguments"], req.model):
                    emit(i, {"function_call": {"arguments": piece}})
        else:
            emit(i, {"role": "assistant", "content": "", "refusal": None})
            token_pieces = pieces(c.ids, req.model)
            if c.logprobs is not None and len(token_pieces) == len(c.logprobs):
                for piece, lp in zip(token_pieces, c.logprobs, strict=True):
                    emit(i, {"content": piece}, None, {"content": [lp], "refusal": None})
            else:
                # The hot path of a streamed answer: render content chunks from a template rather
                # than one json.dumps per token.
                pre = head + b'{"index":%d,"delta":{"content":' % i
                post = b'},"logprobs":null,"finish_reason":null}' + tail
                events.extend(pre + encode_basestring(p).encode() + post for p in token_pieces)
        emit(i, {}, c.finish_reason)
    if req.include_usage:
        events.append(data_event(dict(base, choices=[], usage=total)))
    events.append(DONE)
    return events
