"""``open_store`` picks the store by URL scheme."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store.store_helpers import make_run
from tunelog.errors import UsageError
from tunelog.store import open_store
from tunelog.store.base import RunKey, RunQuery
from tunelog.store.sql import SQLStore


def test_sqlite_url_with_an_absolute_path_creates_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "tunelog.db"
    store = open_store(f"sqlite:///{path}")  # as Settings.store_url writes it
    try:
        assert isinstance(store, SQLStore) and store.location == str(path)
        make_run(store)
    finally:
        store.close()
    assert path.exists()
    again = open_store(f"sqlite:///{path}")
    try:
        assert again.get_run(RunKey("e", "p", "r1")) is not None
    finally:
        again.close()


def test_relative_sqlite_path_is_taken_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///rel/t.db")
    store.close()
    assert (tmp_path / "rel" / "t.db").exists()


def test_memory_store_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("memory://")
    make_run(store)
    assert len(store.list_runs("e", "p", RunQuery())) == 1
    store.close()
    assert list(tmp_path.iterdir()) == []
    other = open_store("memory://")  # each memory store is its own database
    assert other.list_projects() == []
    other.close()


@pytest.mark.parametrize("url", ["postgresql://localhost/db", "sqlite://", "sqlite:///", "file:///x.db", ""])
def test_unknown_urls_name_the_supported_ones(url: str) -> None:
    with pytest.raises(UsageError, match=r"sqlite:///.*memory://"):
        open_store(url)
