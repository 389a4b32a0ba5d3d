"""Turning a recorded OpenAI call into a span (on the thread that builds it: see ``recorder``).

Reads the request's keyword arguments and the SDK's response (a pydantic model, a raw HTTP response,
streamed chunks, or openai 0.28's dicts), and produces the :class:`~tunelog.store.base.SpanRecord`,
the call's history row and the run's running totals. API keys and auth headers are never read.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tunelog import tracing
from tunelog.integration.openai import assemble, call_records
from tunelog.store.base import SpanRecord
from tunelog.store.json_columns import encoded

if TYPE_CHECKING:
    from tunelog.integration.openai.recorder import Call

_SENSITIVE = ("authorization", "api-key", "api_key", "cookie", "token", "secret", "password")
_CONTENT_PARAMS = ("messages", "input", "prompt", "instructions")
_MAX_ERROR = 2000


def build_span(call: Call, row: dict[str, Any]) -> SpanRecord | None:
    rec = call.recorder
    ep = call.endpoint
    opts = rec.options
    # Request values go to the store as they are (its JSON encoder dumps models and names types);
    # a redact hook is handed JSON values, as the span's readers get them.
    params = request_params(call.kwargs, opts.capture_content, raw=opts.redact is None)
    requested = call.kwargs.get("model")
    requested = requested if isinstance(requested, str) else None
    attributes: dict[str, Any] = {"endpoint": ep.name, "api": ep.api}
    body, status_code, request_id = _response_body(call)
    outputs: Any = None
    usage: dict[str, Any] | None = None
    returned_model: str | None = None
    if call.chunks or (call.kwargs.get("stream") and call.status != "error"):
        asm = assemble.from_chunks(ep.api, _parsed(call.chunks))
        outputs, usage, returned_model = asm.outputs, asm.usage, asm.model
        attributes["stream"] = True
        attributes["chunks"] = len(call.chunks)
        if call.t_first:
            attributes["ttft_ms"] = (call.t_first - call.t0) / 1e6
        if usage is None and call.status != "error":
            usage = assemble.estimate_usage(ep.api, call.kwargs, asm, requested)
        if call.injected_usage:
            attributes["usage_requested_by_tunelog"] = True
        if getattr(call.result, "http_response", None) is not None:
            attributes["raw_stream"] = True  # handed over unread: only the prompt's tokens are counted
    elif body is not None:
        outputs, usage, returned_model = assemble.from_response(ep.api, body)
    if isinstance(body, Mapping) and returned_model is None:
        m = body.get("model")
        returned_model = m if isinstance(m, str) else None
    client = getattr(call.resource, "_client", None)
    deployment = None
    if client is not None and getattr(client, "_api_version", None) is not None:
        attributes["azure"] = True
        attributes["api_version"] = str(client._api_version)
        deployment = requested
    priced_model = opts.azure_deployments.get(deployment or "") or returned_model or requested
    cost = None
    if usage is not None:
        cost = rec.prices.cost(
            priced_model,
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            int(usage.get("cached_tokens") or 0),
        )
    if request_id:
        attributes["request_id"] = request_id
    if status_code is not None:
        attributes["http_status"] = status_code
    if returned_model:
        attributes["response_model"] = returned_model
    if deployment:
        attributes["azure_deployment"] = deployment
    error = _error(call.error) if call.error is not None else None
    if not opts.capture_content:
        outputs = assemble.strip_content(outputs)
    parent = call.parent
    redact = opts.redact
    span = SpanRecord(
        span_id=call.span_id or tracing.new_span_id(),
        trace_id=parent.trace_id if parent is not None else call.trace_id or tracing.new_trace_id(),
        parent_id=parent.span_id if parent is not None else None,
        run=call.run.key,
        name=f"openai.{ep.name}",
        kind=ep.kind,
        start_time=tracing.wall(call.t0),
        end_time=tracing.wall(call.t1),
        status=call.status,
        model=returned_model or requested,
        # Encoded now, not at the commit: a request and a response held as dicts and lists until
        # then would make the garbage collector's full collections frequent (see json_columns).
        inputs=params if redact is not None else encoded(params),
        outputs=outputs if redact is not None else encoded(outputs),
        attributes=attributes,
        usage=usage,
        cost_usd=cost,
        error=error,
    )
    _account(call, row, usage, cost, attributes)
    if redact is None:
        return span
    kept = redact(span)  # handed plain values, as the span's readers get them
    if kept is None:
        return None
    return replace(kept, inputs=encoded(kept.inputs), outputs=encoded(kept.outputs))


_PLAIN = (str, int, float, bool, type(None))


def _parsed(chunks: list[Any]) -> list[Any]:
    """Stream chunks as objects: the events' text that :mod:`streams` keeps (past a stream's first
    events, which it keeps parsed) is parsed here."""
    if not chunks or type(chunks[-1]) is not str:
        return chunks
    from tunelog.integration.openai.streams import parse_event

    return [parse_event(c) if type(c) is str else c for c in chunks]


def request_params(kwargs: Mapping[str, Any], capture_content: bool, raw: bool = False) -> dict[str, Any]:
    """The request's parameters as JSON, without sentinels, secrets, or (optionally) content.

    With ``raw``, values are left as they are for the store's JSON encoder to convert."""
    out: dict[str, Any] = {}
    for k, v in kwargs.items():
        if type(v) in _PLAIN:
            if capture_content or k not in _CONTENT_PARAMS:
                out[k] = v if type(v) is not float else tracing.to_json(v)  # NaN: null
                continue
        elif type(v).__name__ in ("NotGiven", "Omit"):
            continue
        if k == "extra_headers":
            if isinstance(v, Mapping):
                safe = {
                    str(h): x
                    for h, x in v.items()
                    if not any(s in str(h).lower() for s in _SENSITIVE) and "stainless" not in str(h).lower()
                }
                if safe:
                    out[k] = tracing.to_json(safe)
            continue
        if not capture_content and k in _CONTENT_PARAMS:
            if isinstance(v, list):
                out[k] = [{"role": m.get("role")} if isinstance(m, Mapping) else "…" for m in v]
            else:
                out[k] = "…"
            continue
        out[k] = v if raw and type(v) in (list, dict) else tracing.to_json(v)
    return out


def _response_body(call: Call) -> tuple[Any, int | None, str | None]:
    """The response as JSON-able data, its HTTP status and request id (whatever is known)."""
    raw = call.raw
    if raw is not None:  # journalled from the HTTP exchange (call_records): the body as received
        rid = call.request_id
        return call_records.loads(raw[1]), None, rid if type(rid) is str else None
    result = call.result
    if result is None:
        return None, None, _error_request_id(call.error)
    # A parsed response (a pydantic model, which answers a missing attribute slowly: ~3 µs) is never
    # a raw one.
    http = None if hasattr(type(result), "model_dump") else getattr(result, "http_response", None)
    if http is not None:  # with_raw_response: read what the SDK already read; never parse for it
        status = getattr(http, "status_code", None)
        rid = _header(http, "x-request-id")
        if call.kwargs.get("stream"):
            return None, status, rid
        try:
            return json.loads(http.content), status, rid
        except Exception:  # not read yet (streamed) or not JSON: the exchange is still recorded
            return None, status, rid
    stream_response = getattr(result, "response", None) if call.chunks or call.kwargs.get("stream") else None
    if stream_response is not None:
        return None, getattr(stream_response, "status_code", None), _header(stream_response, "x-request-id")
    rid = getattr(result, "_request_id", None)
    if isinstance(result, Mapping):  # openai 0.28 OpenAIObject
        return result, None, rid if isinstance(rid, str) else None
    dump = getattr(result, "model_dump", None)
    if dump is None:
        return None, None, None
    return dump(mode="json", exclude_unset=True, warnings=False), None, rid if isinstance(rid, str) else None


def _header(http: Any, name: str) -> str | None:
    try:
        v = http.headers.get(name)
        return str(v) if v is not None else None
    except Exception:
        return None


def _error_request_id(exc: BaseException | None) -> str | None:
    rid = getattr(exc, "request_id", None)
    if isinstance(rid, str):
        return rid
    resp = getattr(exc, "response", None)
    return _header(resp, "x-request-id") if resp is not None else None


def _error(exc: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)[:_MAX_ERROR]}
    status = getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
    if isinstance(status, int):
        out["status_code"] = status
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        out["code"] = code
    rid = _error_request_id(exc)
    if rid:
        out["request_id"] = rid
    return out


def _account(
    call: Call,
    row: dict[str, Any],
    usage: Mapping[str, Any] | None,
    cost: float | None,
    attrs: Mapping[str, Any],
) -> None:
    """Fill the call's history row and add the call to its run's summary totals."""
    rec = call.recorder
    run = call.run
    totals = rec.totals.get(run.key)
    if totals is None:
        from tunelog.integration.openai.recorder import Totals

        totals = rec.totals[run.key] = Totals()
    totals.calls += 1
    row["call/latency_ms"] = (call.t1 - call.t0) / 1e6
    if call.status == "error":
        totals.errors += 1
        row["call/error"] = 1
    if "ttft_ms" in attrs:
        row["call/ttft_ms"] = attrs["ttft_ms"]
    if usage is not None:
        p = int(usage.get("prompt_tokens") or 0)
        c = int(usage.get("completion_tokens") or 0)
        t = int(usage.get("total_tokens") or (p + c))
        totals.prompt += p
        totals.completion += c
        totals.total += t
        row["call/prompt_tokens"] = p
        row["call/completion_tokens"] = c
        row["call/total_tokens"] = t
    if cost is not None:
        totals.cost += cost
        row["call/cost_usd"] = cost
    values = {
        "usage/prompt_tokens": totals.prompt,
        "usage/completion_tokens": totals.completion,
        "usage/total_tokens": totals.total,
        "usage/cost_usd": totals.cost,
        "calls": totals.calls,
        "errors": totals.errors,
    }
    run.absorb_summary(values)


def embedding_dimensions(embedding: Any) -> int | None:
    """Dimensions of an embedding given as floats or as base64 float32 (raw responses)."""
    if isinstance(embedding, list):
        return len(embedding)
    if isinstance(embedding, str):
        try:
            return len(base64.b64decode(embedding)) // 4
        except ValueError:
            return None
    return None
