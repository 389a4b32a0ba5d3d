"""The example of the core issue and the seeds' samples that touch runs, artifacts and tables."""

from __future__ import annotations

import json
from pathlib import Path

import tunelog


def log_example() -> str:
    with tunelog.init(project="GPT-3", job_type="eval", config={"lr": 0.1}, tags=["baseline"]) as run:
        for step in range(100):
            run.log({"train/loss": 1 / (step + 1), "acc": step / 100}, step=step)
        table = tunelog.Table(columns=["prompt", "completion"], data=[["hi", "hello"]])
        run.log({"samples": table})
        art = tunelog.Artifact("model-metadata", type="model", metadata={"fine_tuned_model": "ft:x"})
        with art.new_file("model_metadata.json", mode="w", encoding="utf-8") as f:
            f.write('{"fine_tuned_model": "ft:x"}')
        run.log_artifact(art, aliases=["latest", "ftjob-123"])
        return run.id


def test_issue_example(tl_dir: Path) -> None:
    run_id = log_example()
    with tunelog.init(project="GPT-3", job_type="eval") as run:
        a = run.use_artifact("GPT-3/model-metadata:ftjob-123")
        path = a.download()
        assert json.loads((Path(path) / "model_metadata.json").read_text())["fine_tuned_model"] == "ft:x"
        f = a.get_path("model_metadata.json").download()
        assert Path(f).read_text() == '{"fine_tuned_model": "ft:x"}'
        assert a.metadata["fine_tuned_model"] == "ft:x"
        for selector in ("v0", "latest"):
            assert run.use_artifact(f"GPT-3/model-metadata:{selector}").version == "v0"
        assert run.use_artifact("tester/GPT-3/model-metadata:ftjob-123").digest == a.digest
        user_id = run.id

    api = tunelog.Api()
    r = api.run(f"GPT-3/{run_id}")
    assert r.config == {"lr": 0.1}
    assert r.state == "finished"
    assert r.summary["acc"] == 0.99 and r.summary["train/loss"] == 1 / 100
    assert r.summary["samples"]["_type"] == "table-ref"
    hist = r.history()
    # As in wandb: a log without step= joins the last explicit step, which is still open.
    assert len(hist) == 100 and hist[99]["samples"]["_type"] == "table-ref"
    assert hist[3]["_step"] == 3 and hist[3]["acc"] == 0.03
    assert [row["_step"] for row in r.scan_history(keys=["acc"])] == list(range(100))
    assert r.logged_table("samples").data == [["hi", "hello"]]
    runs = api.runs("GPT-3", filters={"tags": {"$in": ["baseline"]}}, order="-created_at")
    assert [x.id for x in runs] == [run_id]
    art = api.artifact("GPT-3/model-metadata:latest")
    assert art.version == "v0" and set(art.aliases) == {"latest", "ftjob-123"}
    assert art.logged_by().id == run_id  # type: ignore[union-attr]
    assert [x.id for x in art.used_by()] == [user_id]


def test_seed_samples(tl_dir: Path) -> None:
    """Seeds 000/001/002: use_artifact with VERSION as v2, a fine-tune id alias and latest."""
    for i in range(3):
        with tunelog.init(project="OpenAI-Fine-Tune", job_type="fine-tune") as run:
            art = tunelog.Artifact("model-metadata", type="model", metadata={"fine_tuned_model": f"ft:m{i}"})
            with art.new_file("model_metadata.json", mode="w", encoding="utf-8") as f:
                json.dump({"fine_tuned_model": f"ft:m{i}"}, f)
            run.log_artifact(art, aliases=["latest", f"ftjob-{i}abc"])
            valid = tunelog.Artifact(f"valid-file-{i}", type="validation_files")
            with valid.new_file(f"file-{i}.jsonl", mode="w") as f:
                f.write('{"messages": []}\n')
            run.log_artifact(valid, aliases=["latest", f"file-{i}"])

    # seed 001: with wandb.init(project=..., entity=...) as run: run.use_artifact(...).download()
    with tunelog.init(project="OpenAI-Fine-Tune", entity="tester") as run:
        for version, expected in (("v2", "ft:m2"), ("ftjob-1abc", "ft:m1"), ("latest", "ft:m2")):
            ft_artifact = run.use_artifact(f"tester/OpenAI-Fine-Tune/model-metadata:{version}")
            artifact_dir = ft_artifact.download()
            meta = json.loads((Path(artifact_dir) / "model_metadata.json").read_text())
            assert meta["fine_tuned_model"] == expected

    # seed 002: wandb.run.use_artifact(...) on the active run
    tunelog.init(project="OpenAI-Fine-Tune")
    assert tunelog.run is not None
    ft_artifact = tunelog.run.use_artifact("tester/OpenAI-Fine-Tune/model-metadata:v2")
    assert Path(ft_artifact.download(), "model_metadata.json").exists()

    # seed 000: use_artifact(...).metadata and get_path(FILENAME).download()
    run = tunelog.init(project="OpenAI-Fine-Tune", job_type="eval")
    artifact_job = run.use_artifact("tester/OpenAI-Fine-Tune/model-metadata:latest")
    assert artifact_job.metadata["fine_tuned_model"] == "ft:m2"
    artifact_valid = run.use_artifact("tester/OpenAI-Fine-Tune/valid-file-1:latest")
    valid_file = artifact_valid.get_path("file-1.jsonl").download()
    assert Path(valid_file).read_text() == '{"messages": []}\n'
    table = tunelog.Table(columns=["prompt", "completion"], data=[["PROMPT_1", "r1"], ["PROMPT_2", "r2"]])
    run.log({"results": table})
    run.finish()
