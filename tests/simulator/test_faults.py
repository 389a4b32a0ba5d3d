"""Each fault injection, and what the openai SDK sees when it strikes."""

from __future__ import annotations

import base64
import binascii

import httpx2
import openai
import pytest

from tunelog.simulator import Simulator

from .simdata import chat_examples, finish, upload

MESSAGES = [{"role": "user", "content": "Hello"}]


def _chat(client: openai.OpenAI) -> str:
    r = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    return r.choices[0].message.content or ""


def test_rate_limit_without_retries_raises_with_retry_after(sim: Simulator, client: openai.OpenAI) -> None:
    sim.faults.error("/chat/completions", status=429, retry_after=2)
    with pytest.raises(openai.RateLimitError) as e:
        _chat(client)
    assert e.value.status_code == 429 and e.value.code == "rate_limit_exceeded"
    assert e.value.response.headers["retry-after"] == "2"
    assert client.models.list().data, "other routes are untouched"


def test_rate_limit_is_retried_by_the_sdk(sim: Simulator, client: openai.OpenAI) -> None:
    fault = sim.faults.error("/chat/completions", status=429, retry_after=0.01, times=2)
    assert _chat(client.with_options(max_retries=2))  # two 429s, then the answer
    assert fault.fired == 2
    forever = sim.faults.error("/chat/completions", status=429, retry_after=0.01)
    with pytest.raises(openai.RateLimitError):
        _chat(client.with_options(max_retries=2))
    assert forever.fired == 3  # the first try and two retries


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, openai.InternalServerError), (503, openai.InternalServerError)],
    ids=["500", "503"],
)
def test_server_errors(sim: Simulator, client: openai.OpenAI, status: int, error: type[Exception]) -> None:
    sim.faults.error("/fine_tuning/jobs*", status=status, retry_after=0.01)
    with pytest.raises(error) as e:
        client.fine_tuning.jobs.list()
    assert isinstance(e.value, openai.APIStatusError) and e.value.status_code == status
    sim.faults.clear()
    assert client.fine_tuning.jobs.list().data == []


def test_error_rate_is_seeded(client: openai.OpenAI) -> None:
    def pattern(seed: int) -> list[bool]:
        with Simulator(seed=seed) as s:
            c = openai.OpenAI(base_url=s.url, api_key="k", max_retries=0)
            s.faults.error("/models", status=500, rate=0.5)
            out = []
            for _ in range(16):
                try:
                    c.models.list()
                    out.append(True)
                except openai.InternalServerError:
                    out.append(False)
            return out

    first = pattern(5)
    assert first == pattern(5) and True in first and False in first


def test_added_latency_trips_the_client_timeout(sim: Simulator, client: openai.OpenAI) -> None:
    sim.faults.latency("/embeddings", seconds=1)
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.1).embeddings.create(model="text-embedding-3-small", input="x")
    assert client.models.list().data, "latency on one route does not hold up the others"


def test_stream_cut_mid_way(sim: Simulator, client: openai.OpenAI) -> None:
    sim.faults.cut_stream("/chat/completions", after_events=3, times=1)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        max_tokens=50,
    )
    got = []
    with pytest.raises((httpx2.RemoteProtocolError, openai.APIConnectionError)):
        for chunk in stream:
            got.append(chunk)
    assert len(got) == 3
    assert _chat(client), "the next stream is whole again"


def test_job_fails_with_the_given_error(sim: Simulator, client: openai.OpenAI) -> None:
    sim.faults.fail_job(code="server_error", message="Out of GPUs (injected).", at=0.5)
    file_id = upload(client, chat_examples(10))
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    healthy = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    finish(sim)
    job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "failed" and job.error and job.error.code == "server_error"
    assert job.error.message == "Out of GPUs (injected)." and job.fine_tuned_model is None
    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    assert events[0].level == "error"
    steps = [e.data["step"] for e in events if e.type == "metrics"]  # type: ignore[index]
    assert steps and max(steps) < job.hyperparameters.n_epochs * 10  # type: ignore[operator]
    assert client.fine_tuning.jobs.retrieve(healthy.id).status == "succeeded"


def test_missing_result_file(sim: Simulator, client: openai.OpenAI) -> None:
    sim.faults.break_result_file("missing")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client, chat_examples(10)))
    finish(sim)
    job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded" and len(job.result_files) == 1
    with pytest.raises(openai.NotFoundError):
        client.files.content(job.result_files[0])


def test_unparseable_result_file(sim: Simulator, client: openai.OpenAI) -> None:
    sim.faults.break_result_file("unparseable")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client, chat_examples(10)))
    finish(sim)
    content = client.files.content(client.fine_tuning.jobs.retrieve(job.id).result_files[0]).content
    with pytest.raises(binascii.Error):
        base64.b64decode(content)


def test_admin_route_configures_faults(sim: Simulator, client: openai.OpenAI) -> None:
    admin = httpx2.Client(base_url=sim.base + "/_admin")
    added = admin.post(
        "/faults", json={"kind": "error", "route": "/models", "status": 503, "times": 1}
    ).json()
    assert added["id"] and admin.get("/faults").json()["data"][0]["status"] == 503
    with pytest.raises(openai.InternalServerError):
        client.models.list()
    client.models.list()  # times=1: spent
    bad = admin.post("/faults", json={"kind": "meteor"})
    assert bad.status_code == 400 and "unknown fault kind" in bad.json()["error"]["message"]
    admin.post("/faults", json={"kind": "error", "route": "*", "status": 500})
    assert admin.delete("/faults").json()["deleted"] == 2
    assert client.models.list().data
    before = admin.get("/clock").json()["now"]
    assert admin.post("/clock", json={"advance": 3600}).json()["now"] >= before + 3600


def test_empty_result_file(sim: Simulator, client: openai.OpenAI) -> None:
    sim.faults.break_result_file("empty")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client, chat_examples(10)))
    finish(sim)
    job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded" and client.files.content(job.result_files[0]).content == b""
    with pytest.raises(ValueError, match="empty"):
        sim.faults.break_result_file("blank")  # type: ignore[arg-type]


def test_download_cut_mid_way(sim: Simulator, client: openai.OpenAI) -> None:
    file_id = upload(client, chat_examples(200))
    whole = client.files.content(file_id).content
    fault = sim.faults.cut_body(after_bytes=1000, times=1)
    got = b""
    with (
        pytest.raises((httpx2.RemoteProtocolError, openai.APIConnectionError)),
        client.files.with_streaming_response.content(file_id) as response,
    ):
        for chunk in response.iter_bytes():
            got += chunk
    assert fault.fired == 1 and got == whole[:1000]
    assert client.files.content(file_id).content == whole, "times=1: the next download is whole"


def test_json_response_cut_mid_way(sim: Simulator, client: openai.OpenAI) -> None:
    file_id = upload(client, chat_examples(10))
    sim.faults.cut_body("/files/*", after_bytes=20, times=1)
    with pytest.raises(openai.APIConnectionError):
        client.files.retrieve(file_id)
    assert client.files.retrieve(file_id).id == file_id
    added = sim.faults.add({"kind": "body_cut", "route": "/files/*/content", "after_bytes": 5})
    assert added.kind == "body_cut" and added.after_bytes == 5
