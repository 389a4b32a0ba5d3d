"""Bad input: clear errors for programmer mistakes; storage failures never reach the caller."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

import tunelog
from tunelog.errors import ReferenceNotFound, UsageError


def test_invalid_artifact_names_and_aliases(tl_dir: Path) -> None:
    with pytest.raises(UsageError, match="'/' and ':'"):
        tunelog.Artifact("ft:gpt-4o:org", type="model")
    with tunelog.init(project="p") as run:
        art = tunelog.Artifact("m", type="model")
        with art.new_file("a.txt", mode="w") as f:
            f.write("a")
        with pytest.raises(UsageError, match="version numbers"):
            run.log_artifact(art, aliases=["v3"])
        with pytest.raises(UsageError, match="Invalid alias"):
            run.log_artifact(art, aliases=["bad/alias"])
        with pytest.raises(UsageError, match="relative path"):
            art.add_file(__file__, name="../escape.py")
        run.log_artifact(art, aliases=["best"])
        other = tunelog.Artifact("m", type="dataset")
        with other.new_file("b.txt", mode="w") as f:
            f.write("b")
        with pytest.raises(UsageError, match="type"):
            run.log_artifact(other)


def test_bad_reference_names_existing_versions(tl_dir: Path) -> None:
    with tunelog.init(project="p") as run:
        for i in range(2):
            art = tunelog.Artifact("m", type="model")
            with art.new_file("a.txt", mode="w") as f:
                f.write(str(i))
            run.log_artifact(art, aliases=[f"ft-{i}"])
        with pytest.raises(ReferenceNotFound) as e:
            run.use_artifact("m:ft-9")
        assert "v0, v1" in str(e.value) and "ft-0, ft-1, latest" in str(e.value)
        with pytest.raises(ReferenceNotFound, match="Artifacts there: m"):
            run.use_artifact("missing:latest")
        for bad in ("a/b/c/d:latest", "m:", "p//m"):
            with pytest.raises(UsageError):
                run.use_artifact(bad)


def test_failed_upload_leaves_no_half_version(tl_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with tunelog.init(project="p") as run:
        art = tunelog.Artifact("data", type="dataset")
        good = Path("good.txt")
        good.write_text("ok")
        art.add_file(good)
        vanished = Path("vanished.txt")
        vanished.write_text("soon gone")
        art.add_file(vanished)
        os.remove(vanished)
        with caplog.at_level(logging.WARNING, logger="tunelog"):
            run.log_artifact(art)  # must not raise
        assert not art.is_logged
        assert any("uploading artifact 'data'" in m for m in caplog.messages)
    assert tunelog.Api().artifact_collections("p") == []


def test_unwritable_store_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    d = tmp_path / "ro"
    monkeypatch.setenv("TUNELOG_DIR", str(d))
    monkeypatch.setenv("TUNELOG_ENTITY", "tester")
    run = tunelog.init(project="p")
    blobs = d / "blobs"
    os.chmod(blobs, 0o500) if blobs.exists() else None
    art = tunelog.Artifact("x", type="t")
    with art.new_file("f.txt", mode="w") as f:
        f.write("data")
    with caplog.at_level(logging.WARNING, logger="tunelog"):
        if os.geteuid() != 0:  # root ignores permissions; the no-raise path is still exercised below
            run.log_artifact(art)
        run.log({"a": object()})  # not JSON: stored as repr, with a warning
    run.finish()
    os.chmod(blobs, 0o700) if blobs.exists() else None
    assert tunelog.Api().run(run.path).history()[0]["a"].startswith("<object object")
