"""Bad input: each case gives a one-line message naming the job/file/line, and leaves nothing half-written."""
# ruff: noqa: F811  (pytest fixtures imported from .ftkit are redefined as test arguments)

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from click.testing import CliRunner

import tunelog
from tunelog.cli import main
from tunelog.integration.openai import FineTuneLogger
from tunelog.integration.openai.openai_client import FatalSyncError, RetryPolicy, SyncError
from tunelog.simulator.server import Simulator

from .ftkit import FAST_RETRY, PROJECT, chat, client, finish, jsonl, sim, start_job, upload  # noqa: F401


def sync(client: Any, **kw: Any) -> Any:
    kw.setdefault("poll_interval", 0.01)
    return FineTuneLogger.sync(openai_client=client, retry=FAST_RETRY, **kw)


def nothing_stored(project: str = PROJECT) -> bool:
    api = tunelog.Api()
    return not api.runs(project) and not api.artifact_collections(project)


def one_line(text: str) -> bool:
    return "\n" not in text.strip() and len(text) < 600


def bad_file_job(sim: Simulator, client: openai.OpenAI, content: bytes) -> tuple[Any, Any]:
    job = start_job(client, upload(client, content, "train.jsonl"))
    finish(sim)
    result = sync(client, fine_tune_job_id=job.id)
    return client.fine_tuning.jobs.retrieve(job.id), result


def test_malformed_lines(tl_dir: Path, sim: Simulator, client: openai.OpenAI) -> None:
    content = jsonl(chat(12)).replace(b"\n", b"\n{not json\n", 1)
    job, result = bad_file_job(sim, client, content)
    assert job.status == "failed" and job.error.code == "invalid_training_file"
    run = tunelog.Api().run(f"{PROJECT}/{job.id}")
    assert run.state == "failed" and "Line 2" in run.summary["error"]["message"]
    meta = tunelog.Api().artifact(f"{PROJECT}/train-{job.training_file}:latest").metadata
    assert meta["unparsed"] == 1 and meta["unparsed_lines"][0]["line"] == 2 and meta["examples"] == 12
    warning = next(w for w in result.warnings if "line 2" in w)
    assert job.id in warning and job.training_file in warning and "JSON" in warning and one_line(warning)
    reader = tunelog.Api().artifact(f"{PROJECT}/train-{job.training_file}:latest").table_reader("examples")
    assert reader.nrows == 13 and "error" in reader.row(1)[-1]  # the bad line stays visible


def test_not_utf8(tl_dir: Path, sim: Simulator, client: openai.OpenAI) -> None:
    content = jsonl(chat(12)) + '{"messages": [{"role": "user", "content": "café"}]}\n'.encode("latin-1")
    job, result = bad_file_job(sim, client, content)
    meta = tunelog.Api().artifact(f"{PROJECT}/train-{job.training_file}:latest").metadata
    assert meta["unparsed"] == 1 and "UTF-8" in meta["unparsed_lines"][0]["error"]
    assert any("line 13" in w and "UTF-8" in w for w in result.warnings)


def test_empty_file(tl_dir: Path, sim: Simulator, client: openai.OpenAI) -> None:
    job, result = bad_file_job(sim, client, b"")
    meta = tunelog.Api().artifact(f"{PROJECT}/train-{job.training_file}:latest").metadata
    assert meta["examples"] == 0 and meta["bytes"] == 0
    assert any("no examples" in w and "empty" in w for w in result.warnings)
    assert tunelog.Api().run(f"{PROJECT}/{job.id}").state == "failed"


def test_a_5mb_example(tl_dir: Path, sim: Simulator, client: openai.OpenAI) -> None:
    huge = {
        "messages": [{"role": "user", "content": "word " * 1_000_000}, {"role": "assistant", "content": "ok"}]
    }
    content = jsonl(chat(10)) + json.dumps(huge).encode() + b"\n"
    job, result = bad_file_job(sim, client, content)
    meta = tunelog.Api().artifact(f"{PROJECT}/train-{job.training_file}:latest").metadata
    assert meta["examples"] == 11 and meta["largest_line_bytes"] > 5_000_000
    assert any("line 11" in w and "MB" in w for w in result.warnings)
    assert any("line 11" in w and "tokens" in w for w in result.warnings)


@pytest.mark.parametrize("mode", ["missing", "empty", "unparseable"])
def test_broken_result_file_writes_nothing(
    tl_dir: Path, sim: Simulator, client: openai.OpenAI, mode: str
) -> None:
    sim.faults.break_result_file(mode)  # type: ignore[arg-type]
    job = start_job(client, upload(client, chat(12)))
    finish(sim)
    with pytest.raises(SyncError) as err:
        sync(client, fine_tune_job_id=job.id)
    message = str(err.value)
    assert job.id in message and "result file" in message.lower() and one_line(message)
    assert {"missing": "not found", "empty": "it is empty", "unparseable": "base64"}[mode] in message
    assert nothing_stored()
    res = CliRunner().invoke(main, ["sync", "--id", job.id], env=_env(sim))
    assert res.exit_code == 1 and job.id in res.output and nothing_stored()


def test_unknown_job_id(tl_dir: Path, sim: Simulator, client: openai.OpenAI) -> None:
    res = CliRunner().invoke(main, ["sync", "--id", "ftjob-unknown"], env=_env(sim))
    assert res.exit_code == 1 and "ftjob-unknown" in res.output and "not found" in res.output
    assert nothing_stored()


def test_wrong_api_key(tl_dir: Path) -> None:
    with Simulator(speed=1000, api_key="sk-right") as strict:
        wrong = openai.OpenAI(base_url=strict.url, api_key="sk-wrong", max_retries=0)
        with pytest.raises(FatalSyncError, match=r"rejected the API key.*401.*OPENAI_API_KEY") as err:
            sync(wrong)
        assert one_line(str(err.value))
        res = CliRunner().invoke(main, ["sync"], env={**_env(strict), "OPENAI_API_KEY": "sk-wrong"})
        assert res.exit_code == 1 and "401" in res.output
    assert nothing_stored()


def test_network_down(tl_dir: Path) -> None:
    with Simulator() as gone:
        url = gone.url
    down = openai.OpenAI(base_url=url, api_key="sk-test", max_retries=0)
    with pytest.raises(FatalSyncError, match=r"Could not reach.*after 4 attempts.*network") as err:
        FineTuneLogger.sync(openai_client=down, retry=RetryPolicy(attempts=4, backoff=0.001))
    assert one_line(str(err.value)) and nothing_stored()


def test_no_credentials(tl_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    res = CliRunner().invoke(main, ["sync"])
    assert res.exit_code == 1 and "OPENAI_API_KEY" in res.output


def test_bad_arguments(tl_dir: Path, client: openai.OpenAI) -> None:
    for kw in ({"num_fine_tunes": 0}, {"project": "a/b"}, {"poll_interval": 0}, {"fine_tune_job_id": ""}):
        with pytest.raises(tunelog.errors.UsageError):  # type: ignore[attr-defined]
            sync(client, **kw)
    assert CliRunner().invoke(main, ["sync", "-n", "0"], env={"OPENAI_API_KEY": "k"}).exit_code == 2


def _env(sim: Simulator) -> dict[str, str]:
    return {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": sim.url, "AZURE_OPENAI_ENDPOINT": ""}
