"""Data for the dashboard tests, made through the public API (runs, artifacts, tables) and, for
spans, through the writer as autolog does: fine-tune-like runs with config, metrics, events and a
checkpoints table; a chat dataset with a source table; a model artifact with lineage; traces with
nested spans; and an XSS corpus in every user-content field of one project."""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import tunelog
from tunelog.api import Api
from tunelog.settings import Settings
from tunelog.store.base import RunKey, SpanRecord

PROJECT = "ft-demo"
XSS_PROJECT = "xss"
ENTITY = "tester"
# Each payload sets window.__xss if it ever runs.
XSS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    '"><svg onload="window.__xss=3">',
    "javascript:window.__xss=4",
    "</script><script>window.__xss=5</script>",
    "'-window.__xss=6-'",
    "{{7*7}}<iframe srcdoc='<script>parent.__xss=8</script>'>",
]


@dataclass
class Sample:
    settings: Settings
    ft_runs: list[str]
    eval_run: str
    trace_id: str
    span_id: str
    xss_run: str


def _chat_line(i: int) -> str:
    return json.dumps(
        {
            "messages": [
                {"role": "system", "content": "You answer in one word."},
                {"role": "user", "content": f"What is {i} + {i}?"},
                {"role": "assistant", "content": f"{2 * i}"},
            ]
        }
    )


def build(root: Path, n_extra_runs: int = 6, seed: int = 0) -> Sample:
    """Write the sample data under ``root`` (a TUNELOG_DIR) and return what tests need to find it."""
    rng = random.Random(seed)
    d = str(root)
    settings = Settings.resolve(dir=d, entity=ENTITY)
    files = root.parent / "sample_files"
    files.mkdir(parents=True, exist_ok=True)
    train = files / "train.jsonl"
    train.write_text("\n".join(_chat_line(i) for i in range(40)) + "\n", encoding="utf-8")
    (files / "results.csv").write_text("step,train_loss\n1,2.1\n2,1.7\n", encoding="utf-8")

    ft_runs = []
    model_ref = ""
    for k, (base, epochs, lr) in enumerate(
        [("gpt-4o-mini-2024-07-18", 3, 1.8), ("gpt-4o-mini-2024-07-18", 4, 0.5), ("gpt-4.1-mini", 2, 1.0)]
    ):
        with tunelog.init(
            project=PROJECT,
            entity=ENTITY,
            dir=d,
            id=f"ftjob-{k}",
            name=f"ft-{base}-e{epochs}",
            job_type="fine-tune",
            config={
                "base_model": base,
                "hyperparameters": {"n_epochs": epochs, "learning_rate_multiplier": lr, "batch_size": 8},
                "training_file": "train.jsonl",
            },
            tags=["fine-tune", "baseline"] if k == 0 else ["fine-tune"],
            notes="First try." if k == 0 else None,
        ) as run:
            ds = tunelog.Artifact("train-train.jsonl", type="training_files", metadata={"rows": 40})
            ds.add_file(str(train), name="train.jsonl")
            ds.add_source_table("train", "train.jsonl", ["messages"], "json-object")
            run.use_artifact(ds)
            for step in range(1, 201):
                loss = (2.0 + k * 0.2) * math.exp(-step / (50 + 10 * epochs)) + 0.1 + rng.gauss(0, 0.03)
                vals = {"train_loss": loss, "train_accuracy": min(1.0, 1.0 - loss / 3)}
                if step % 20 == 0:
                    vals["valid_loss"] = loss + 0.05
                run.log(vals, step=step)
            for i, msg in enumerate(["Validating training file", "Fine-tuning job started", "Job succeeded"]):
                run.log_event(msg, level="info", time=time.time() - 100 + i, id=f"ev-{k}-{i}")
            run.log(
                {
                    "checkpoints": tunelog.Table(
                        columns=["step", "model", "train_loss"],
                        data=[[100, f"ft:{base}:ckpt-100", 0.4], [200, f"ft:{base}:ckpt-200", 0.2]],
                    )
                }
            )
            model = tunelog.Artifact(
                "model-metadata", type="model", metadata={"fine_tuned_model": f"ft:{base}::{k}"}
            )
            with model.new_file("model_metadata.json", mode="w", encoding="utf-8") as f:
                json.dump(model.metadata, f)
            run.log_artifact(model, aliases=[f"ftjob-{k}"])
            run.summary["final_loss"] = loss
            ft_runs.append(run.id)
            model_ref = f"{PROJECT}/model-metadata:ftjob-{k}"
    for j in range(n_extra_runs):
        with tunelog.init(
            project=PROJECT,
            entity=ENTITY,
            dir=d,
            id=f"sweep-{j}",
            name=f"sweep-{j}",
            job_type="train",
            group="sweep",
            config={
                "base_model": "gpt-4.1-mini" if j % 2 else "gpt-4o-mini-2024-07-18",
                "hyperparameters": {"n_epochs": 1 + j % 4},
            },
        ) as run:
            for step in range(1, 51):
                run.log({"train_loss": 1.5 / (1 + step * (j + 1) / 40)}, step=step)
    with tunelog.init(
        project=PROJECT, entity=ENTITY, dir=d, id="eval-1", name="eval-of-model", job_type="eval"
    ) as ev:
        ev.use_artifact(model_ref)
        ev.log(
            {
                "samples": tunelog.Table(
                    columns=["prompt", "completion", "score"],
                    data=[["Capital of France?", "Paris", 1.0], ["Largest planet?", "Saturn", 0.0]],
                )
            }
        )
        ev.summary["accuracy"] = 0.5
        eval_path = ev.id
    api = Api(settings=settings)
    api.artifact(model_ref).link("registry/finetuned-models", aliases=["production"])

    trace_id, span_id = _spans(api, RunKey(ENTITY, PROJECT, "eval-1"))
    xss_run = _xss(d, files)
    api.flush()
    return Sample(settings, ft_runs, eval_path, trace_id, span_id, xss_run)


def _spans(api: Api, run: RunKey) -> tuple[str, str]:
    """Two traces: an agent step with two LLM calls and a tool call, and one failed call."""
    t0 = time.time() - 600
    writer = api.backend.writer
    req = {
        "messages": [
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": "Weather in Paris?"},
        ],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
        ],
        "temperature": 0.2,
        "model": "gpt-4o-mini",
    }
    tool_resp = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                }
            }
        ]
    }
    final = {"choices": [{"message": {"role": "assistant", "content": "It is sunny in Paris, 21°C."}}]}
    usage = {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62}
    spans = [
        SpanRecord(
            "s-root",
            "t-1",
            None,
            run,
            "agent",
            "chain",
            t0,
            t0 + 3.0,
            "ok",
            inputs={"q": "Weather in Paris?"},
        ),
        SpanRecord(
            "s-llm1",
            "t-1",
            "s-root",
            run,
            "chat.completions.create",
            "llm",
            t0 + 0.1,
            t0 + 1.1,
            "ok",
            model="gpt-4o-mini",
            inputs=req,
            outputs=tool_resp,
            usage=usage,
            cost_usd=0.00002,
        ),
        SpanRecord(
            "s-tool",
            "t-1",
            "s-root",
            run,
            "get_weather",
            "tool",
            t0 + 1.2,
            t0 + 1.5,
            "ok",
            inputs={"city": "Paris"},
            outputs={"temp": 21},
        ),
        SpanRecord(
            "s-llm2",
            "t-1",
            "s-root",
            run,
            "chat.completions.create",
            "llm",
            t0 + 1.6,
            t0 + 2.9,
            "ok",
            model="gpt-4o-mini",
            inputs=req,
            outputs=final,
            usage=usage,
            cost_usd=0.00002,
        ),
        SpanRecord(
            "s-err",
            "t-2",
            None,
            run,
            "chat.completions.create",
            "llm",
            t0 + 10,
            t0 + 10.4,
            "error",
            model="gpt-4.1-mini",
            inputs=req,
            error={"type": "RateLimitError", "message": "Rate limit reached"},
        ),
    ]
    for s in spans:
        writer.span(s)
    return "t-1", "s-llm2"


def _xss(d: str, files: Path) -> str:
    """A project where every user-content field holds an XSS payload."""
    payload = " ".join(XSS)
    odd = files / "xss"
    odd.mkdir(exist_ok=True)
    (odd / "data.jsonl").write_text(
        json.dumps({"messages": [{"role": "user", "content": payload}]}) + "\n", encoding="utf-8"
    )
    (odd / "data.csv").write_text(
        "a,b\n" + ",".join(['"' + XSS[1].replace('"', '""') + '"', "x"]) + "\n", encoding="utf-8"
    )
    with tunelog.init(
        project=XSS_PROJECT,
        entity=ENTITY,
        dir=d,
        id="xss-run",
        name=XSS[1],
        job_type=XSS[0],
        group=XSS[2],
        tags=[XSS[0], XSS[1]],
        notes=payload,
        config={"model": XSS[4], XSS[2]: XSS[3]},
    ) as run:
        run.log({"loss": 1.0, XSS[5]: 2.0}, step=1)
        run.log({"loss": 0.5}, step=2)
        run.log(
            {
                "cells": tunelog.Table(
                    columns=[XSS[1], "chat"], data=[[payload, [{"role": "user", "content": payload}]]]
                )
            }
        )
        run.log_event(payload, level="info", data={"x": payload})
        art = tunelog.Artifact("xss-data", type="dataset", description=payload, metadata={"note": payload})
        art.add_file(str(odd / "data.jsonl"), name="data.jsonl")
        art.add_file(str(odd / "data.csv"), name="<img src=x onerror=window.__xss=9>.csv")
        run.log_artifact(art, aliases=["latest"])
        run.summary["text"] = payload
        key = RunKey(ENTITY, XSS_PROJECT, "xss-run")
        req = {"messages": [{"role": "user", "content": payload}], "temperature": payload}
        out = {
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": payload,
                        "tool_calls": [{"function": {"name": XSS[1], "arguments": payload}}],
                    }
                }
            ]
        }
        t = time.time() - 30
        Api(dir=d, entity=ENTITY).backend.writer.span(
            SpanRecord(
                "x-span",
                "x-trace",
                None,
                key,
                XSS[1],
                "llm",
                t,
                t + 1,
                "ok",
                model=XSS[0],
                inputs=req,
                outputs=out,
                attributes={"k": payload},
            )
        )
    api = Api(dir=d, entity=ENTITY)
    api.save_report(
        f"{ENTITY}/{XSS_PROJECT}",
        XSS[1],
        {
            "blocks": [
                {"type": "note", "text": payload},
                {"type": "chart", "metric": "loss", "runs": ["xss-run"], "title": XSS[0]},
                {"type": "runs", "filter": "", "cols": ["config.model", "summary.text"]},
                {"type": "table", "run": "xss-run", "key": "cells"},
            ]
        },
    )
    api.save_view(f"{ENTITY}/{XSS_PROJECT}", XSS[1], {"q": XSS[0], "cols": ["config.model"]})
    return "xss-run"


if __name__ == "__main__":  # build sample data for a manual look: python tests/web/sample_data.py DIR
    import sys

    s = build(Path(sys.argv[1]))
    print(s)
