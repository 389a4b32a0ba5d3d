"""The fine-tuning part of ``tunelog demo``: three fine-tunes on the simulator, synced live.

The sample dataset ships with the package (``sample_data/``): a small sarcastic-geography chat set.
Three jobs differ in epochs, batch size and learning rate; the third is made to fail half-way by the
simulator's fault injection, so the demo shows a failed run beside two finished ones.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from tunelog.settings import Settings

DEMO_PROJECT = "OpenAI-Fine-Tune"
HYPERPARAMETERS = (
    {"n_epochs": 2, "batch_size": 1, "learning_rate_multiplier": 0.5},
    {"n_epochs": 3, "batch_size": 2, "learning_rate_multiplier": 1.0},
    {"n_epochs": 4, "batch_size": 1, "learning_rate_multiplier": 2.0},  # fails half-way
)


def sample_file(name: str) -> bytes:
    """A file of the shipped sample dataset: ``train.jsonl`` or ``valid.jsonl``."""
    return files("tunelog.integration.openai").joinpath("sample_data", name).read_bytes()


def run_finetune_demo(
    settings: Settings,
    sim: Any,
    *,
    live: bool,
    project: str = DEMO_PROJECT,
    poll_interval: float | None = None,
) -> list[str]:
    """Upload the sample dataset to the simulator ``sim``, start three fine-tunes (one fails), sync
    them (with progress bars when ``live``) and return the runs' paths (``entity/project/job_id``)."""
    import openai

    from tunelog.integration.openai.fine_tuning import FineTuneLogger

    client = openai.OpenAI(base_url=sim.url, api_key="sk-tunelog-demo", max_retries=0)
    train = client.files.create(file=("train.jsonl", sample_file("train.jsonl")), purpose="fine-tune")
    valid = client.files.create(file=("valid.jsonl", sample_file("valid.jsonl")), purpose="fine-tune")
    job_ids = []
    for i, hp in enumerate(HYPERPARAMETERS):
        if i == len(HYPERPARAMETERS) - 1:
            sim.faults.fail_job(
                at=0.5,
                code="internal_error",
                message="Fine-tuning job failed: the training run diverged (a failure staged by the demo).",
            )
        method: Any = {"type": "supervised", "supervised": {"hyperparameters": hp}}
        job = client.fine_tuning.jobs.create(
            model="gpt-4o-mini-2024-07-18",
            training_file=train.id,
            validation_file=valid.id,
            suffix=f"marv-{i + 1}",
            method=method,
            metadata={"demo": "tunelog"},
        )
        job_ids.append(job.id)
    result = FineTuneLogger.sync(
        fine_tune_job_id=job_ids,
        openai_client=client,
        project=project,
        entity=settings.entity,
        dir=str(settings.dir),
        mode=settings.mode,
        poll_interval=poll_interval if poll_interval is not None else (0.5 if live else 0.05),
        show_progress=live,
        tags=["demo"],
    )
    return [j.run for j in result.jobs if j.run]
