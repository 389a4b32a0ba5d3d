"""Blobs are stored once, and collected when nothing references them."""

from __future__ import annotations

from pathlib import Path

import tunelog


def _blob_files(tl_dir: Path) -> list[Path]:
    root = tl_dir / "blobs"
    return [p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts]


def test_same_content_stored_once_and_collected(tl_dir: Path) -> None:
    payload = Path("weights.bin")
    payload.write_bytes(b"\x00\x01" * 100_000)
    with tunelog.init(project="p") as run:
        a = tunelog.Artifact("first", type="model")
        a.add_file(payload)
        run.log_artifact(a)
        b = tunelog.Artifact("second", type="model")
        b.add_file(payload, name="copy.bin")
        run.log_artifact(b)
    blobs = _blob_files(tl_dir)
    assert sum(p.stat().st_size == 200_000 for p in blobs) == 1

    api = tunelog.Api()
    api.delete_artifact("p/first")
    assert api.collect_garbage().deleted == 0  # still held by "second"
    api.delete_artifact("p/second:v0")
    report = api.collect_garbage()
    assert report.deleted >= 1 and report.freed_bytes >= 200_000
    assert not any(p.stat().st_size == 200_000 for p in _blob_files(tl_dir))


def test_same_content_same_collection_makes_no_new_version(tl_dir: Path) -> None:
    with tunelog.init(project="p") as run:
        for alias in ("a1", "a2"):
            art = tunelog.Artifact("m", type="model")
            with art.new_file("x.json", mode="w") as f:
                f.write("{}")
            run.log_artifact(art, aliases=[alias])
        assert art.version == "v0" and set(art.aliases) >= {"a1", "a2", "latest"}


def test_purge_run(tl_dir: Path) -> None:
    with tunelog.init(project="p", id="personal") as run:
        run.log({"secret": tunelog.Table(columns=["email"], data=[["a@example.com"]])})
        art = tunelog.Artifact("pii", type="dataset")
        with art.new_file("people.csv", mode="w") as f:
            f.write("a@example.com\n")
        run.log_artifact(art)
    api = tunelog.Api()
    api.delete_run("p/personal", purge=True)
    assert api.artifact_collections("p") == [] or all(
        c.version_count == 0 for c in api.artifact_collections("p")
    )
    assert not any(b"example.com" in p.read_bytes() for p in _blob_files(tl_dir))
