"""Shared fixtures: every test gets its own data directory (a real SQLite file and blob folder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def tl_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh tunelog data directory, set as the user would (TUNELOG_DIR), and a fixed entity."""
    d = tmp_path / "tunelog"
    monkeypatch.setenv("TUNELOG_DIR", str(d))
    monkeypatch.setenv("TUNELOG_ENTITY", "tester")
    monkeypatch.delenv("TUNELOG_MODE", raising=False)
    monkeypatch.chdir(tmp_path)
    yield d
    import tunelog

    tunelog.finish()
    tunelog.flush()
