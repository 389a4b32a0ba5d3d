"""Files, models, auth and error JSON: the parts of the simulator around fine-tuning and inference."""

from __future__ import annotations

import httpx2
import openai
import pytest

from tunelog.simulator import Simulator

from .simdata import AZURE_VERSION, chat_examples, finish, jsonl, upload


def test_files_upload_list_retrieve_content_delete(client: openai.OpenAI) -> None:
    content = jsonl(chat_examples(10))
    ids = [upload(client, content, f"f{i}.jsonl") for i in range(5)]
    other = client.files.create(file=("notes.txt", b"hello"), purpose="assistants")
    assert client.files.retrieve(ids[0]).bytes == len(content)
    assert client.files.content(ids[0]).content == content
    newest_first = [f.id for f in client.files.list(purpose="fine-tune", limit=2)]  # auto-paginates
    assert newest_first == ids[::-1]
    page = client.files.list(limit=2, order="asc")
    assert [f.id for f in page.data] == ids[:2] and page.has_more
    assert [f.id for f in client.files.list(purpose="assistants").data] == [other.id]
    deleted = client.files.delete(ids[0])
    assert deleted.deleted and deleted.id == ids[0]
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(ids[0])
    with pytest.raises(openai.NotFoundError):
        client.files.content(ids[0])


def test_upload_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("x.jsonl", b"{}"), purpose="bogus")  # type: ignore[arg-type]
    assert e.value.param == "purpose"
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("x.jsonl", b"{}"), purpose=None)  # type: ignore[arg-type]
    assert e.value.param == "purpose"


def test_models_list_retrieve_delete(sim: Simulator, client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"gpt-4o-mini", "gpt-4o-mini-2024-07-18", "text-embedding-3-small"} <= ids
    assert client.models.retrieve("gpt-4o-mini").owned_by == "system"
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client, chat_examples(10)))
    finish(sim)
    tuned = client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
    assert tuned and tuned in {m.id for m in client.models.list()}
    assert sim.state.known_model(tuned) and not sim.state.known_model("ft:gpt-4o-mini:x::nothere")
    assert client.models.delete(tuned).deleted
    assert tuned not in {m.id for m in client.models.list()} and not sim.state.known_model(tuned)
    with pytest.raises(openai.NotFoundError) as e:
        client.models.retrieve(tuned)
    assert e.value.code == "model_not_found"
    with pytest.raises(openai.PermissionDeniedError):
        client.models.delete("gpt-4o-mini")


def test_auth(sim: Simulator) -> None:
    r = httpx2.get(sim.url + "/models")
    assert r.status_code == 401 and "Authorization" in r.json()["error"]["message"]
    with Simulator(api_key="sk-right") as locked:
        with pytest.raises(openai.AuthenticationError) as e:
            openai.OpenAI(base_url=locked.url, api_key="sk-wrong-key", max_retries=0).models.list()
        assert e.value.code == "invalid_api_key" and "sk-wrong-key" not in e.value.message
        assert openai.OpenAI(base_url=locked.url, api_key="sk-right").models.list().data


@pytest.mark.parametrize(
    ("method", "path", "status", "needle"),
    [
        ("GET", "/v1/nowhere", 404, "Invalid URL (GET /v1/nowhere)"),
        ("DELETE", "/v1/fine_tuning/jobs", 405, "Not allowed to DELETE"),
        ("POST", "/v1/fine_tuning/jobs", 400, "could not parse the JSON body"),
        ("GET", "/v1/fine_tuning/jobs?limit=abc", 400, "Invalid 'limit'"),
        ("GET", "/v1/fine_tuning/jobs?after=ftjob-unknown", 404, "'after' cursor"),
    ],
)
def test_errors_are_openai_json(sim: Simulator, method: str, path: str, status: int, needle: str) -> None:
    r = httpx2.request(
        method,
        sim.base + path,
        content=b"{nope",
        headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
    )
    assert r.status_code == status
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and needle in error["message"]


def test_azure_needs_api_version_and_takes_api_key(sim: Simulator) -> None:
    base = sim.azure_endpoint + "/openai"
    missing = httpx2.get(base + "/models", headers={"api-key": "k"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "api-version"
    assert httpx2.get(base + f"/models?api-version={AZURE_VERSION}").status_code == 401
    assert (
        httpx2.get(base + f"/models?api-version={AZURE_VERSION}", headers={"api-key": "k"}).status_code == 200
    )
    assert httpx2.get(base + "/v1/models", headers={"api-key": "k"}).status_code == 200  # v1: no api-version
    bearer = httpx2.get(
        base + f"/models?api-version={AZURE_VERSION}", headers={"Authorization": "Bearer entra"}
    )
    assert bearer.status_code == 200


def test_serves_from_a_separate_process() -> None:
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunelog.simulator", "--port", str(port), "--speed", "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert (
            proc.stdout is not None and b"OPENAI_BASE_URL" in proc.stdout.readline() + proc.stdout.readline()
        )
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test", max_retries=0)
        for _ in range(500):  # the banner prints just before uvicorn binds
            try:
                assert client.models.list().data
                break
            except openai.APIConnectionError:
                time.sleep(0.01)
        httpx2.post(
            f"http://127.0.0.1:{port}/_admin/faults", json={"kind": "error", "status": 503, "times": 1}
        )
        with pytest.raises(openai.InternalServerError):
            client.models.list()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
