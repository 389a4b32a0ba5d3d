"""Recognising conversations in stored values, for rendering them as chats.

A dataset row (``{"messages": [...]}``), a table cell holding a message list, a chat completion
request (``inputs``) or response (``outputs``), a Responses API call: all become a list of
:class:`Message` with plain text and tool calls. Nothing here produces markup; templates escape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


@dataclass
class ToolCall:
    name: str
    arguments: str
    id: str | None = None


@dataclass
class Message:
    role: str
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    name: str | None = None
    weight: Any = None


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for p in content:
            if isinstance(p, Mapping):
                kind = p.get("type")
                if "text" in p and isinstance(p["text"], str):
                    parts.append(p["text"])
                elif kind in ("image_url", "input_image"):
                    parts.append("[image]")
                elif kind in ("input_audio", "audio"):
                    parts.append("[audio]")
                elif kind in ("file", "input_file"):
                    parts.append("[file]")
                else:
                    parts.append(json.dumps(p, ensure_ascii=False))
            else:
                parts.append(str(p))
        return "\n".join(parts)
    return json.dumps(content, ensure_ascii=False, default=repr)


def _pretty_args(args: Any) -> str:
    if isinstance(args, str):
        try:
            return json.dumps(json.loads(args), indent=2, ensure_ascii=False)
        except ValueError:
            return args
    return json.dumps(args, indent=2, ensure_ascii=False, default=repr)


def _message(m: Mapping[str, Any]) -> Message:
    calls = []
    for c in m.get("tool_calls") or ():
        if isinstance(c, Mapping):
            fn: Mapping[str, Any] = c["function"] if isinstance(c.get("function"), Mapping) else c
            calls.append(
                ToolCall(str(fn.get("name", "?")), _pretty_args(fn.get("arguments", "")), c.get("id"))
            )
    fc = m.get("function_call")
    if isinstance(fc, Mapping):
        calls.append(ToolCall(str(fc.get("name", "?")), _pretty_args(fc.get("arguments", ""))))
    text = _text(m.get("content"))
    if not text and m.get("refusal"):
        text = f"[refused] {m['refusal']}"
    return Message(str(m.get("role", "?")), text, calls, m.get("name"), m.get("weight"))


def is_message_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, Mapping) and m.get("role") in ROLES for m in value)
    )


def as_chat(value: Any) -> list[Message] | None:
    """The conversation in ``value`` (a message list, or an object with ``messages``, possibly as
    JSON text, as a raw dataset line is), else None."""
    if isinstance(value, str) and value[:1] in "[{" and len(value) < 4_000_000 and '"role"' in value:
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, Mapping) and is_message_list(value.get("messages")):
        value = value["messages"]
    if is_message_list(value):
        return [_message(m) for m in value]
    return None


def request_messages(inputs: Any) -> list[Message]:
    """The prompt of a recorded call: chat ``messages``, Responses ``input``/``instructions``, or a
    completions ``prompt``."""
    if not isinstance(inputs, Mapping):
        return [] if inputs is None else [Message("user", _text(inputs))]
    out: list[Message] = []
    if isinstance(inputs.get("instructions"), str):
        out.append(Message("system", inputs["instructions"]))
    msgs: Any = inputs.get("messages")
    if is_message_list(msgs):
        out += [_message(m) for m in msgs]
    inp = inputs.get("input")
    if isinstance(inp, str):
        out.append(Message("user", inp))
    elif isinstance(inp, list):
        for item in inp:
            if isinstance(item, Mapping) and item.get("role") in ROLES:
                out.append(_message(item))
            elif isinstance(item, Mapping) and item.get("type") == "function_call_output":
                out.append(Message("tool", _text(item.get("output"))))
    prompt = inputs.get("prompt")
    if prompt is not None and not out:
        out.append(Message("user", _text(prompt)))
    return out


def response_messages(outputs: Any) -> list[Message]:
    """The answer of a recorded call: chat ``choices``, Responses ``output``, completions ``text``."""
    if not isinstance(outputs, Mapping):
        return [] if outputs is None else [Message("assistant", _text(outputs))]
    out: list[Message] = []
    for choice in outputs.get("choices") or ():
        if not isinstance(choice, Mapping):
            continue
        if isinstance(choice.get("message"), Mapping):
            out.append(_message(choice["message"]))
        elif "text" in choice:
            out.append(Message("assistant", _text(choice.get("text"))))
    for item in outputs.get("output") or ():
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "message":
            out.append(Message(str(item.get("role", "assistant")), _text(item.get("content"))))
        elif item.get("type") == "function_call":
            call = ToolCall(str(item.get("name", "?")), _pretty_args(item.get("arguments", "")))
            out.append(Message("assistant", "", [call]))
    if not out and isinstance(outputs.get("output_text"), str):
        out.append(Message("assistant", outputs["output_text"]))
    if not out and isinstance(outputs.get("message"), Mapping):
        out.append(_message(outputs["message"]))
    return out


def preview(messages: Sequence[Message], limit: int = 120) -> str:
    """One line: the last message's text (or its first tool call)."""
    for m in reversed(messages):
        text = m.text or (f"{m.tool_calls[0].name}(…)" if m.tool_calls else "")
        if text:
            line = " ".join(text.split())
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def params(inputs: Any) -> dict[str, Any]:
    """The model parameters of a request: everything but the messages, input and tools."""
    if not isinstance(inputs, Mapping):
        return {}
    skip = {"messages", "input", "tools", "prompt", "instructions"}
    return {k: v for k, v in inputs.items() if k not in skip}
