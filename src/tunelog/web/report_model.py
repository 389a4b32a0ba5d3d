"""Reports: their stored shape (a list of blocks) and resolving blocks to the data they show.

Blocks::

    {"type": "note", "text": "..."}
    {"type": "chart", "metric": "train_loss", "runs": ["run-id", ...], "title": "..."}
    {"type": "runs", "filter": "state = \\"finished\\"", "cols": ["config.base_model", "summary.loss"]}
    {"type": "table", "run": "run-id", "key": "samples"}

Resolving reads the data once, so the page and the exported file show exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunelog.api import Api
from tunelog.errors import TunelogError, UsageError
from tunelog.web import serialize
from tunelog.web.workspace import ViewSpec, build_filter, cell

BLOCK_TYPES = ("note", "chart", "runs", "table")
MAX_BLOCKS = 200
CHART_POINTS = 500
TABLE_ROWS = 100
RUNS_ROWS = 200


def clean_body(body: Any) -> dict[str, Any]:
    """Validate a report body from a client; keep only known fields of known block types."""
    if not isinstance(body, Mapping) or not isinstance(body.get("blocks", []), list):
        raise UsageError('A report body is {"blocks": [...]}.')
    blocks = []
    for i, b in enumerate(body.get("blocks", [])[:MAX_BLOCKS]):
        if not isinstance(b, Mapping) or b.get("type") not in BLOCK_TYPES:
            raise UsageError(f"Report block {i} needs a type: one of {', '.join(BLOCK_TYPES)}.")
        out: dict[str, Any] = {"type": b["type"]}
        for k in ("text", "metric", "filter", "run", "key", "title"):
            if isinstance(b.get(k), str):
                out[k] = b[k][:100_000]
        for k in ("runs", "cols"):
            if isinstance(b.get(k), list):
                out[k] = [str(x) for x in b[k] if isinstance(x, str)][:100]
        blocks.append(out)
    return {"blocks": blocks}


def resolve(api: Api, path: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each block with its data (``data``) or the problem reading it (``error``)."""
    out = []
    for i, b in enumerate(body.get("blocks", [])):
        block = dict(b) | {"i": i}
        try:
            block["data"] = _resolve_block(api, path, block)
        except TunelogError as exc:
            block["error"] = str(exc)
        out.append(block)
    return out


def _resolve_block(api: Api, path: str, b: dict[str, Any]) -> Any:
    kind = b["type"]
    if kind == "note":
        return None
    if kind == "chart":
        metric = b.get("metric") or ""
        if not metric:
            raise UsageError("This chart has no metric yet: pick one.")
        series = []
        for rid in b.get("runs", []):
            run = api.run(f"{path}/{rid}")
            s = api.metric(f"{path}/{rid}", metric, max_points=CHART_POINTS)
            series.append(serialize.series(s, rid) | {"name": run.name})
        return series
    if kind == "runs":
        spec = ViewSpec(q=b.get("filter", ""))
        runs = api.runs(path, build_filter(spec), limit=RUNS_ROWS)
        cols = b.get("cols") or []
        return {
            "cols": cols,
            "rows": [
                {"id": r.id, "name": r.name, "state": r.state, "cells": [cell(r, c) for c in cols]}
                for r in runs
            ],
        }
    if kind == "table":
        reader = api.run_table(f"{path}/{b.get('run', '')}", b.get("key", ""))
        return {"columns": reader.columns, "nrows": reader.nrows, "rows": reader.page(0, TABLE_ROWS)}
    raise UsageError(f"Unknown report block type {kind!r}.")
