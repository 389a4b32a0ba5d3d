"""The dashboard's own records: saved workspace views and reports, both per project.

A view is named (unique per project) and saving it again replaces it; a report has a numeric id and
a title. Both keep their content as one JSON document (``spec`` / ``body``): the dashboard owns its
shape, the store only keeps it.
"""

from __future__ import annotations

import sqlite3

VERSION = 3
NAME = "views_reports"

STATEMENTS = (
    """CREATE TABLE saved_views (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entity TEXT NOT NULL,
        project TEXT NOT NULL,
        name TEXT NOT NULL,
        spec TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (entity, project, name)
    )""",
    """CREATE TABLE reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entity TEXT NOT NULL,
        project TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    "CREATE INDEX reports_by_project ON reports (entity, project, updated_at)",
)


def apply(conn: sqlite3.Connection) -> None:
    """Create the tables (inside the runner's transaction)."""
    for statement in STATEMENTS:
        conn.execute(statement)
