"""TUNELOG_MODE=disabled: the example runs and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunelog

from .test_example import log_example


def test_disabled_mode_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "data"
    monkeypatch.setenv("TUNELOG_DIR", str(d))
    monkeypatch.setenv("TUNELOG_MODE", "disabled")
    monkeypatch.chdir(tmp_path)
    log_example()
    with tunelog.init(project="GPT-3") as run:
        assert run.disabled
        a = run.use_artifact("GPT-3/model-metadata:ftjob-123")
        assert a.metadata["fine_tuned_model"] == "ft:x"
        Path(a.download(tmp_path / "dl"))
    assert not d.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl"]
