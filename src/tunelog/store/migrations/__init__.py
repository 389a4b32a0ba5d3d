"""Numbered, named schema migrations and the runner that applies them on open.

Each migration is a module ``mNNNN_<name>.py`` with ``VERSION`` (1, 2, …), ``NAME`` and
``apply(conn)``; list it in :data:`MIGRATIONS`. The schema version lives in ``PRAGMA user_version``
(cheap to read on every open); each applied migration is also recorded, with its time, in the
``schema_migrations`` table.

Safe under concurrency: the runner takes the write lock (``BEGIN IMMEDIATE``) and re-reads the
version inside the transaction, so when several processes open an old store at once exactly one of
them migrates it and the others find it done. SQLite DDL is transactional: a failing migration
leaves the store at its previous version.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from tunelog.errors import SchemaTooNewError
from tunelog.store.migrations import (
    m0001_initial,
    m0002_events_spans,
    m0003_views_reports,
    m0004_span_rollup,
)


class Migration(Protocol):
    VERSION: int
    NAME: str

    def apply(self, conn: sqlite3.Connection) -> None: ...


MIGRATIONS: tuple[Migration, ...] = (
    m0001_initial,
    m0002_events_spans,
    m0003_views_reports,
    m0004_span_rollup,
)


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    return migrations[-1].VERSION if migrations else 0


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def check_not_too_new(found: int, known: int, where: str) -> None:
    """Raise :class:`SchemaTooNewError` if the store's schema is newer than this code knows."""
    if found > known:
        from tunelog import __version__ as ours  # only for this message; avoids an import cycle

        raise SchemaTooNewError(
            f"The tunelog store at {where} has schema version {found}, but this tunelog ({ours}) "
            f"only knows schema versions up to {known}: a newer tunelog wrote it. Upgrade tunelog "
            "(pip install -U tunelog) in this environment to read and write it."
        )


def migrate(
    conn: sqlite3.Connection,
    *,
    where: str,
    begin: Callable[[sqlite3.Connection], None],
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[int]:
    """Bring the store behind ``conn`` (in autocommit mode) up to date; return the versions applied.

    Args:
        conn: a connection with ``isolation_level=None``.
        where: how to name the store in error messages (its path).
        begin: starts a write transaction (``BEGIN IMMEDIATE``), retrying while the store is locked.
        migrations: the migrations, ordered by version (tests pass their own).

    Raises:
        SchemaTooNewError: the store was written by a newer tunelog.
    """
    known = latest_version(migrations)
    found = schema_version(conn)
    check_not_too_new(found, known, where)
    if found == known:
        return []
    begin(conn)
    try:
        found = schema_version(conn)  # another process may have migrated while we waited
        check_not_too_new(found, known, where)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        applied = []
        for migration in migrations:
            if found >= migration.VERSION:
                continue
            migration.apply(conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.VERSION, migration.NAME, time.time()),
            )
            applied.append(migration.VERSION)
        # PRAGMA takes no parameters; the value is an int from our own migration list.
        conn.execute(f"PRAGMA user_version = {int(known)}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return applied
