"""FineTuneLogger.sync through the real openai SDK against the simulator, into a real SQLite store."""
# ruff: noqa: F811  (pytest fixtures imported from .ftkit are redefined as test arguments)

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path
from typing import Any

import openai
import pytest

import tunelog
from tunelog.integration.openai import FineTuneLogger
from tunelog.integration.openai.fine_tuning import SyncResult
from tunelog.integration.openai.openai_client import SyncError
from tunelog.simulator.server import Simulator

from .ftkit import (  # noqa: F401  (fixtures)
    AZURE_VERSION,
    FAST_RETRY,
    PROJECT,
    chat,
    client,
    done_job,
    finish,
    jsonl,
    sim,
    slow_sim,
    start_job,
    upload,
)


def sync(client: Any, **kw: Any) -> SyncResult:
    kw.setdefault("poll_interval", 0.01)
    kw.setdefault("retry", FAST_RETRY)
    return FineTuneLogger.sync(openai_client=client, **kw)


def result_rows(client: Any, job: Any) -> list[dict[str, str]]:
    raw = client.files.content(job.result_files[0]).read()
    return list(csv.DictReader(io.StringIO(base64.b64decode(raw).decode())))


def test_one_job_becomes_a_run(tl_dir: Path, client: openai.OpenAI, done_job: Any) -> None:
    result = sync(client, fine_tune_job_id=done_job.id)
    assert [j.action for j in result] == ["synced"] and result.ok
    api = tunelog.Api()
    run = api.run(f"{PROJECT}/{done_job.id}")
    assert (run.id, run.name, run.job_type, run.state) == (done_job.id, done_job.id, "fine-tune", "finished")
    assert result.runs == [run.path]

    cfg = run.config
    assert cfg["hyperparameters"]["n_epochs"] == 2 and cfg["method"]["type"] == "supervised"
    assert cfg["method_type"] == "supervised" and cfg["base_model"] == "gpt-4o-mini-2024-07-18"
    assert cfg["training_file"] == done_job.training_file and cfg["training_file_name"] == "train.jsonl"
    assert cfg["validation_file_name"] == "valid.jsonl" and (cfg["n_train"], cfg["n_valid"]) == (24, 10)
    assert cfg["created_at"].endswith("Z") and "T" in cfg["created_at"]
    assert api.runs(PROJECT, filters={"config.hyperparameters.n_epochs": 2})[0].id == done_job.id

    rows = result_rows(client, done_job)
    history = run.history()
    assert [h["_step"] for h in history] == [int(r["step"]) for r in rows]  # every step once
    for h, r in zip(history, rows, strict=True):
        assert h["train_loss"] == pytest.approx(float(r["train_loss"]))
        assert h["train_accuracy"] == pytest.approx(float(r["train_accuracy"]))
        assert ("valid_loss" in h) == bool(r["valid_loss"])  # empty cells skipped
        assert "train_mean_token_accuracy" not in h  # the live series has the file's name

    s = run.summary
    assert s["status"] == "succeeded" and s["fine_tuned_model"] == done_job.fine_tuned_model
    assert s["trained_tokens"] == done_job.trained_tokens and s["duration_seconds"] > 0
    assert s["estimated_cost_usd"] == pytest.approx(done_job.trained_tokens * 3.0 / 1e6)
    assert s["train_loss"] == pytest.approx(float(rows[-1]["train_loss"])) and s["error"] is None
    assert s["sync"]["complete"] is True

    api_events = list(client.fine_tuning.jobs.list_events(done_job.id, limit=100))
    events = run.events()
    assert {e.id for e in events} == {e.id for e in api_events}
    assert any(e.message.startswith("Created fine-tuning job") for e in events)

    checkpoints = run.logged_table("checkpoints")
    api_ckpts = list(client.fine_tuning.jobs.checkpoints.list(done_job.id))
    assert sorted(checkpoints.get_column("checkpoint_model")) == sorted(
        c.fine_tuned_model_checkpoint for c in api_ckpts
    )
    # the checkpoints table names each metric as the history does (the result file's column names)
    assert "train_accuracy" in checkpoints.columns and "train_mean_token_accuracy" not in checkpoints.columns
    assert {"step", "train_loss", "valid_loss"} <= set(checkpoints.columns)
    by_step = {int(r["step"]): r for r in rows}
    for ck_step, acc in zip(
        checkpoints.get_column("step"), checkpoints.get_column("train_accuracy"), strict=True
    ):
        assert acc == pytest.approx(float(by_step[ck_step]["train_accuracy"]), abs=1e-3)


def test_dataset_and_model_artifacts(tl_dir: Path, client: openai.OpenAI, done_job: Any) -> None:
    result = sync(client, fine_tune_job_id=done_job.id)
    api = tunelog.Api()
    train_id, valid_id = done_job.training_file, done_job.validation_file
    train = api.artifact(f"{PROJECT}/train-{train_id}:{train_id}")
    valid = api.artifact(f"{PROJECT}/valid-{valid_id}:latest")
    assert (train.type, valid.type) == ("training_files", "validation_files")
    assert sorted(train.aliases) == sorted(["latest", train_id])
    raw = Path(train.get_path("train.jsonl").download(tl_dir.parent / "dl")).read_bytes()
    assert raw == client.files.content(train_id).read()
    meta = train.metadata
    assert meta["examples"] == 24 and meta["format"] == "chat" and meta["unparsed"] == 0
    assert meta["tokens"]["total"] * 2 == done_job.trained_tokens  # exact, offline (2 epochs)
    assert meta["tokens"]["min"] <= meta["tokens"]["mean"] <= meta["tokens"]["max"]
    table = train.table_reader("examples")
    assert table.nrows == 24 and table.page(0, 1)[0][table.columns.index("format")] == "chat"
    run_path = f"tester/{PROJECT}/{done_job.id}"
    assert [r.path for r in train.used_by()] == [run_path]

    model = api.artifact(f"{PROJECT}/model-metadata:{done_job.id}")
    assert model.type == "model" and sorted(model.aliases) == sorted(["latest", done_job.id])
    assert model.metadata["fine_tuned_model"] == done_job.fine_tuned_model
    assert model.logged_by() is not None and model.logged_by().path == run_path  # type: ignore[union-attr]
    on_disk = json.loads(model.get_path("model_metadata.json").read_text())
    assert on_disk["fine_tuned_model"] == done_job.fine_tuned_model and on_disk["id"] == done_job.id
    assert set(result.artifacts) == {train.qualified_name, valid.qualified_name, model.qualified_name}


def test_seed_samples_read_the_model_back(tl_dir: Path, client: openai.OpenAI, done_job: Any) -> None:
    sync(client, fine_tune_job_id=done_job.id)
    with tunelog.init(project=PROJECT, job_type="eval") as run:
        for version in (done_job.id, "v0", "latest"):
            art = run.use_artifact(f"tester/{PROJECT}/model-metadata:{version}")
            assert art.metadata["fine_tuned_model"] == done_job.fine_tuned_model
        folder = Path(art.download())
        assert json.loads((folder / "model_metadata.json").read_text())["fine_tuned_model"]
        valid = run.use_artifact(f"tester/{PROJECT}/valid-{done_job.validation_file}:latest")
        assert Path(valid.get_path("valid.jsonl").download()).stat().st_size > 0


def test_resync_is_idempotent_and_overwrite_replaces(
    tl_dir: Path, client: openai.OpenAI, done_job: Any
) -> None:
    sync(client, fine_tune_job_id=done_job.id, tags=["first"])
    api = tunelog.Api()
    path = f"{PROJECT}/{done_job.id}"
    before = api.run(path).history()
    again = sync(client, fine_tune_job_id=done_job.id)
    assert [j.action for j in again] == ["skipped"] and "already synced" in (again.jobs[0].message or "")
    with tunelog.init(project=PROJECT, id=done_job.id, resume="must") as run:
        run.config["stale"] = 1  # something the overwrite must replace
    forced = sync(client, fine_tune_job_id=done_job.id, force=True)  # the older name of overwrite
    assert [j.action for j in forced] == ["synced"]
    run = api.run(path)
    assert "stale" not in run.config and run.tags == ["first"]
    after = run.history()
    assert after == [dict(h, _timestamp=a["_timestamp"]) for h, a in zip(before, after, strict=True)]
    assert [a.version for a in api.artifact_versions(f"{PROJECT}/model-metadata")] == ["v0"]
    assert [a.version for a in api.artifact_versions(f"{PROJECT}/train-{done_job.training_file}")] == ["v0"]
    assert len(run.events()) == len(list(client.fine_tuning.jobs.list_events(done_job.id, limit=100)))


def test_all_jobs_newest_first_and_num_fine_tunes(
    tl_dir: Path, sim: Simulator, client: openai.OpenAI
) -> None:
    train = upload(client, chat(12))
    jobs = [start_job(client, train, suffix=f"j{i}") for i in range(3)]
    finish(sim)
    two = sync(client, num_fine_tunes=2)
    assert [j.job_id for j in two] == [jobs[2].id, jobs[1].id]
    rest = sync(client, n_fine_tunes=None)
    assert [(j.job_id, j.action) for j in rest] == [
        (jobs[2].id, "skipped"),
        (jobs[1].id, "skipped"),
        (jobs[0].id, "synced"),
    ]
    # one training file, three jobs: one dataset version, used by all three runs
    versions = tunelog.Api().artifact_versions(f"{PROJECT}/train-{train}")
    assert len(versions) == 1 and len(versions[0].used_by()) == 3


def test_a_logged_file_is_not_downloaded_again(tl_dir: Path, sim: Simulator, client: openai.OpenAI) -> None:
    train = upload(client, chat(12))
    first = start_job(client, train)
    second = start_job(client, train, suffix="again")
    finish(sim)
    sync(client, fine_tune_job_id=first.id)
    sim.faults.error(f"/files/{train}/content", status=404)  # a second download would fail
    result = sync(client, fine_tune_job_id=second.id)
    assert result.ok and f"tester/{PROJECT}/train-{train}:v0" in result.artifacts
    assert tunelog.Api().run(f"{PROJECT}/{second.id}").config["n_train"] == 12


def test_log_datasets_false(tl_dir: Path, client: openai.OpenAI, done_job: Any) -> None:
    result = sync(client, fine_tune_job_id=done_job.id, log_datasets=False, model_artifact_name="ft-details",
                  model_artifact_type="fine_tune_details")  # fmt: skip
    assert [a.split("/")[-1] for a in result.artifacts] == ["ft-details:v0"]
    api = tunelog.Api()
    assert [c.name for c in api.artifact_collections(PROJECT)] == ["ft-details"]
    assert api.artifact(f"{PROJECT}/ft-details:latest").type == "fine_tune_details"


def test_failed_and_cancelled_jobs_are_recorded(tl_dir: Path, sim: Simulator, client: openai.OpenAI) -> None:
    train = upload(client, chat(12))
    sim.faults.fail_job(at=0.5, code="internal_error", message="Boom (simulated).")
    failed = start_job(client, train)
    cancelled = start_job(client, train, suffix="c")
    client.fine_tuning.jobs.cancel(cancelled.id)
    finish(sim)
    result = sync(client, fine_tune_job_id=[failed.id, cancelled.id])
    assert {j.job_id: j.status for j in result} == {failed.id: "failed", cancelled.id: "cancelled"}
    api = tunelog.Api()
    run = api.run(f"{PROJECT}/{failed.id}")
    assert run.state == "failed" and run.summary["error"]["message"] == "Boom (simulated)."
    assert run.summary["error"]["code"] == "internal_error" and run.summary["fine_tuned_model"] is None
    assert run.history() and run.summary["sync"]["complete"]  # metrics up to the failure, from events
    assert api.run(f"{PROJECT}/{cancelled.id}").state == "failed"
    assert "model-metadata" not in [c.name for c in api.artifact_collections(PROJECT)]


def test_follow_a_running_job_live(tl_dir: Path, slow_sim: Simulator) -> None:
    client = openai.OpenAI(base_url=slow_sim.url, api_key="sk-test", max_retries=0)
    job = start_job(client, upload(client, chat(40)), hyperparameters={"n_epochs": 1, "batch_size": 1})
    slow_sim.clock.advance(7 + 10)  # validated, queued, 20 of 40 steps trained
    early = sync(client, fine_tune_job_id=job.id, wait_for_job_success=False)
    assert early.jobs[0].status == "running" and not early.jobs[0].complete
    api = tunelog.Api()
    run = api.run(f"{PROJECT}/{job.id}")
    assert run.state == "finished" and run.summary["status"] == "running"
    live = run.history()
    assert 0 < len(live) < 40 and "train_accuracy" in live[-1]
    timed = sync(client, fine_tune_job_id=job.id, timeout=0.0)
    assert timed.jobs[0].status == "running" and any("timeout" in w for w in timed.warnings)
    finish(slow_sim)
    done = sync(client, fine_tune_job_id=job.id)
    assert done.jobs[0].complete
    history = api.run(f"{PROJECT}/{job.id}").history()
    assert [h["_step"] for h in history] == list(range(1, 41))  # live steps written over, none twice
    assert [
        h["train_loss"] for h in history[: len(live)]
    ] != [] and "train_mean_token_accuracy" not in history[0]


def test_a_users_open_runs_are_never_finished(tl_dir: Path, client: openai.OpenAI, done_job: Any) -> None:
    mine = tunelog.init(project="mine")
    sync(client, fine_tune_job_id=done_job.id)
    assert tunelog.run is mine and mine.state == "running"
    own = tunelog.init(
        project=PROJECT, id=done_job.id, resume="allow", reinit=True
    )  # the user opens the job's run
    sync(client, fine_tune_job_id=done_job.id, overwrite=True)
    assert tunelog.run is own and own.state == "running"
    own.finish()
    assert tunelog.Api().run(f"{PROJECT}/{done_job.id}").state == "finished"


def test_azure_openai(tl_dir: Path, sim: Simulator) -> None:
    azure = openai.AzureOpenAI(
        azure_endpoint=sim.azure_endpoint, api_key="azure-key", api_version=AZURE_VERSION, max_retries=0
    )
    job = start_job(azure, upload(azure, chat(12)), model="gpt-35-turbo-0125")
    finish(sim)
    result = sync(azure, fine_tune_job_id=job.id, project="azure-ft")
    assert result.ok
    run = tunelog.Api().run(f"azure-ft/{job.id}")
    assert run.summary["status"] == "succeeded" and run.summary["fine_tuned_model"].startswith("gpt-35-turbo")
    assert run.config["organisation_id"] and run.history()
    assert run.summary["estimated_cost_usd"] is None and "gpt-35-turbo" in run.summary["cost_note"]
    table = tunelog.Api().artifact(f"azure-ft/train-{job.training_file}:latest").table_reader("examples")
    assert "tokens (cl100k_base)" in table.columns


def test_client_from_the_environment(
    tl_dir: Path, sim: Simulator, done_job: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", sim.url)
    result = FineTuneLogger.sync(id=done_job.id, project="GPT-3", entity="team", force=False)
    assert result.runs == [f"team/GPT-3/{done_job.id}"]


def test_client_from_the_azure_environment(
    tl_dir: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    azure = openai.AzureOpenAI(azure_endpoint=sim.azure_endpoint, api_key="k", api_version=AZURE_VERSION)
    job = start_job(azure, upload(azure, chat(12)), model="gpt-35-turbo-0125")
    finish(sim)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", sim.azure_endpoint)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k")
    monkeypatch.setenv("OPENAI_API_VERSION", AZURE_VERSION)
    assert FineTuneLogger.sync(fine_tune_job_id=job.id).ok


def test_transient_errors_are_retried(
    tl_dir: Path, sim: Simulator, client: openai.OpenAI, done_job: Any
) -> None:
    sim.faults.error("/fine_tuning/jobs/*", status=503, times=2)
    sim.faults.error("/files/*/content", status=429, retry_after=0.01, times=2)
    sim.faults.error("/fine_tuning/jobs/*/events", status=500, times=1)
    assert sync(client, fine_tune_job_id=done_job.id).ok


def test_a_dropped_connection_is_retried(tl_dir: Path, sim: Simulator, done_job: Any) -> None:
    impatient = openai.OpenAI(base_url=sim.url, api_key="sk-test", max_retries=0, timeout=0.3)
    sim.faults.latency("/files/*/content", seconds=2.0, times=1)  # the first download times out
    assert sync(impatient, fine_tune_job_id=done_job.id).ok


def test_connections_dropped_mid_download_and_mid_response_are_retried(
    tl_dir: Path, sim: Simulator, client: openai.OpenAI, done_job: Any
) -> None:
    dataset = sim.faults.cut_body("/files/*/content", after_bytes=700, times=3)  # result file, datasets
    info = sim.faults.cut_body("/files/file-*", after_bytes=30, times=1)  # a file's JSON, cut short
    result = sync(client, fine_tune_job_id=done_job.id)
    assert result.ok and dataset.fired == 3 and info.fired == 1
    api = tunelog.Api()
    train = api.artifact(f"{PROJECT}/train-{done_job.training_file}:latest")
    raw = Path(train.get_path("train.jsonl").download(tl_dir.parent / "dl")).read_bytes()
    assert raw == client.files.content(done_job.training_file).read()  # whole, not the cut-off part
    assert train.metadata["examples"] == 24 and train.metadata["unparsed"] == 0
    run = api.run(f"{PROJECT}/{done_job.id}")
    assert len(run.history()) == len(result_rows(client, done_job)) and run.summary["sync"]["complete"]


def test_unknown_job_id(tl_dir: Path, client: openai.OpenAI, done_job: Any) -> None:
    with pytest.raises(SyncError, match=r"ftjob-nope.*not found.*Check the id"):
        sync(client, fine_tune_job_id="ftjob-nope")
    mixed = sync(client, fine_tune_job_id=["ftjob-nope", done_job.id])
    assert [j.action for j in mixed] == ["error", "synced"] and not mixed.ok


def test_the_legacy_arguments_are_understood(tl_dir: Path, client: openai.OpenAI, done_job: Any) -> None:
    with pytest.raises(tunelog.errors.UsageError if hasattr(tunelog, "errors") else Exception):
        sync(client, fine_tune_job_id=done_job.id, id=done_job.id)
    with pytest.raises(TypeError, match="unexpected"):
        sync(client, fine_tune_job_id=done_job.id, bogus=1)
    res = sync(
        client, id=done_job.id, n_fine_tunes=None, project="GPT-3", entity=None, force=False, notes="hi"
    )
    assert tunelog.Api().run(f"GPT-3/{done_job.id}").notes == "hi" and res.ok


def test_other_formats_sync(tl_dir: Path, sim: Simulator, client: openai.OpenAI) -> None:
    dpo = [
        {
            "input": {"messages": [{"role": "user", "content": f"Say hi to {i}"}]},
            "preferred_output": [{"role": "assistant", "content": f"Hi {i}!"}],
            "non_preferred_output": [{"role": "assistant", "content": "no"}],
        }
        for i in range(12)
    ]
    job = start_job(
        client,
        upload(client, dpo, "dpo.jsonl"),
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}},
    )
    finish(sim)
    assert sync(client, fine_tune_job_id=job.id).ok
    run = tunelog.Api().run(f"{PROJECT}/{job.id}")
    assert (
        run.config["method"]["dpo"]["hyperparameters"]["beta"] == 0.2 and run.config["method_type"] == "dpo"
    )
    assert tunelog.Api().runs(PROJECT, filters={"config.method.dpo.hyperparameters.beta": 0.2})
    art = tunelog.Api().artifact(f"{PROJECT}/train-{job.training_file}:latest")
    assert art.metadata["format"] == "dpo" and art.metadata["warning_count"] == 0


def test_sample_data_makes_good_jobs(tl_dir: Path, client: openai.OpenAI, sim: Simulator) -> None:
    from tunelog.integration.openai.demo_finetune import run_finetune_demo
    from tunelog.settings import Settings

    paths = run_finetune_demo(Settings.resolve(), sim, live=False, poll_interval=0.01)
    states = sorted(tunelog.Api().run(p).state for p in paths)
    assert len(paths) == 3 and states == ["failed", "finished", "finished"]
    assert jsonl([]) == b""
