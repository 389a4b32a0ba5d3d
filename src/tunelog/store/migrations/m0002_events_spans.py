"""Run events (a fine-tuning job's events, say) and spans (recorded calls and user steps).

An event with a source id is unique per run, so writing it again replaces it. A span is unique per
(entity, project, span_id) and is replaced when written again (a stream that completes later).
Spans carry entity and project so a project's calls list without a join; both tables are listed
newest/oldest first through their time indexes.
"""

from __future__ import annotations

import sqlite3

VERSION = 2
NAME = "events_spans"

STATEMENTS = (
    """CREATE TABLE run_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_pk INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
        event_id TEXT,
        time REAL NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT
    )""",
    "CREATE UNIQUE INDEX run_events_by_source_id ON run_events (run_pk, event_id) WHERE event_id IS NOT NULL",
    "CREATE INDEX run_events_by_time ON run_events (run_pk, time, id)",
    """CREATE TABLE spans (
        pk INTEGER PRIMARY KEY AUTOINCREMENT,
        run_pk INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
        entity TEXT NOT NULL,
        project TEXT NOT NULL,
        span_id TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        parent_id TEXT,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        start_time REAL NOT NULL,
        end_time REAL,
        status TEXT NOT NULL,
        model TEXT,
        inputs TEXT,
        outputs TEXT,
        attributes TEXT NOT NULL DEFAULT '{}',
        usage TEXT,
        cost_usd REAL,
        error TEXT,
        UNIQUE (entity, project, span_id)
    )""",
    "CREATE INDEX spans_by_time ON spans (entity, project, start_time, span_id)",
    "CREATE INDEX spans_by_run ON spans (run_pk, start_time, span_id)",
    "CREATE INDEX spans_by_trace ON spans (trace_id)",
)


def apply(conn: sqlite3.Connection) -> None:
    """Create the tables (inside the runner's transaction)."""
    for statement in STATEMENTS:
        conn.execute(statement)
