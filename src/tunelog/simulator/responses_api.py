"""The Responses API: ``POST /responses`` (streamed or not), ``GET`` and ``DELETE /responses/{id}``."""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tunelog.simulator import params, tokens
from tunelog.simulator.chat import answer_text, compact, is_reasoning
from tunelog.simulator.errors import APIError
from tunelog.simulator.streaming import EventStream, named_event
from tunelog.simulator.textgen import chunk_text, from_schema, pieces, seed_of, truncate

MIN_OUTPUT_TOKENS = 16  # OpenAI rejects smaller max_output_tokens


@dataclass
class Stored:
    response: dict[str, Any]
    messages: list[dict[str, Any]]  # the conversation so far, for previous_response_id


class ResponseStore:
    """Responses kept for ``GET``, ``DELETE`` and ``previous_response_id`` (bounded, newest kept)."""

    def __init__(self, capacity: int = 2000) -> None:
        self._items: OrderedDict[str, Stored] = OrderedDict()
        self._capacity = capacity

    def put(self, item: Stored) -> None:
        self._items[item.response["id"]] = item
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def get(self, response_id: str, param: str | None = None) -> Stored:
        try:
            return self._items[response_id]
        except KeyError:
            raise APIError(404, f"Response with id '{response_id}' not found.", param=param) from None

    def delete(self, response_id: str) -> None:
        self.get(response_id)
        del self._items[response_id]


def input_messages(instructions: str | None, value: Any) -> list[dict[str, Any]]:
    """The request's input as chat messages, which is how its tokens are counted.

    Instructions become a leading developer message; function call outputs count as tool messages.
    """
    out: list[dict[str, Any]] = []
    if instructions:
        out.append({"role": "developer", "content": instructions})
    if isinstance(value, str):
        out.append({"role": "user", "content": value})
        return out
    for i, item in enumerate(value or []):
        if not isinstance(item, dict):
            raise params.type_error(f"input[{i}]", "object", item)
        kind = item.get("type", "message")
        if kind == "message":
            if "role" not in item:
                raise params.missing(f"input[{i}].role")
            content = item.get("content")
            if not isinstance(content, (str, list)):
                raise params.missing(f"input[{i}].content")
            out.append({"role": item["role"], "content": content})
        elif kind == "function_call_output":
            output = item.get("output")
            out.append({"role": "tool", "content": output if isinstance(output, str) else compact(output)})
        elif kind == "function_call":
            out.append({"role": "assistant", "content": str(item.get("arguments", ""))})
    return out


def _last_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        c = m.get("content")
        if isinstance(c, str):
            return c
        if isinstance(c, list):
            return " ".join(str(p.get("text", "")) for p in c if isinstance(p, dict))
    return ""


def _new_id(prefix: str, rng: random.Random | None = None) -> str:
    r = rng or random.SystemRandom()
    return prefix + format(r.getrandbits(200), "050x")


def _pick_tool(tools: list[dict[str, Any]], choice: Any, last_is_output: bool, rng: random.Random) -> Any:
    functions = [t for t in tools if t.get("type") == "function"]
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict) and choice.get("type") == "function":
        for t in functions:
            if t.get("name") == choice.get("name"):
                return t
        raise APIError(
            400, f"Tool choice '{choice.get('name')}' not found in 'tools' parameter.", param="tool_choice"
        )
    if choice == "auto" and last_is_output:
        return None  # a tool result was just handed back: answer it, so agent loops end
    return rng.choice(functions)


async def create(request: Request, store: ResponseStore) -> Response:
    """Handle ``POST /responses``."""
    body = await params.read_json(request)
    model = params.model_of(request, body)
    instructions = params.get(body, "instructions", "string", None)
    value = body.get("input")
    previous = params.get(body, "previous_response_id", "string", None)
    if value is None and previous is None:
        raise params.missing("input")
    if value is not None and not isinstance(value, (str, list)):
        raise params.type_error("input", "string", value)
    max_output = params.get_int(body, "max_output_tokens", None, MIN_OUTPUT_TOKENS)
    temperature = params.get_number(body, "temperature", 1.0, 0, 2)
    top_p = params.get_number(body, "top_p", 1.0, 0, 1)
    stream = bool(params.get(body, "stream", "boolean", False))
    tools = params.get(body, "tools", "array", [])
    for i, t in enumerate(tools):
        if not isinstance(t, dict) or "type" not in t:
            raise params.missing(f"tools[{i}].type")
        if t["type"] == "function" and not t.get("name"):
            raise params.missing(f"tools[{i}].name")
    tool_choice = body.get("tool_choice", "auto")
    text_cfg = params.get(body, "text", "object", {}) or {}
    fmt = text_cfg.get("format") or {"type": "text"}
    if fmt.get("type") == "json_schema" and not isinstance(fmt.get("schema"), dict):
        raise params.missing("text.format.schema")
    messages = input_messages(instructions, value)
    if previous is not None:
        before = store.get(previous, param="previous_response_id")
        messages = before.messages + messages
    rng = random.Random(seed_of(model, messages, tools, tool_choice, fmt, body.get("seed")))
    input_tokens = tokens.count_messages(messages, model)
    if tools:
        input_tokens += tokens.count(compact(tools), model)
    if fmt.get("type") == "json_schema":
        input_tokens += tokens.count(compact(fmt), model)

    reasoning_tokens = rng.randint(1, 8) * 64 if is_reasoning(model) else 0
    budget = None if max_output is None else max(0, max_output - reasoning_tokens)
    output: list[dict[str, Any]] = []
    if reasoning_tokens:
        output.append({"id": _new_id("rs_", rng), "type": "reasoning", "summary": []})
    last_is_output = bool(
        isinstance(value, list)
        and value
        and isinstance(value[-1], dict)
        and value[-1].get("type") == "function_call_output"
    )
    tool = _pick_tool(tools, tool_choice, last_is_output, rng)
    if tool is not None:
        args, ids, finish = truncate(
            compact(from_schema(tool.get("parameters") or {"type": "object"}, rng)), model, budget
        )
        output_tokens = len(ids) + tokens.count(tool["name"], model) + 4
        output.append(
            {
                "id": _new_id("fc_", rng),
                "type": "function_call",
                "status": "completed",
                "arguments": args,
                "call_id": "call_" + _new_id("", rng)[:24],
                "name": tool["name"],
            }
        )
        said = args
    else:
        chat_format = (
            {"type": "json_schema", "json_schema": {"schema": fmt["schema"]}}
            if fmt.get("type") == "json_schema"
            else fmt
        )
        text, ids, finish = truncate(
            answer_text(model, chat_format, _last_text(messages), rng), model, budget
        )
        output_tokens = len(ids)
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
        status = "completed" if finish == "stop" else "incomplete"
        output.append(
            {
                "id": _new_id("msg_", rng),
                "type": "message",
                "status": status,
                "content": [part],
                "role": "assistant",
            }
        )
        said = text
    incomplete = finish == "length"
    cached = 0
    response = {
        "id": _new_id("resp_"),
        "object": "response",
        "created_at": params.now(request),
        "status": "incomplete" if incomplete else "completed",
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": instructions,
        "max_output_tokens": max_output,
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": bool(body.get("parallel_tool_calls", True)),
        "previous_response_id": previous,
        "prompt_cache_key": None,
        "reasoning": {"effort": "medium" if reasoning_tokens else None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": bool(body.get("store", True)),
        "temperature": temperature,
        "text": {"format": fmt, "verbosity": "medium"},
        "tool_choice": tool_choice,
        "tools": [dict(t, strict=t.get("strict", True)) if t["type"] == "function" else t for t in tools],
        "top_logprobs": 0,
        "top_p": top_p,
        "truncation": "disabled",
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
            "output_tokens": output_tokens + reasoning_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens + reasoning_tokens,
        },
        "metadata": body.get("metadata") or {},
    }
    if isinstance(body.get("user"), str):
        response["user"] = body["user"]
    if response["store"]:
        store.put(Stored(response, [*messages, {"role": "assistant", "content": said}]))
    if stream:
        return EventStream(_events(response, model), params.stream_cut_after(request))
    return params.json_response(response)


def _events(response: dict[str, Any], model: str) -> list[bytes]:
    """The streaming event sequence whose deltas rebuild ``response`` exactly."""
    events: list[bytes] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append(named_event(kind, {"type": kind, "sequence_number": len(events), **fields}))

    # Usage is left out until the end (OpenAI sends null, which its own schema does not allow).
    start = dict(response, status="in_progress", output=[], incomplete_details=None)
    del start["usage"]
    emit("response.created", response=start)
    emit("response.in_progress", response=start)
    for index, item in enumerate(response["output"]):
        ident = item["id"]
        if item["type"] == "message":
            emit(
                "response.output_item.added",
                output_index=index,
                item=dict(item, status="in_progress", content=[]),
            )
            part = item["content"][0]
            empty = dict(part, text="")
            emit(
                "response.content_part.added", item_id=ident, output_index=index, content_index=0, part=empty
            )
            ids = tokens.encode(part["text"], model) if part["text"] else []
            for piece in pieces(ids, model):
                emit(
                    "response.output_text.delta",
                    item_id=ident,
                    output_index=index,
                    content_index=0,
                    delta=piece,
                    logprobs=[],
                )
            emit(
                "response.output_text.done",
                item_id=ident,
                output_index=index,
                content_index=0,
                text=part["text"],
                logprobs=[],
            )
            emit("response.content_part.done", item_id=ident, output_index=index, content_index=0, part=part)
        elif item["type"] == "function_call":
            emit(
                "response.output_item.added",
                output_index=index,
                item=dict(item, status="in_progress", arguments=""),
            )
            for piece in chunk_text(item["arguments"], model):
                emit("response.function_call_arguments.delta", item_id=ident, output_index=index, delta=piece)
            emit(
                "response.function_call_arguments.done",
                item_id=ident,
                output_index=index,
                name=item["name"],
                arguments=item["arguments"],
            )
        else:
            emit("response.output_item.added", output_index=index, item=item)
        emit("response.output_item.done", output_index=index, item=item)
    final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    emit(final, response=response)
    return events


async def retrieve(request: Request, store: ResponseStore) -> Response:
    """Handle ``GET /responses/{response_id}``."""
    return params.json_response(store.get(request.path_params["response_id"]).response)


async def delete(request: Request, store: ResponseStore) -> Response:
    """Handle ``DELETE /responses/{response_id}``."""
    response_id = request.path_params["response_id"]
    store.delete(response_id)
    return params.json_response({"id": response_id, "object": "response.deleted", "deleted": True})
