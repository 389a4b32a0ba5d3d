"""Schema migrations: applied once on open, recorded, refused when the store is newer, safe when
several processes open a fresh (or old) store at the same moment."""

from __future__ import annotations

import multiprocessing
import sqlite3
import types
from pathlib import Path

import pytest

from tests.store.store_helpers import make_run, open_once
from tunelog.errors import SchemaTooNewError
from tunelog.store.migrations import MIGRATIONS, latest_version, migrate
from tunelog.store.sql import SQLStore
from tunelog.store.sqlite_conn import begin_immediate, connect


def applied(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as conn:
        return [
            (r[0], r[1]) for r in conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")
        ]


def test_fresh_store_is_migrated_to_the_latest_version_in_wal_mode(db_path: Path) -> None:
    SQLStore(db_path).close()
    SQLStore(db_path).close()  # reopening applies nothing
    assert applied(db_path) == [(m.VERSION, m.NAME) for m in MIGRATIONS]
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        times = conn.execute("SELECT applied_at FROM schema_migrations").fetchall()
    assert all(t[0] > 0 for t in times)


def test_migrations_are_numbered_in_order() -> None:
    versions = [m.VERSION for m in MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))
    assert all(m.NAME and callable(m.apply) for m in MIGRATIONS)


def test_a_newer_schema_is_refused_with_upgrade_advice(db_path: Path) -> None:
    SQLStore(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 41}")
    with pytest.raises(SchemaTooNewError) as err:
        SQLStore(db_path)
    msg = str(err.value)
    assert "pip install -U tunelog" in msg
    assert f"schema version {latest_version() + 41}" in msg and f"up to {latest_version()}" in msg


def test_an_old_store_gets_only_the_new_migrations(db_path: Path) -> None:
    store = SQLStore(db_path)
    key = make_run(store)
    store.close()

    def add_column(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN color TEXT DEFAULT 'blue'")

    future = types.SimpleNamespace(VERSION=latest_version() + 1, NAME="run_color", apply=add_column)
    conn = connect(str(db_path))
    try:
        assert migrate(conn, where=str(db_path), begin=begin_immediate, migrations=[*MIGRATIONS, future]) == [
            future.VERSION
        ]
        assert (
            migrate(conn, where=str(db_path), begin=begin_immediate, migrations=[*MIGRATIONS, future]) == []
        )
        assert conn.execute("SELECT color FROM runs WHERE run_id = ?", (key.run_id,)).fetchone() == ("blue",)
    finally:
        conn.close()
    assert applied(db_path)[-1] == (future.VERSION, "run_color")
    with pytest.raises(SchemaTooNewError):  # and this code, which does not know run_color, refuses it
        SQLStore(db_path)


def test_a_failing_migration_leaves_the_store_at_its_version(db_path: Path) -> None:
    SQLStore(db_path).close()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    bad = types.SimpleNamespace(VERSION=latest_version() + 1, NAME="broken", apply=broken)
    conn = connect(str(db_path))
    try:
        with pytest.raises(RuntimeError):
            migrate(conn, where=str(db_path), begin=begin_immediate, migrations=[*MIGRATIONS, bad])
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0
    finally:
        conn.close()


def test_concurrent_first_open_migrates_once(db_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)  # all open at the same moment
    procs = [ctx.Process(target=open_once, args=(str(db_path), start)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert applied(db_path) == [(m.VERSION, m.NAME) for m in MIGRATIONS]
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
