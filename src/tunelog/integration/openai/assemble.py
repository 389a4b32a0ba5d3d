"""What a call returned, as a span's outputs and usage: from a response body or from stream chunks.

Chunks are read attribute by attribute (no model dumps: a stream has many of them), and work the same
for the SDK's pydantic objects and openai 0.28's dicts. Runs on the writer thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_BIG_STRINGS = ("b64_json",)


def _g(obj: Any, name: str) -> Any:
    if type(obj) is dict or isinstance(obj, Mapping):  # a dumped response skips the ABC check's cost
        return obj.get(name)
    return getattr(obj, name, None)


def _attr(obj: Any, name: str) -> Any:
    return getattr(obj, name, None)


def _item(obj: Any, name: str) -> Any:
    return obj.get(name) if obj is not None else None


@dataclass
class Assembled:
    outputs: Any
    usage: dict[str, Any] | None
    model: str | None
    text: str = ""


# -- usage ------------------------------------------------------------------------------------------


def normalise_usage(u: Any) -> dict[str, Any] | None:
    """Usage in one shape for every API: prompt/completion/total, cached and reasoning tokens."""
    if u is None:
        return None
    prompt = _g(u, "prompt_tokens")
    if prompt is None:
        prompt = _g(u, "input_tokens")
    completion = _g(u, "completion_tokens")
    if completion is None:
        completion = _g(u, "output_tokens")
    total = _g(u, "total_tokens")
    out: dict[str, Any] = {
        "prompt_tokens": int(prompt or 0),
        "completion_tokens": int(completion or 0),
        "total_tokens": int(total if total is not None else (prompt or 0) + (completion or 0)),
    }
    pd = _g(u, "prompt_tokens_details") or _g(u, "input_tokens_details")
    cached = _g(pd, "cached_tokens") if pd is not None else None
    if cached:
        out["cached_tokens"] = int(cached)
    cd = _g(u, "completion_tokens_details") or _g(u, "output_tokens_details")
    reasoning = _g(cd, "reasoning_tokens") if cd is not None else None
    if reasoning:
        out["reasoning_tokens"] = int(reasoning)
    return out


# -- whole responses --------------------------------------------------------------------------------

_DROP = frozenset({"usage", "model", "object", "created", "created_at"})


def from_response(api: str, body: Any) -> tuple[Any, dict[str, Any] | None, str | None]:
    """Outputs, usage and model of a non-streamed response body (a dict)."""
    if type(body) is not dict and not isinstance(body, Mapping):
        return body, None, None
    usage = normalise_usage(body.get("usage"))
    model = body.get("model")
    model = model if type(model) is str else None
    if api == "embeddings":
        from tunelog.integration.openai.spans_openai import embedding_dimensions

        data = body.get("data") or []
        dims = [embedding_dimensions(_g(d, "embedding")) for d in data]
        return {"count": len(data), "dimensions": dims[0] if len(set(dims)) == 1 else dims}, usage, model
    out = {k: v for k, v in body.items() if k not in _DROP}
    if api == "images":
        out["data"] = [
            {
                k: (f"<{len(v)} chars>" if k in _BIG_STRINGS and isinstance(v, str) else v)
                for k, v in d.items()
            }
            for d in out.get("data") or []
            if isinstance(d, Mapping)
        ]
    return out, usage, model


# -- streams ----------------------------------------------------------------------------------------


def from_chunks(api: str, chunks: list[Any]) -> Assembled:
    if api == "responses":
        return _responses_events(chunks)
    return _choice_chunks(chunks, chat=api == "chat")


def _plain_chat_chunks(chunks: list[Any]) -> Assembled | None:
    """The common stream, fast: SDK chunk objects, one choice, text deltas only. None otherwise."""
    parts: list[str] = []
    append = parts.append
    usage = model = rid = finish = role = None
    seen = False
    try:
        for ch in chunks:
            if model is None:
                model, rid = ch.model, ch.id
            if ch.usage is not None:
                usage = ch.usage
            for c in ch.choices:
                seen = True
                d = c.delta
                if c.index or d.tool_calls or d.function_call or d.refusal:
                    return None
                if d.content:
                    append(d.content)
                if d.role:
                    role = d.role
                if c.finish_reason is not None:
                    finish = c.finish_reason
    except AttributeError:  # dicts (openai 0.28) or an SDK shape this path does not know
        return None
    text = "".join(parts)
    msg = {"role": role or "assistant", "content": text or None}
    choices = [{"index": 0, "message": msg, "finish_reason": finish}] if seen else []
    return Assembled({"id": rid, "choices": choices}, normalise_usage(usage), model, text)


def _plain_chat_dicts(chunks: list[Any]) -> Assembled | None:
    """:func:`_plain_chat_chunks` for the parsed events autolog keeps of a stream (plain dicts)."""
    parts: list[str] = []
    append = parts.append
    usage = finish = role = None
    seen = False
    first = chunks[0]
    model, rid = first.get("model"), first.get("id")
    for ch in chunks:
        if type(ch) is not dict:
            return None
        u = ch.get("usage")
        if u is not None:
            usage = u
        for c in ch.get("choices") or ():
            seen = True
            d = c.get("delta")
            if d is None or c.get("index"):
                return None  # several choices: the general path
            if not d.keys() <= _TEXT_DELTA and (
                d.get("tool_calls") or d.get("function_call") or d.get("refusal")
            ):
                return None  # tool calls, refusals: the general path
            t = d.get("content")
            if t:
                append(t)
                r = d.get("role")
                if r:
                    role = r
            elif d.get("role"):
                role = d["role"]
            f = c.get("finish_reason")
            if f is not None:
                finish = f
    text = "".join(parts)
    msg = {"role": role or "assistant", "content": text or None}
    choices = [{"index": 0, "message": msg, "finish_reason": finish}] if seen else []
    return Assembled({"id": rid, "choices": choices}, normalise_usage(usage), model, text)


_TEXT_DELTA = frozenset(("content", "role"))


def _choice_chunks(chunks: list[Any], chat: bool) -> Assembled:
    if chat and chunks:
        fast = _plain_chat_dicts(chunks) if type(chunks[0]) is dict else _plain_chat_chunks(chunks)
        if fast is not None:
            return fast
    # One accessor for the whole stream (a type check per field read costs more than the read).
    _g = _item if chunks and isinstance(chunks[0], Mapping) else _attr
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    model = None
    rid = None
    texts: list[str] = []
    for ch in chunks:
        if model is None:
            model = _g(ch, "model")
            rid = _g(ch, "id")
        u = _g(ch, "usage")
        if u is not None:
            usage = u
        for c in _g(ch, "choices") or ():
            idx = _g(c, "index") or 0
            slot = choices.get(idx)
            if slot is None:
                slot = choices[idx] = {"index": idx, "content": [], "tool_calls": {}, "finish_reason": None}
            if _g(c, "finish_reason") is not None:
                slot["finish_reason"] = _g(c, "finish_reason")
            if not chat:
                t = _g(c, "text")
                if t:
                    slot["content"].append(t)
                continue
            d = _g(c, "delta")
            if d is None:
                continue
            t = _g(d, "content")
            if t:
                slot["content"].append(t)
            role = _g(d, "role")
            if role:
                slot["role"] = role
            r = _g(d, "refusal")
            if r:
                slot.setdefault("refusal", []).append(r)
            for tc in _g(d, "tool_calls") or ():
                i = _g(tc, "index") or 0
                acc = slot["tool_calls"].get(i)
                if acc is None:
                    acc = slot["tool_calls"][i] = {
                        "id": None,
                        "type": "function",
                        "name": "",
                        "arguments": [],
                    }
                if _g(tc, "id"):
                    acc["id"] = _g(tc, "id")
                fn = _g(tc, "function")
                if fn is not None:
                    if _g(fn, "name"):
                        acc["name"] += _g(fn, "name")
                    if _g(fn, "arguments"):
                        acc["arguments"].append(_g(fn, "arguments"))
            fc = _g(d, "function_call")
            if fc is not None:
                acc = slot.setdefault("function_call", {"name": "", "arguments": []})
                acc["name"] += _g(fc, "name") or ""
                if _g(fc, "arguments"):
                    acc["arguments"].append(_g(fc, "arguments"))
    out_choices = []
    for idx in sorted(choices):
        slot = choices[idx]
        text = "".join(slot["content"])
        texts.append(text)
        if not chat:
            out_choices.append({"index": idx, "text": text, "finish_reason": slot["finish_reason"]})
            continue
        msg: dict[str, Any] = {"role": slot.get("role", "assistant"), "content": text or None}
        if "refusal" in slot:
            msg["refusal"] = "".join(slot["refusal"])
        if slot["tool_calls"]:
            msg["tool_calls"] = [
                {
                    "id": tc["id"],
                    "type": tc["type"],
                    "function": {"name": tc["name"], "arguments": "".join(tc["arguments"])},
                }
                for _, tc in sorted(slot["tool_calls"].items())
            ]
            texts.extend(t["function"]["arguments"] for t in msg["tool_calls"])
        if "function_call" in slot:
            fc = slot["function_call"]
            msg["function_call"] = {"name": fc["name"], "arguments": "".join(fc["arguments"])}
        out_choices.append({"index": idx, "message": msg, "finish_reason": slot["finish_reason"]})
    outputs = {"id": rid, "choices": out_choices}
    return Assembled(outputs, normalise_usage(usage), model, "".join(texts))


def _responses_events(events: list[Any]) -> Assembled:
    final = None
    deltas: list[str] = []
    for ev in events:
        t = _g(ev, "type")
        if t == "response.output_text.delta":
            deltas.append(_g(ev, "delta") or "")
        elif t in ("response.completed", "response.incomplete", "response.failed"):
            final = _g(ev, "response")
    if final is not None:
        dump = getattr(final, "model_dump", None)
        body = dump(mode="json", exclude_unset=True, warnings=False) if dump is not None else final
        outputs, usage, model = from_response("responses", body)
        return Assembled(outputs, usage, model, "".join(deltas))
    model = None
    for ev in events:
        r = _g(ev, "response")
        if r is not None and _g(r, "model"):
            model = _g(r, "model")
            break
    return Assembled({"output_text": "".join(deltas)}, None, model, "".join(deltas))


# -- estimates and redaction ------------------------------------------------------------------------


def estimate_usage(
    api: str, kwargs: Mapping[str, Any], asm: Assembled, model: str | None
) -> dict[str, Any] | None:
    """Tokens counted locally when the server did not report usage (marked ``estimated``)."""
    from tunelog.integration.openai import tokens

    m = asm.model or model or "gpt-4o-mini"
    try:
        if api == "chat":
            prompt = tokens.count_messages(kwargs.get("messages"), m)
        else:
            p = kwargs.get("prompt") if api == "completions" else kwargs.get("input")
            prompt = tokens.count(p if isinstance(p, str) else str(p or ""), m)
        completion = tokens.count(asm.text, m)
    except Exception:  # an unknown encoding: no estimate rather than a wrong one
        return None
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "estimated": True,
    }


def strip_content(outputs: Any) -> Any:
    """Outputs without generated text or tool arguments (``capture_content=False``)."""
    if isinstance(outputs, Mapping):
        return {
            k: (
                "…"
                if k in ("content", "text", "arguments", "output_text", "refusal") and v
                else strip_content(v)
            )
            for k, v in outputs.items()
        }
    if isinstance(outputs, list):
        return [strip_content(v) for v in outputs]
    return outputs
