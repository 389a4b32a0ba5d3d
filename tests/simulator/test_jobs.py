"""Fine-tuning jobs through the real SDK: lifecycle on the simulated clock, events, checkpoints, results."""

from __future__ import annotations

import base64
import csv
import io
import re

import openai
import pytest

from tunelog.simulator import Simulator, tokens
from tunelog.simulator.lifecycle import QUEUE_S, VALIDATE_S

from .simdata import GRADER, chat_examples, dpo_examples, finish, jsonl, rft_examples, upload

FT_MODEL = re.compile(r"^ft:gpt-4o-mini-2024-07-18:[a-z0-9-]+:(?P<suffix>[^:]*):[A-Za-z0-9]{8}$")


def test_lifecycle_follows_the_clock(sim: Simulator, client: openai.OpenAI) -> None:
    file_id = upload(client, chat_examples(20))
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id, suffix="sums", seed=42)
    assert job.status == "validating_files"
    assert job.model == "gpt-4o-mini-2024-07-18"
    assert job.hyperparameters.n_epochs == "auto"
    assert (job.fine_tuned_model, job.finished_at, job.trained_tokens) == (None, None, None)
    assert job.seed == 42 and job.user_provided_suffix == "sums"  # type: ignore[attr-defined]

    sim.clock.advance(VALIDATE_S)
    job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "queued"
    assert job.hyperparameters.n_epochs == 5 and job.hyperparameters.batch_size == 1
    assert job.hyperparameters.learning_rate_multiplier == 1.8

    sim.clock.advance(QUEUE_S + 5)
    job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "running"
    assert job.estimated_finish is not None and job.estimated_finish > job.created_at
    metrics = [e for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data if e.type == "metrics"]
    assert metrics, "metrics appear step by step while running"
    assert metrics[0].data["total_steps"] == 100  # type: ignore[index]

    finish(sim)
    job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded"
    assert job.estimated_finish is None and job.finished_at is not None
    match = FT_MODEL.match(job.fine_tuned_model or "")
    assert match and match["suffix"] == "sums"
    per_epoch = sum(tokens.count_messages(e["messages"], "gpt-4o-mini") for e in chat_examples(20))
    assert job.trained_tokens == per_epoch * 5
    assert len(job.result_files) == 1


def test_events_newest_first_with_metrics_and_cursor(sim: Simulator, client: openai.OpenAI) -> None:
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=upload(client, chat_examples(12)),
        validation_file=upload(client, chat_examples(4, start=50), "valid.jsonl"),
    )
    finish(sim)
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=7))
    assert events[0].message == "The job has successfully completed"
    assert events[-1].message.startswith("Created fine-tuning job")
    assert [e.created_at for e in events] == sorted((e.created_at for e in events), reverse=True)
    assert len({e.id for e in events}) == len(events)
    steps = [e.data for e in events if e.type == "metrics"]
    assert [d["step"] for d in steps] == list(range(len(steps), 0, -1))  # type: ignore[index]
    last = steps[0]
    assert {"train_loss", "valid_loss", "full_valid_loss", "train_mean_token_accuracy"} <= set(last)  # type: ignore[arg-type]
    assert last["train_loss"] < steps[-1]["train_loss"]  # type: ignore[index]


def test_checkpoints_are_the_last_three_epochs(sim: Simulator, client: openai.OpenAI) -> None:
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, chat_examples(10)), hyperparameters={"n_epochs": 4}
    )
    finish(sim)
    job = client.fine_tuning.jobs.retrieve(job.id)
    ckpts = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in ckpts] == [40, 30, 20]
    assert ckpts[0].fine_tuned_model_checkpoint == f"{job.fine_tuned_model}:ckpt-step-40"
    assert ckpts[0].metrics.train_loss is not None
    # checkpoints are usable models, like OpenAI's
    assert client.models.retrieve(ckpts[1].fine_tuned_model_checkpoint).id.endswith(":ckpt-step-30")


def test_result_file_is_base64_csv_with_openai_columns(sim: Simulator, client: openai.OpenAI) -> None:
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=upload(client, chat_examples(30)),
        validation_file=upload(client, chat_examples(5, start=100), "valid.jsonl"),
        hyperparameters={"n_epochs": 2, "batch_size": 1},
    )
    finish(sim)
    job = client.fine_tuning.jobs.retrieve(job.id)
    meta = client.files.retrieve(job.result_files[0])
    assert meta.purpose == "fine-tune-results" and meta.filename == "step_metrics.csv"
    rows = list(csv.reader(io.StringIO(base64.b64decode(client.files.content(meta.id).content).decode())))
    assert rows[0] == ["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"]
    body = rows[1:]
    assert [int(r[0]) for r in body] == list(range(1, 61))
    assert any(r[3] == "" for r in body) and body[-1][3] != ""  # validation only at evaluation steps
    first, last = (sum(float(r[1]) for r in body[i : i + 10]) for i in (0, 50))
    assert last < first


def test_curves_are_reproducible_for_a_seed(client: openai.OpenAI, sim: Simulator) -> None:
    ids = [
        client.fine_tuning.jobs.create(
            model="gpt-4o-mini", training_file=upload(client, chat_examples(10)), seed=s
        ).id
        for s in (3, 3, 4)
    ]
    finish(sim)
    contents = [
        client.files.content(client.fine_tuning.jobs.retrieve(i).result_files[0]).content for i in ids
    ]
    assert contents[0] == contents[1] != contents[2]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b'{"messages": [}\n' * 12, "Line 1 is not valid JSON"),
        (jsonl(chat_examples(5)), "has 5 example(s), but must have at least 10"),
        (jsonl([{"prompt": "a", "completion": "b"}] * 12), "missing 'messages'"),
        (jsonl([{"messages": [{"role": "user", "content": "only a question"}]}] * 12), "role 'assistant'"),
    ],
    ids=["bad-json", "too-few", "wrong-shape", "no-assistant"],
)
def test_invalid_training_file_fails_the_job(
    sim: Simulator, client: openai.OpenAI, content: bytes, needle: str
) -> None:
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client, content))
    assert job.status == "validating_files" and job.error is None
    finish(sim)
    job = client.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "failed"
    assert job.error is not None and job.error.code == "invalid_training_file"
    assert job.error.param == "training_file" and needle in job.error.message
    assert job.fine_tuned_model is None and job.result_files == []
    assert client.fine_tuning.jobs.list_events(job.id).data[0].level == "error"


def test_dpo_and_reinforcement(sim: Simulator, client: openai.OpenAI) -> None:
    dpo = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=upload(client, dpo_examples(10)),
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": "auto"}}},
    )
    rft = client.fine_tuning.jobs.create(
        model="o4-mini",
        training_file=upload(client, rft_examples(10)),
        method={"type": "reinforcement", "reinforcement": {"grader": GRADER}},  # type: ignore[typeddict-item]
    )
    wrong = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, chat_examples(10)), method={"type": "dpo"}
    )
    finish(sim)
    dpo = client.fine_tuning.jobs.retrieve(dpo.id)
    assert dpo.status == "succeeded" and dpo.method and dpo.method.dpo
    assert dpo.method.dpo.hyperparameters and dpo.method.dpo.hyperparameters.beta == 0.1
    rft = client.fine_tuning.jobs.retrieve(rft.id)
    assert rft.status == "succeeded" and rft.method and rft.method.reinforcement
    assert rft.method.reinforcement.grader.type == "string_check"
    wrong = client.fine_tuning.jobs.retrieve(wrong.id)
    assert wrong.status == "failed" and wrong.error and "'input'" in wrong.error.message


def test_create_rejects_bad_requests_synchronously(client: openai.OpenAI) -> None:
    file_id = upload(client, chat_examples(10))
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(model="gpt-99", training_file=file_id)
    assert e.value.code == "model_not_available" and e.value.param == "model"
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-nope")
    assert e.value.param == "training_file"
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(
            model="gpt-4o-mini", training_file=file_id, hyperparameters={"n_epochs": 0}
        )
    assert e.value.param == "hyperparameters.n_epochs"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.create(
            model="o4-mini", training_file=file_id, method={"type": "reinforcement"}
        )
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.retrieve("ftjob-missing")


def test_cancel_pause_resume(sim: Simulator, client: openai.OpenAI) -> None:
    file_id = upload(client, chat_examples(40))
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.pause(job.id)  # only running jobs pause
    sim.clock.advance(VALIDATE_S + QUEUE_S + 10)
    paused = client.with_options().fine_tuning.jobs.with_raw_response.pause(job.id).http_response.json()
    assert paused["status"] == "paused"  # outside the SDK's types: see known_deviations
    step_at_pause = sim.state.jobs[job.id].current_step(sim.clock.now())
    sim.clock.advance(3600)
    assert sim.state.jobs[job.id].current_step(sim.clock.now()) == step_at_pause
    assert client.fine_tuning.jobs.resume(job.id).status == "running"
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=10).data]
    resumed, paused_at = messages.index("Fine-tuning job resumed"), messages.index("Fine-tuning job paused")
    assert resumed < paused_at  # newest first
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    finish(sim)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.cancel(job.id)


def test_45_jobs_listed_completely_newest_first(client: openai.OpenAI) -> None:
    file_id = upload(client, chat_examples(10))
    created = [
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id, metadata={"n": str(i)}).id
        for i in range(45)
    ]
    first = client.fine_tuning.jobs.list(limit=10)
    assert len(first.data) == 10 and first.has_more
    listed = [j.id for j in client.fine_tuning.jobs.list(limit=10)]  # auto-pagination follows `after`
    assert listed == created[::-1]
    only = client.fine_tuning.jobs.list(metadata={"n": "7"}).data
    assert [j.id for j in only] == [created[7]]


async def test_45_jobs_async_pagination(aclient: openai.AsyncOpenAI) -> None:
    f = await aclient.files.create(file=("t.jsonl", jsonl(chat_examples(10))), purpose="fine-tune")
    created = [
        (await aclient.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=f.id)).id for _ in range(45)
    ]
    listed = [j.id async for j in aclient.fine_tuning.jobs.list(limit=7)]
    assert listed == created[::-1]


def test_azure_shapes(sim: Simulator, azure: openai.AzureOpenAI) -> None:
    file_id = azure.files.create(file=("train.jsonl", jsonl(chat_examples(10))), purpose="fine-tune").id
    assert re.fullmatch(r"file-[0-9a-f]{32}", file_id)
    created = azure.fine_tuning.jobs.with_raw_response.create(
        model="gpt-35-turbo-0125", training_file=file_id, validation_file=file_id, suffix="az"
    )
    job, raw = created.parse(), created.http_response.json()
    assert re.fullmatch(r"ftjob-[0-9a-f]{32}", job.id)
    assert raw["status"] == "pending" and "organisation_id" in raw and "organization_id" not in raw
    assert azure.fine_tuning.jobs.list_events(job.id).data[0].level == "warning"
    finish(sim)
    job = azure.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "succeeded"
    assert job.fine_tuned_model == f"gpt-35-turbo-0125.ft-{job.id.removeprefix('ftjob-')}-az"
