"""The span rollup: calls, tokens, cost, errors and latency per (project, run, model, minute).

The dashboard's span statistics read it instead of scanning every span (a run can have a million).
It is filled lazily by :mod:`tunelog.store.span_rollup` up to a span ``pk`` watermark (span pks
only grow: the table is ``AUTOINCREMENT``), so the span write path pays nothing. Triggers keep it
exact when a span already counted is rewritten (an upsert on its id) and when a run is deleted.
"""

from __future__ import annotations

import sqlite3

VERSION = 4
NAME = "span_rollup"

#: One span's contribution, as the column list of an upsert into ``span_rollup`` (``sign`` = ±1).
_ADD = """INSERT INTO span_rollup (entity, project, run_pk, model, minute, calls, prompt_tokens,
        completion_tokens, cost_usd, errors, latency_sum, latency_n, min_start, max_start)
    VALUES ({s}.entity, {s}.project, {s}.run_pk, coalesce({s}.model, ''),
        CAST({s}.start_time / 60 AS INTEGER), {sign},
        {sign} * coalesce(json_extract({s}.usage, '$.prompt_tokens'),
            json_extract({s}.usage, '$.input_tokens'), 0),
        {sign} * coalesce(json_extract({s}.usage, '$.completion_tokens'),
            json_extract({s}.usage, '$.output_tokens'), 0),
        {sign} * coalesce({s}.cost_usd, 0), {sign} * ({s}.status = 'error'),
        {sign} * coalesce({s}.end_time - {s}.start_time, 0), {sign} * ({s}.end_time IS NOT NULL),
        {s}.start_time, {s}.start_time)
    ON CONFLICT (entity, project, run_pk, model, minute) DO UPDATE SET
        calls = calls + excluded.calls, prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        cost_usd = cost_usd + excluded.cost_usd, errors = errors + excluded.errors,
        latency_sum = latency_sum + excluded.latency_sum, latency_n = latency_n + excluded.latency_n,
        min_start = min(min_start, excluded.min_start), max_start = max(max_start, excluded.max_start);"""

STATEMENTS = (
    """CREATE TABLE span_rollup (
        entity TEXT NOT NULL,
        project TEXT NOT NULL,
        run_pk INTEGER NOT NULL,
        model TEXT NOT NULL,
        minute INTEGER NOT NULL,
        calls INTEGER NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        errors INTEGER NOT NULL,
        latency_sum REAL NOT NULL,
        latency_n INTEGER NOT NULL,
        min_start REAL NOT NULL,
        max_start REAL NOT NULL,
        PRIMARY KEY (entity, project, run_pk, model, minute)
    ) WITHOUT ROWID""",
    "CREATE INDEX span_rollup_by_time ON span_rollup (entity, project, minute)",
    "CREATE TABLE span_rollup_state (id INTEGER PRIMARY KEY CHECK (id = 1), watermark INTEGER NOT NULL)",
    "INSERT INTO span_rollup_state (id, watermark) VALUES (1, 0)",
    # A rewritten span that is already counted: take its old contribution out, put the new one in.
    # (min_start/max_start may stay a little wide; they only bound the chart's range.)
    "CREATE TRIGGER span_rollup_on_update AFTER UPDATE ON spans "
    "WHEN old.pk <= (SELECT watermark FROM span_rollup_state WHERE id = 1) BEGIN "
    + _ADD.format(s="old", sign="-1")
    + _ADD.format(s="new", sign="1")
    + " END",
    "CREATE TRIGGER span_rollup_on_run_delete AFTER DELETE ON runs BEGIN "
    "DELETE FROM span_rollup WHERE run_pk = old.pk; END",
)


def apply(conn: sqlite3.Connection) -> None:
    """Create the rollup (empty, watermark 0: the first statistics read fills it)."""
    for statement in STATEMENTS:
        conn.execute(statement)
