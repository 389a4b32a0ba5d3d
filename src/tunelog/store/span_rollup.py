"""Span statistics from the per-minute rollup (migration 0004), exact at the edges.

- **Catch-up**: spans with a ``pk`` above the watermark are added to ``span_rollup`` in one grouped
  upsert (a write transaction, so no span commit can slip between the scan and the new watermark).
  The span write path does nothing extra; the first read after a large import pays once.
- **Reads**: a small range (at most :data:`RAW_LIMIT` calls) is bucketed straight from the spans,
  exactly as asked. A large one uses whole minutes from the rollup, and the raw spans only for the
  partial minutes at its two ends, so the numbers are exact; the buckets are then whole minutes wide.

Only spans with a model (the calls) are counted: the grouping spans a user's ``trace`` opens around
them carry no model, tokens or cost of their own.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunelog.store.records import SpanStat  # imported where built: off the path that starts runs

#: Ranges with at most this many calls are bucketed from the raw spans (exact bucket edges).
RAW_LIMIT = 20_000
_SUMS = (
    "count(*), "
    "sum(coalesce(json_extract(usage, '$.prompt_tokens'), json_extract(usage, '$.input_tokens'), 0)), "
    "sum(coalesce(json_extract(usage, '$.completion_tokens'), json_extract(usage, '$.output_tokens'), 0)), "
    "sum(coalesce(cost_usd, 0)), sum(status = 'error'), "
    "sum(coalesce(end_time - start_time, 0)), sum(end_time IS NOT NULL)"
)
_CATCH_UP = (
    "INSERT INTO span_rollup (entity, project, run_pk, model, minute, calls, prompt_tokens, "
    "completion_tokens, cost_usd, errors, latency_sum, latency_n, min_start, max_start) "
    f"SELECT entity, project, run_pk, coalesce(model, ''), CAST(start_time / 60 AS INTEGER) AS m, {_SUMS}, "
    "min(start_time), max(start_time) FROM spans WHERE pk > ? AND pk <= ? "
    "GROUP BY entity, project, run_pk, coalesce(model, ''), m "
    "ON CONFLICT (entity, project, run_pk, model, minute) DO UPDATE SET "
    "calls = calls + excluded.calls, prompt_tokens = prompt_tokens + excluded.prompt_tokens, "
    "completion_tokens = completion_tokens + excluded.completion_tokens, "
    "cost_usd = cost_usd + excluded.cost_usd, errors = errors + excluded.errors, "
    "latency_sum = latency_sum + excluded.latency_sum, latency_n = latency_n + excluded.latency_n, "
    "min_start = min(min_start, excluded.min_start), max_start = max(max_start, excluded.max_start)"
)
Write = Callable[[Callable[[sqlite3.Connection], None], str], None]


def behind(conn: sqlite3.Connection) -> bool:
    """Whether spans were written since the rollup last caught up."""
    (mark,) = conn.execute("SELECT watermark FROM span_rollup_state WHERE id = 1").fetchone()
    (top,) = conn.execute("SELECT max(pk) FROM spans").fetchone()
    return top is not None and int(top) > int(mark)


def catch_up(conn: sqlite3.Connection) -> None:
    """Add the spans above the watermark to the rollup (inside the caller's write transaction)."""
    (mark,) = conn.execute("SELECT watermark FROM span_rollup_state WHERE id = 1").fetchone()
    (top,) = conn.execute("SELECT max(pk) FROM spans").fetchone()
    if top is None or int(top) <= int(mark):
        return
    conn.execute(_CATCH_UP, (int(mark), int(top)))
    conn.execute("UPDATE span_rollup_state SET watermark = ? WHERE id = 1", (int(top),))


class _Acc:
    __slots__ = ("calls", "cost", "ct", "err", "lat", "lat_n", "pt")

    def __init__(self) -> None:
        self.calls = self.pt = self.ct = self.err = self.lat_n = 0
        self.cost = self.lat = 0.0

    def add(self, row: tuple[Any, ...]) -> None:
        c, pt, ct, cost, err, lat, lat_n = row
        self.calls += int(c or 0)
        self.pt += int(pt or 0)
        self.ct += int(ct or 0)
        self.cost += float(cost or 0.0)
        self.err += int(err or 0)
        self.lat += float(lat or 0.0)
        self.lat_n += int(lat_n or 0)


def read_stats(
    conn: sqlite3.Connection,
    entity: str,
    project: str,
    run_pk: int | None,
    start_after: float | None,
    start_before: float | None,
    buckets: int,
) -> list[SpanStat]:
    from tunelog.store.records import SpanStat

    """Calls, tokens, cost, errors and mean latency per time bucket and model (rollup caught up)."""
    scope = "entity = ? AND project = ? AND model <> ''" + (" AND run_pk = ?" if run_pk is not None else "")
    scope_args: list[Any] = [entity, project] + ([run_pk] if run_pk is not None else [])
    lo_m = math.floor(start_after / 60) if start_after is not None else None
    hi_m = math.floor(start_before / 60) if start_before is not None else None
    where, args = scope, list(scope_args)
    if lo_m is not None:
        where += " AND minute >= ?"
        args.append(lo_m)
    if hi_m is not None:
        where += " AND minute <= ?"
        args.append(hi_m)
    total, lo, hi = conn.execute(
        f"SELECT sum(calls), min(min_start), max(max_start) FROM span_rollup WHERE {where}", args
    ).fetchone()
    if not total:
        return []
    lo = max(lo, start_after) if start_after is not None else lo
    hi = min(hi, start_before) if start_before is not None else hi
    raw_scope = "entity = ? AND project = ? AND model IS NOT NULL" + (
        " AND run_pk = ?" if run_pk is not None else ""
    )
    if total <= RAW_LIMIT:
        return _raw(conn, raw_scope, scope_args, start_after, start_before, lo, hi, buckets)
    # Whole-minute buckets, aligned to the minute of the first span.
    width = 60.0 * max(1, math.ceil((hi - lo) / buckets / 60.0))
    origin = math.floor(lo / 60) * 60.0
    acc: dict[tuple[int, str], _Acc] = {}
    # Interior minutes (entirely inside the range) from the rollup ...
    inner, inner_args = scope, list(scope_args)
    first_full = math.ceil(start_after / 60) if start_after is not None else None
    end_full = hi_m  # the minute holding start_before is partial (or empty)
    if first_full is not None:
        inner += " AND minute >= ?"
        inner_args.append(first_full)
    if end_full is not None:
        inner += " AND minute < ?"
        inner_args.append(end_full)
    for row in conn.execute(
        f"SELECT CAST((minute * 60 - ?) / ? AS INTEGER) AS b, model, sum(calls), sum(prompt_tokens), "
        "sum(completion_tokens), sum(cost_usd), sum(errors), sum(latency_sum), sum(latency_n) "
        f"FROM span_rollup WHERE {inner} GROUP BY b, model",
        [origin, width, *inner_args],
    ):
        acc.setdefault((int(row[0]), row[1]), _Acc()).add(row[2:])
    # ... and the partial minutes at the two ends from the spans themselves.
    edges: list[tuple[float, float]] = []
    if start_after is not None and first_full is not None and start_after < first_full * 60:
        edges.append((start_after, min(first_full * 60.0, start_before or math.inf)))
    if start_before is not None and end_full is not None and end_full * 60.0 < start_before:
        a = max(end_full * 60.0, start_after if start_after is not None else -math.inf)
        if not edges or a >= edges[0][1]:
            edges.append((a, start_before))
    for a, b in edges:
        for row in conn.execute(
            f"SELECT CAST((start_time - ?) / ? AS INTEGER) AS bk, model, {_SUMS} FROM spans "
            f"WHERE {raw_scope} AND start_time >= ? AND start_time < ? GROUP BY bk, model",
            [origin, width, *scope_args, a, b],
        ):
            acc.setdefault((int(row[0]), row[1]), _Acc()).add(row[2:])
    return [
        SpanStat(
            start=origin + b * width,
            width=width,
            model=m,
            calls=v.calls,
            prompt_tokens=v.pt,
            completion_tokens=v.ct,
            cost_usd=v.cost,
            errors=v.err,
            mean_latency=(v.lat / v.lat_n) if v.lat_n else None,
        )
        for (b, m), v in sorted(acc.items())
        if v.calls
    ]


def _raw(
    conn: sqlite3.Connection,
    scope: str,
    scope_args: list[Any],
    start_after: float | None,
    start_before: float | None,
    lo: float,
    hi: float,
    buckets: int,
) -> list[SpanStat]:
    from tunelog.store.records import SpanStat

    where, args = scope, list(scope_args)
    if start_after is not None:
        where += " AND start_time >= ?"
        args.append(start_after)
    if start_before is not None:
        where += " AND start_time < ?"
        args.append(start_before)
    width = max((hi - lo) / buckets, 1e-3)
    rows = conn.execute(
        f"SELECT CAST((start_time - ?) / ? AS INTEGER) AS b, model, {_SUMS} "
        f"FROM spans WHERE {where} GROUP BY b, model ORDER BY b, model",
        [lo, width, *args],
    )
    out = []
    for b, m, *sums in rows:
        v = _Acc()
        v.add(tuple(sums))
        out.append(
            SpanStat(
                start=lo + min(int(b), buckets - 1) * width,
                width=width,
                model=m,
                calls=v.calls,
                prompt_tokens=v.pt,
                completion_tokens=v.ct,
                cost_usd=v.cost,
                errors=v.err,
                mean_latency=(v.lat / v.lat_n) if v.lat_n else None,
            )
        )
    return out
