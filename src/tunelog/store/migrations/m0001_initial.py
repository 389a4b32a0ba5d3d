"""The first schema: runs, metric history, artifacts (collections, versions, aliases, manifests,
usage edges) and blob references.

History is the hot table, so it is one small B-tree: rows are keyed by (key_id, step), where
``history_keys`` gives each (run, key) an integer id. One key's points are a range scan; a run's
rows in (step, key) order are a merge of its keys' scans (done by the store), which is cheaper than
maintaining a second index on every insert (measured: ~25% more rows/s). No foreign key either: it
costs a parent lookup per inserted row, and ``delete_run`` removes a run's history explicitly.
Frozen once released: later changes go in new migrations.
"""

from __future__ import annotations

import sqlite3

VERSION = 1
NAME = "initial"

STATEMENTS = (
    """CREATE TABLE runs (
        pk INTEGER PRIMARY KEY AUTOINCREMENT,
        entity TEXT NOT NULL,
        project TEXT NOT NULL,
        run_id TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        job_type TEXT,
        group_name TEXT,
        notes TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        config TEXT NOT NULL DEFAULT '{}',
        summary TEXT NOT NULL DEFAULT '{}',
        meta TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        finished_at REAL,
        heartbeat_at REAL,
        exit_code INTEGER,
        host TEXT,
        pid INTEGER,
        pid_start INTEGER,
        last_step INTEGER,
        UNIQUE (entity, project, run_id)
    )""",
    "CREATE INDEX runs_by_created ON runs (entity, project, created_at)",
    "CREATE INDEX runs_by_state ON runs (entity, project, state)",
    """CREATE TABLE history_keys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_pk INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
        name TEXT NOT NULL,
        UNIQUE (run_pk, name)
    )""",
    """CREATE TABLE history (
        key_id INTEGER NOT NULL,
        step INTEGER NOT NULL,
        num REAL,
        val TEXT,
        time REAL NOT NULL,
        PRIMARY KEY (key_id, step)
    ) WITHOUT ROWID""",
    """CREATE TABLE blob_refs (
        run_pk INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
        sha256 TEXT NOT NULL,
        PRIMARY KEY (run_pk, sha256)
    ) WITHOUT ROWID""",
    """CREATE TABLE collections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entity TEXT NOT NULL,
        project TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        description TEXT,
        created_at REAL NOT NULL,
        next_index INTEGER NOT NULL DEFAULT 0,
        UNIQUE (entity, project, name)
    )""",
    """CREATE TABLE versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        digest TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        description TEXT,
        size INTEGER NOT NULL,
        file_count INTEGER NOT NULL,
        created_at REAL NOT NULL,
        logged_by INTEGER REFERENCES runs (pk) ON DELETE SET NULL,
        source_id INTEGER REFERENCES versions (id) ON DELETE CASCADE,
        UNIQUE (collection_id, idx)
    )""",
    "CREATE INDEX versions_by_digest ON versions (collection_id, digest)",
    "CREATE INDEX versions_by_logger ON versions (logged_by)",
    "CREATE INDEX versions_by_source ON versions (source_id)",
    """CREATE TABLE aliases (
        collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        alias TEXT NOT NULL,
        version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
        PRIMARY KEY (collection_id, alias)
    )""",
    "CREATE INDEX aliases_by_version ON aliases (version_id)",
    """CREATE TABLE manifest (
        version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (version_id, path)
    ) WITHOUT ROWID""",
    "CREATE INDEX manifest_by_sha ON manifest (sha256)",
    """CREATE TABLE artifact_usage (
        version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
        run_pk INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
        created_at REAL NOT NULL,
        PRIMARY KEY (version_id, run_pk)
    ) WITHOUT ROWID""",
    "CREATE INDEX artifact_usage_by_run ON artifact_usage (run_pk)",
)


def apply(conn: sqlite3.Connection) -> None:
    """Create the tables (inside the runner's transaction)."""
    for statement in STATEMENTS:
        conn.execute(statement)
