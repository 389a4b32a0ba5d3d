"""Bad input: clear errors for programmer mistakes; storage failures never reach the caller."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
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


def test_storage_failures_never_raise(tl_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Break the real store under a live run: the blob folder becomes a file, the history table goes.
    The program goes on; the failures are counted and reported once each."""
    run = tunelog.init(project="p")
    run.log({"ok": 1})
    tunelog.flush()
    shutil.rmtree(tl_dir / "blobs", ignore_errors=True)
    (tl_dir / "blobs").write_text("not a directory")
    with sqlite3.connect(tl_dir / "tunelog.db") as db:
        db.execute("DROP TABLE history")
    before = tunelog.failures()
    art = tunelog.Artifact("x", type="t")
    with art.new_file("f.txt", mode="w") as f:
        f.write("data")
    with caplog.at_level(logging.WARNING, logger="tunelog"):
        run.log_artifact(art)  # the blob store is unusable: counted, not raised
        for i in range(3):
            run.log({"a": i})  # the history table is gone: counted, not raised
        assert tunelog.flush()
        run.log({"odd": object()})  # not JSON: stored as its repr, with a warning
        run.finish()
    assert not art.is_logged
    assert tunelog.failures() >= before + 2
    assert sum("failed" in m for m in caplog.messages) == 2  # once per kind of failure
    assert any("not JSON-serialisable" in m for m in caplog.messages)
