"""Artifact surface beyond the example: directories, files(), tables, registry links, aliases, lineage."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunelog
from tunelog.errors import UsageError


def test_add_dir_files_and_tables(tl_dir: Path) -> None:
    src = Path("model")
    (src / "sub").mkdir(parents=True)
    (src / "config.json").write_text("{}")
    (src / "sub" / "weights.bin").write_bytes(b"\x00" * 10)
    table = tunelog.Table(
        columns=["a", "b"], data=[[1, {"x": [1, 2]}], [None, "é\n"]], allow_mixed_types=True
    )
    with tunelog.init(project="p") as run:
        art = tunelog.Artifact("bundle", type="model", description="d", metadata={"k": 1})
        art.add_dir(src, name="files")
        art.add(table, "examples")
        run.log_artifact(art)
        assert sorted(f.path for f in art.files() if not f.path.startswith("examples.")) == [
            "files/config.json",
            "files/sub/weights.bin",
        ]
        assert art.get("examples").data == table.data
        assert art.tables() == ["examples"]
        reader = art.table_reader("examples")
        assert reader.nrows == 2 and reader.page(1, 5) == [[None, "é\n"]]
        with pytest.raises(UsageError, match="cannot change"):
            art.add_file(src / "config.json")
        folder = Path(art.download(Path("out")))
        assert (folder / "files" / "sub" / "weights.bin").read_bytes() == b"\x00" * 10


def test_versions_aliases_move_and_registry(tl_dir: Path) -> None:
    with tunelog.init(project="p") as run:
        versions = []
        for i in range(3):
            art = tunelog.Artifact("m", type="model")
            with art.new_file("w.txt", mode="w") as f:
                f.write(str(i))
            run.log_artifact(art, aliases=["best"] if i == 1 else [])
            versions.append(art)
        assert [a.version for a in versions] == ["v0", "v1", "v2"]
        api = tunelog.Api()
        assert api.artifact("p/m:best").version == "v1"
        assert api.artifact("p/m:latest").version == "v2"
        versions[2].add_aliases("best")
        assert api.artifact("p/m:best").version == "v2" and "best" not in api.artifact("p/m:v1").aliases
        linked = run.link_artifact(versions[1], "registry/chat-models", aliases=["production"])
        assert linked.project == "registry" and linked.version == "v0"
        prod = api.artifact("tester/registry/chat-models:production")
        assert prod.digest == versions[1].digest and prod.get_path("w.txt").read_text() == "1"
        versions[0].metadata["note"] = "old"
        versions[0].save()
        assert api.artifact("p/m:v0").metadata == {"note": "old"}
        versions[2].delete()
        assert api.artifact("p/m:latest").version == "v1"


def test_lineage(tl_dir: Path) -> None:
    with tunelog.init(project="p", job_type="upload") as up:
        data = tunelog.Artifact("train", type="dataset")
        with data.new_file("t.jsonl", mode="w") as f:
            f.write("{}\n")
        up.log_artifact(data)
    with tunelog.init(project="p", job_type="train") as train:
        train.use_artifact("train:latest")
        model = tunelog.Artifact("model", type="model")
        with model.new_file("m.json", mode="w") as f:
            f.write("{}")
        train.log_artifact(model)
    with tunelog.init(project="p", job_type="eval") as ev:
        ev.use_artifact("model:latest")
    api = tunelog.Api()
    d = api.artifact("p/train:latest")
    assert d.logged_by().id == up.id and [r.id for r in d.used_by()] == [train.id]  # type: ignore[union-attr]
    t = api.run(train.path)
    assert [a.name for a in t.used_artifacts()] == ["train"] and [a.name for a in t.logged_artifacts()] == [
        "model"
    ]
    assert [r.id for r in api.artifact("p/model:v0").used_by()] == [ev.id]
