"""The traces pages: the call table with filters, a trace's timeline, and a span as a chat."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tunelog.errors import ReferenceNotFound, UsageError
from tunelog.web import chat
from tunelog.web.context import Web
from tunelog.web.routes.runs import gantt_rows

PAGE = 50
TRACE_LIMIT = 2000


def _epoch(raw: str | None, name: str) -> float | None:
    """A ``datetime-local`` value (taken as UTC) or UNIX seconds → UNIX seconds."""
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise UsageError(f"{name!r} must be a date and time such as 2025-01-31T14:00, got {raw!r}.") from None


def span_view(s: Any) -> dict[str, Any]:
    req = chat.request_messages(s.inputs)
    resp = chat.response_messages(s.outputs)
    usage = s.usage or {}
    return {
        "span": s,
        "input": chat.preview(req)
        or (
            " · ".join(map(str, _as_list(s.inputs.get("input"))))
            if s.kind == "embedding" and isinstance(s.inputs, dict)
            else ""
        )
        or _compact(s.inputs),
        "output": chat.preview(resp) or (s.error or {}).get("message", "") or _compact(s.outputs),
        "tokens": usage.get("total_tokens")
        or (
            (usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
            + (usage.get("completion_tokens") or usage.get("output_tokens") or 0)
        )
        or None,
        "latency": (s.end_time - s.start_time) if s.end_time is not None else None,
    }


def _with_children(api: Any, path: str, s: Any) -> dict[str, Any]:
    """A table row for ``s``; a span that only groups calls (no model: an agent, a batch) shows what
    its calls add up to, so the trace table says what each trace cost."""
    view = span_view(s)
    view["model"] = s.model or ""
    view["cost"] = s.cost_usd
    if s.model or s.parent_id:
        return view
    calls = [c for c in api.spans(path, trace_id=s.trace_id, limit=200) if c.model]
    if not calls:
        return view
    calls.sort(key=lambda c: c.start_time)
    views = [span_view(c) for c in calls]
    view["model"] = ", ".join(dict.fromkeys(c.model for c in calls))
    view["tokens"] = sum(v["tokens"] or 0 for v in views) or None
    costs = [c.cost_usd for c in calls if c.cost_usd is not None]
    view["cost"] = sum(costs) if costs else None
    view["input"] = view["input"] or views[0]["input"]
    view["output"] = view["output"] or views[-1]["output"]
    view["calls"] = len(calls)
    return view


def _compact(value: Any, limit: int = 120) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def routes(web: Web) -> list[Route]:
    api = web.api

    def traces(request: Request) -> Response:
        e, p = request.path_params["entity"], request.path_params["project"]
        q = request.query_params
        filters = {k: q.get(k, "") for k in ("model", "status", "text", "run", "from", "to", "all")}
        before = None
        if q.get("before"):
            t, _, sid = q["before"].partition(",")
            try:
                before = (float(t), sid)
            except ValueError:
                raise UsageError("Invalid page cursor: go back to the first page.") from None
        spans = api.spans(
            f"{e}/{p}",
            run=filters["run"] or None,
            model=filters["model"] or None,
            status=filters["status"] or None,
            text=filters["text"] or None,
            start_after=_epoch(filters["from"], "from"),
            start_before=_epoch(filters["to"], "to"),
            roots_only=not filters["all"],
            before=before,
            limit=PAGE,
        )
        nxt = None
        if len(spans) == PAGE:
            last = spans[-1]
            nxt = urlencode(
                {**{k: v for k, v in filters.items() if v}, "before": f"{last.start_time!r},{last.span_id}"}
            )
        return web.page(
            request,
            "traces.html",
            title=f"{p} · traces · tunelog",
            tab="traces",
            rows=[_with_children(api, f"{e}/{p}", s) for s in spans],
            filters=filters,
            next_query=nxt,
            paged=bool(before),
            models=sorted({s.model for s in spans if s.model}),
        )

    def trace(request: Request) -> Response:
        e, p, tid = (request.path_params[k] for k in ("entity", "project", "trace_id"))
        spans = api.spans(f"{e}/{p}", trace_id=tid, limit=TRACE_LIMIT)
        if not spans:
            raise ReferenceNotFound(f"No trace {tid!r} in {e}/{p}.")
        wanted = request.query_params.get("span")
        by_id = {s.span_id: s for s in spans}
        roots = sorted(
            (s for s in spans if not s.parent_id or s.parent_id not in by_id), key=lambda s: s.start_time
        )
        # With no span asked for, show the first call with a conversation: a root that only groups
        # calls (an agent, a batch) has no messages of its own.
        first = roots[0] if roots else spans[-1]
        if not wanted and not chat.request_messages(first.inputs):
            talking = [s for s in spans if s.model and chat.request_messages(s.inputs)]
            first = min(talking, key=lambda s: s.start_time) if talking else first
        current = by_id.get(wanted or "") or first
        return web.page(
            request,
            "trace.html",
            title=f"trace {tid} · {p} · tunelog",
            tab="traces",
            trace_id=tid,
            gantt=gantt_rows(spans),
            current=current,
            detail=span_detail(current),
            count=len(spans),
        )

    def span(request: Request) -> Response:
        e, p, sid = (request.path_params[k] for k in ("entity", "project", "span_id"))
        s = api.span(f"{e}/{p}", sid)
        url = request.url_for("trace", entity=e, project=p, trace_id=s.trace_id)
        return RedirectResponse(f"{url}?{urlencode({'span': sid})}", status_code=302)

    return [
        Route("/{entity}/{project}/traces", traces, name="traces"),
        Route("/{entity}/{project}/traces/{trace_id}", trace, name="trace"),
        Route("/{entity}/{project}/spans/{span_id}", span, name="span"),
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else ([] if value is None else [value])


def span_detail(s: Any) -> dict[str, Any]:
    inputs = s.inputs if isinstance(s.inputs, dict) else {}
    return {
        "request": chat.request_messages(s.inputs),
        "response": chat.response_messages(s.outputs),
        "params": chat.params(s.inputs),
        "tools": inputs.get("tools") or [],
        # What an embeddings call embedded (text, or token ids shown as their JSON).
        "embedded": [x if isinstance(x, str) else json.dumps(x) for x in _as_list(inputs.get("input"))]
        if s.kind == "embedding"
        else [],
        "view": span_view(s),
    }
