"""What ``tunelog demo`` does, callable from tests.

It starts the built-in OpenAI simulator (no network, no API key), fine-tunes three models on the
shipped sample dataset and syncs them live (one fails, on purpose), makes autologged calls (chat,
streaming, tools, embeddings, the fine-tuned models), logs a small tracking example with a table and
lineage, and says where it all went. ``tunelog demo`` then serves the dashboard.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass

from tunelog.api import Api
from tunelog.artifact import Artifact
from tunelog.session import init
from tunelog.settings import Settings
from tunelog.table import Table

PROJECT = "tunelog-demo"


@dataclass(frozen=True)
class DemoResult:
    settings: Settings
    train_run: str
    eval_run: str
    artifact: str
    train_url: str
    fine_tune_runs: tuple[str, ...] = ()
    autolog_run: str | None = None


def run_demo(settings: Settings, seed: int = 0, *, speed: float = 10.0, live: bool = True) -> DemoResult:
    """Everything the demo records: fine-tunes and calls through the simulator, then the tracking
    example. ``speed`` is the simulator's clock factor (10: a job trains in a few seconds)."""
    from tunelog.integration.openai.autolog_demo import run_autolog_demo
    from tunelog.integration.openai.demo_finetune import run_finetune_demo
    from tunelog.simulator.server import Simulator

    with Simulator(speed=speed, seed=seed) as sim:
        fine_tunes = run_finetune_demo(settings, sim, live=live)
        calls = run_autolog_demo(settings, sim)
    core = run_tracking_example(settings, seed)
    return DemoResult(
        settings, core.train_run, core.eval_run, core.artifact, core.train_url, tuple(fine_tunes), calls
    )


def run_tracking_example(settings: Settings, seed: int = 0) -> DemoResult:
    """Log a training-like run (loss curve, a table of samples, a model artifact) and an evaluation
    run that uses the artifact, so lineage dataset → run → model → run exists."""
    rng = random.Random(seed)
    d = str(settings.dir)
    with init(
        project=PROJECT,
        job_type="train",
        dir=d,
        entity=settings.entity,
        config={"base_model": "gpt-4o-mini-2024-07-18", "hyperparameters": {"n_epochs": 3, "lr": 1.8}},
        tags=["demo"],
        notes="A small example logged by `tunelog demo`.",
    ) as run:
        dataset = Artifact("demo-train", type="dataset", metadata={"format": "chat", "n": 3})
        with dataset.new_file("train.jsonl", mode="w", encoding="utf-8") as f:
            for q, a in (("2+2?", "4"), ("Capital of France?", "Paris"), ("Largest planet?", "Jupiter")):
                f.write(
                    json.dumps(
                        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
                    )
                    + "\n"
                )
        run.use_artifact(dataset)
        for step in range(1, 301):
            loss = 2.2 * math.exp(-step / 80) + 0.15 + rng.gauss(0, 0.04)
            metrics = {"train_loss": loss, "train_accuracy": min(1.0, 1.05 - loss / 2.5)}
            if step % 25 == 0:
                metrics["valid_loss"] = loss + 0.05 + rng.gauss(0, 0.02)
            run.log(metrics, step=step)
        samples = Table(
            columns=["prompt", "completion", "score"],
            data=[
                ["2+2?", "4", 1.0],
                ["Capital of France?", "Paris", 1.0],
                ["Largest planet?", "Saturn", 0.0],
            ],
        )
        run.log({"samples": samples})
        model = Artifact(
            "model-metadata",
            type="model",
            metadata={"fine_tuned_model": "ft:gpt-4o-mini-2024-07-18:demo::abc123"},
        )
        with model.new_file("model_metadata.json", mode="w", encoding="utf-8") as f:
            json.dump(model.metadata, f)
        run.log_artifact(model, aliases=["latest", "demo"])
        train = run.path
        url = run.url
    with init(project=PROJECT, job_type="eval", dir=d, entity=settings.entity, tags=["demo"]) as ev:
        used = ev.use_artifact(f"{PROJECT}/model-metadata:latest")
        ev.summary["fine_tuned_model"] = used.metadata["fine_tuned_model"]
        ev.log({"eval/accuracy": 2 / 3})
        eval_path = ev.path
    Api(settings=settings).flush()
    return DemoResult(settings, train, eval_path, used.qualified_name, url)
