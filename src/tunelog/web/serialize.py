"""Records → JSON-ready dicts for the JSON API (shapes documented in :mod:`tunelog.web.api_schemas`)."""

from __future__ import annotations

import math
from typing import Any


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def project(s: Any) -> dict[str, Any]:
    return {
        "entity": s.entity,
        "project": s.project,
        "runs": s.runs,
        "running": s.running,
        "artifacts": s.artifacts,
        "last_activity": s.last_activity,
    }


def run(r: Any) -> dict[str, Any]:
    return {
        "entity": r.entity,
        "project": r.project,
        "id": r.id,
        "name": r.name,
        "state": r.state,
        "job_type": r.job_type,
        "group": r.group,
        "tags": list(r.tags),
        "notes": r.notes,
        "config": r.config,
        "summary": r.summary,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "finished_at": r.finished_at,
        "url": r.url,
    }


def group_page(page: Any) -> dict[str, Any]:
    return {
        "groups": [
            {
                "value": _finite(g.value),
                "runs": g.runs,
                "stats": {
                    k: {"mean": _finite(st.mean), "min": _finite(st.min), "max": _finite(st.max)}
                    for k, st in g.stats.items()
                },
            }
            for g in page.groups
        ],
        "total_groups": page.total_groups,
        "total_runs": page.total_runs,
    }


def series(s: Any, run_id: str) -> dict[str, Any]:
    return {
        "run": run_id,
        "key": s.key,
        "steps": s.steps,
        "values": [_finite(v) for v in s.values],
        "mins": [_finite(v) for v in s.mins] if s.downsampled else None,
        "maxs": [_finite(v) for v in s.maxs] if s.downsampled else None,
        "times": s.times,
        "total": s.total,
        "downsampled": s.downsampled,
    }


def event(e: Any) -> dict[str, Any]:
    return {"time": e.time, "level": e.level, "message": e.message, "data": e.data, "id": e.id}


def table_page(reader: Any, q: str, offset: int, limit: int) -> dict[str, Any]:
    if q:
        hits = reader.search(q, limit=limit, start=offset)
        rows = [{"index": i, "cells": cells} for i, cells in hits]
        nxt = rows[-1]["index"] + 1 if len(rows) == limit else None
    else:
        rows = [{"index": offset + i, "cells": c} for i, c in enumerate(reader.page(offset, limit))]
        nxt = offset + limit if offset + limit < reader.nrows else None
    return {"columns": reader.columns, "nrows": reader.nrows, "rows": rows, "next_offset": nxt}


def span(s: Any, full: bool = False) -> dict[str, Any]:
    from tunelog.web import chat

    out: dict[str, Any] = {
        "span_id": s.span_id,
        "trace_id": s.trace_id,
        "parent_id": s.parent_id,
        "run": s.run.run_id,
        "name": s.name,
        "kind": s.kind,
        "start_time": s.start_time,
        "end_time": s.end_time,
        "latency": (s.end_time - s.start_time) if s.end_time is not None else None,
        "status": s.status,
        "model": s.model,
        "usage": s.usage,
        "cost_usd": s.cost_usd,
        "error": s.error,
        "input_preview": chat.preview(chat.request_messages(s.inputs)),
        "output_preview": chat.preview(chat.response_messages(s.outputs)),
    }
    if full:
        out.update(inputs=s.inputs, outputs=s.outputs, attributes=s.attributes)
    return out


def span_stat(s: Any) -> dict[str, Any]:
    return {
        "start": s.start,
        "width": s.width,
        "model": s.model,
        "calls": s.calls,
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "cost_usd": s.cost_usd,
        "errors": s.errors,
        "mean_latency": s.mean_latency,
    }


def collection(c: Any) -> dict[str, Any]:
    return {
        "entity": c.entity,
        "project": c.project,
        "name": c.name,
        "type": c.type,
        "description": c.description,
        "versions": c.version_count,
        "created_at": c.created_at,
    }


def artifact(a: Any, files: bool = False) -> dict[str, Any]:
    logger = a._logged().logged_by
    out: dict[str, Any] = {
        "name": a.name,
        "type": a.type,
        "version": a.version,
        "aliases": list(a.aliases),
        "digest": a.digest,
        "size": a.size,
        "metadata": dict(a.metadata),
        "description": a.description,
        "created_at": a.created_at,
        "logged_by": str(logger) if logger else None,
        "qualified_name": a.qualified_name,
    }
    if files:
        out["files"] = [{"path": f.path, "size": f.size, "sha256": f.digest} for f in a.files()]
        out["tables"] = a.tables()
    return out


def view(v: Any) -> dict[str, Any]:
    return {"name": v.name, "spec": dict(v.spec), "created_at": v.created_at, "updated_at": v.updated_at}


def report(r: Any, body: bool = True) -> dict[str, Any]:
    out = {"id": r.id, "title": r.title, "created_at": r.created_at, "updated_at": r.updated_at}
    if body:
        out["body"] = dict(r.body)
    return out
