"""The legacy text endpoints: ``POST /completions`` and openai 0.28's ``POST /edits``."""

from __future__ import annotations

import random
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tunelog.simulator import params, tokens
from tunelog.simulator.chat import fingerprint
from tunelog.simulator.errors import APIError
from tunelog.simulator.streaming import DONE, EventStream, data_event
from tunelog.simulator.textgen import paragraph, pieces, seed_of, short_id, topic_word, truncate

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /completions, which is why legacy answers stop short


def _prompts(body: dict[str, Any], model: str) -> list[tuple[str, int]]:
    """``prompt`` as (text, token count) pairs: a string, strings, a token array or token arrays."""
    prompt = body.get("prompt")
    if prompt is None:
        raise params.missing("prompt")
    if isinstance(prompt, str):
        return [(prompt, tokens.count(prompt, model))]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, int) and not isinstance(p, bool) for p in prompt):
            return [(tokens.decode(prompt, model), len(prompt))]
        out = []
        for i, p in enumerate(prompt):
            if isinstance(p, str):
                out.append((p, tokens.count(p, model)))
            elif isinstance(p, list) and all(isinstance(t, int) for t in p):
                out.append((tokens.decode(p, model), len(p)))
            else:
                raise params.type_error(f"prompt[{i}]", "string", p)
        return out
    raise params.type_error("prompt", "string", prompt)


def _legacy_logprobs(text: str, ids: list[int], model: str, rng: random.Random, top: int) -> dict[str, Any]:
    """Logprobs in the legacy shape: parallel lists of tokens, logprobs, top logprobs and offsets."""
    toks = pieces(ids, model)
    lps, tops, offsets, pos = [], [], [], 0
    for tok in toks:
        lp = -round(rng.random() ** 3 * 2.5, 6)
        lps.append(lp)
        tops.append({tok: lp} if top else {})
        offsets.append(pos)
        pos += len(tok)
    return {"tokens": toks, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets}


async def create(request: Request) -> Response:
    """Handle ``POST /completions``."""
    body = await params.read_json(request)
    model = params.model_of(request, body)
    prompts = _prompts(body, model)
    n = params.get_int(body, "n", 1, 1, 128) or 1
    max_tokens = params.get_int(body, "max_tokens", DEFAULT_MAX_TOKENS, 0)
    echo = bool(params.get(body, "echo", "boolean", False))
    logprobs = params.get_int(body, "logprobs", None, 0, 5)
    stream = bool(params.get(body, "stream", "boolean", False))
    options = params.get(body, "stream_options", "object", {})
    stop = body.get("stop")
    stop = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else None
    params.get_number(body, "temperature", 1.0, 0, 2)
    seed = seed_of(model, body.get("seed"), body.get("suffix"))
    choices: list[dict[str, Any]] = []
    streamed: list[list[str]] = []  # per choice, the pieces a stream sends
    completion_tokens = 0
    for p_index, (prompt, _) in enumerate(prompts):
        for j in range(n):
            rng = random.Random((seed ^ seed_of(prompt)) + j)
            text, ids, finish = truncate(paragraph(rng, topic_word(prompt, rng)), model, max_tokens, stop)
            completion_tokens += len(ids)
            full = prompt + text if echo else text
            lp = None
            if logprobs is not None:
                lp_ids = tokens.encode(full, model) if echo else ids
                lp = _legacy_logprobs(full, lp_ids, model, rng, logprobs)
            choices.append({"text": full, "index": p_index * n + j, "logprobs": lp, "finish_reason": finish})
            streamed.append(([prompt] if echo and prompt else []) + pieces(ids, model))
    prompt_tokens = sum(count for _, count in prompts)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    base: dict[str, Any] = {
        "id": "cmpl-" + short_id(length=29),
        "object": "text_completion",
        "created": params.now(request),
        "model": model,
        "system_fingerprint": fingerprint(model),
    }
    if stream:
        include_usage = bool(options.get("include_usage"))
        events = []
        for c, parts in zip(choices, streamed, strict=True):
            for piece in parts:
                chunk = {"text": piece, "index": c["index"], "logprobs": None, "finish_reason": None}
                events.append(data_event(dict(base, choices=[chunk], **_null_usage(include_usage))))
            last = {"text": "", "index": c["index"], "logprobs": None, "finish_reason": c["finish_reason"]}
            events.append(data_event(dict(base, choices=[last], **_null_usage(include_usage))))
        if include_usage:
            events.append(data_event(dict(base, choices=[], usage=usage)))
        events.append(DONE)
        return EventStream(events, params.stream_cut_after(request))
    return params.json_response(dict(base, choices=choices, usage=usage))


def _null_usage(include: bool) -> dict[str, Any]:
    return {"usage": None} if include else {}


async def edit(request: Request) -> Response:
    """Handle the legacy ``POST /edits`` (openai 0.28's ``Edit.create``).

    The "edit" tidies the input (sentence case, a final full stop) and, when there is no input, writes
    a sentence, so the answer is a plausible function of instruction and input.
    """
    body = await params.read_json(request)
    model = params.model_of(request, body)
    instruction = params.get(body, "instruction", "string", required=True)
    if not instruction:
        raise APIError(400, "'' is too short - 'instruction'", param="instruction")
    text_in = params.get(body, "input", "string", "")
    n = params.get_int(body, "n", 1, 1, 20) or 1
    seed = seed_of(model, instruction, text_in, body.get("temperature"))
    choices = []
    completion_tokens = 0
    for i in range(n):
        rng = random.Random(seed + i)
        stripped = text_in.strip()
        if stripped:
            out = stripped[0].upper() + stripped[1:]
            if out[-1] not in ".!?":
                out += "."
            if i:
                out += " " + paragraph(rng, topic_word(instruction, rng), 1)
        else:
            out = paragraph(rng, topic_word(instruction, rng), 1)
        out += "\n"
        completion_tokens += tokens.count(out, model)
        choices.append({"text": out, "index": i})
    prompt_tokens = tokens.count(instruction, model) + tokens.count(text_in, model)
    return params.json_response(
        {
            "object": "edit",
            "created": params.now(request),
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )
