"""Fixtures for the store tests: a real SQLite file in a temporary directory."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunelog.store.sql import SQLStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tunelog.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLStore]:
    s = SQLStore(db_path)
    yield s
    s.close()
    with sqlite3.connect(db_path) as conn:  # every test leaves a sound file behind
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
