"""The fine-tuning jobs API: create, list, retrieve, cancel, pause, resume, events, checkpoints.

Requests are checked here the way OpenAI checks them synchronously (unknown model, missing file,
bad hyperparameters → 400); the training file itself is checked by ``validation`` and a bad file
makes the *job* fail after ``validating_files``, as on OpenAI. Under ``/openai/...`` the same jobs
are shown the way Azure OpenAI shows them (status names, ``organisation_id``, ``warning`` level).
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from tunelog.simulator import validation
from tunelog.simulator.errors import APIError, invalid
from tunelog.simulator.lifecycle import (
    TERMINAL,
    Event,
    Failure,
    Job,
    Plan,
    checkpoint_model,
    settle,
    stable_token,
)
from tunelog.simulator.request_io import is_azure, json_body, list_body, page, sim
from tunelog.simulator.state import SimState

FINE_TUNABLE = (
    "gpt-4o-mini-2024-07-18",
    "gpt-4o-2024-08-06",
    "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",
    "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-1106",
    "gpt-35-turbo-0125",
    "gpt-35-turbo-1106",
    "gpt-35-turbo-0613",
    "babbage-002",
    "davinci-002",
    "o4-mini-2025-04-16",
)
ALIASES = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "o4-mini": "o4-mini-2025-04-16",
}
REASONING = ("o4-mini-2025-04-16",)
METHODS = ("supervised", "dpo", "reinforcement")
#: Azure's names for OpenAI's statuses (Azure has no validating_files/queued: both are "pending").
AZURE_STATUS = {"validating_files": "pending", "queued": "pending"}
_RANGES: dict[str, tuple[type, float, float]] = {
    "n_epochs": (int, 1, 50),
    "batch_size": (int, 1, 256),
    "learning_rate_multiplier": (float, 1e-9, 100.0),
    "beta": (float, 1e-9, 2.0),
    "compute_multiplier": (float, 1e-9, 10.0),
    "eval_interval": (int, 1, 10_000),
    "eval_samples": (int, 1, 100),
}


def _resolve_model(state: SimState, model: Any, method: str) -> str:
    if not isinstance(model, str) or not model:
        raise invalid("Missing required parameter: 'model'.", param="model")
    base = ALIASES.get(model, model)
    if base not in FINE_TUNABLE and not (state.known_model(base) and base in state.models):
        raise invalid(
            f"Model {model} is not available for fine-tuning or does not exist. Fine-tunable models "
            f"include {', '.join(FINE_TUNABLE[:3])} (see the simulator docs for the full list).",
            param="model",
            code="model_not_available",
        )
    if method == "reinforcement" and base not in REASONING:
        raise invalid(
            f"Reinforcement fine-tuning requires a reasoning model such as o4-mini, not {model}.",
            param="model",
            code="model_not_available",
        )
    if method != "reinforcement" and base in REASONING:
        raise invalid(f"Model {model} only supports method 'reinforcement'.", param="method.type")
    if method == "dpo" and base in validation.LEGACY_MODELS:
        raise invalid(f"Model {model} does not support DPO; use a chat model.", param="method.type")
    return base


def _file(state: SimState, file_id: Any, param: str) -> bytes:
    if not isinstance(file_id, str) or not file_id:
        raise invalid(f"Missing required parameter: '{param}'.", param=param)
    settle(state)
    stored = state.files.get(file_id)
    if stored is None:
        raise invalid(
            f"invalid {param}: {file_id}. Upload it first with files.create(purpose='fine-tune').",
            param=param,
        )
    if stored.purpose != "fine-tune":
        raise invalid(
            f"File {file_id} has purpose '{stored.purpose}'; fine-tuning needs purpose 'fine-tune'.",
            param=param,
        )
    return stored.content


def _hyperparameters(body: dict[str, Any], method: dict[str, Any], kind: str) -> dict[str, Any]:
    given: dict[str, Any] = {}
    top = body.get("hyperparameters")
    found = method.get(kind)
    inner: dict[str, Any] = found if isinstance(found, dict) else {}
    for source, where in (
        (top, "hyperparameters"),
        (inner.get("hyperparameters"), f"method.{kind}.hyperparameters"),
    ):
        if source is None:
            continue
        if not isinstance(source, dict):
            raise invalid(f"'{where}' must be an object.", param=where)
        for key, value in source.items():
            if value == "auto" or key == "reasoning_effort":
                given[key] = value
                continue
            kind_, low, high = _RANGES.get(key, (float, -math.inf, math.inf))
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if kind_ is int:
                ok = ok and float(value).is_integer()
            if not ok or not low <= value <= high:
                raise invalid(
                    f"Invalid value for '{where}.{key}': {value!r}; expected 'auto' or a number "
                    f"between {low:g} and {high:g}.",
                    param=f"{where}.{key}",
                )
            given[key] = value
    return given


def _resolve(kind: str, given: dict[str, Any], n: int) -> dict[str, Any]:
    """OpenAI's 'auto': epochs scaled to the dataset, a batch ~0.2% of it, and per-method defaults."""
    out = dict(given)
    if out.get("n_epochs", "auto") == "auto":
        out["n_epochs"] = (
            min(25, math.ceil(100 / n)) if n * 3 < 100 else max(1, 25_000 // n) if n * 3 > 25_000 else 3
        )
    if out.get("batch_size", "auto") == "auto":
        out["batch_size"] = max(1, min(256, round(n * 0.002)))
    if out.get("learning_rate_multiplier", "auto") == "auto":
        out["learning_rate_multiplier"] = 1.8 if n < 1000 else 1.0
    if kind == "dpo" and out.get("beta", "auto") == "auto":
        out["beta"] = 0.1
    if kind == "reinforcement":
        for key, default in (
            ("compute_multiplier", 1.0),
            ("eval_interval", 1),
            ("eval_samples", 1),
            ("reasoning_effort", "medium"),
        ):
            if out.get(key, "auto") in ("auto", "default"):
                out[key] = default
    return out


async def create(request: Request) -> JSONResponse:
    state, body, azure = sim(request), await json_body(request), is_azure(request)
    method = body.get("method") or {"type": "supervised"}
    if not isinstance(method, dict) or method.get("type", "supervised") not in METHODS:
        raise invalid(f"Invalid 'method.type'; use one of {', '.join(METHODS)}.", param="method.type")
    kind = method.get("type", "supervised")
    model = _resolve_model(state, body.get("model"), kind)
    training = _file(state, body.get("training_file"), "training_file")
    validation_id = body.get("validation_file")
    valid_content = _file(state, validation_id, "validation_file") if validation_id is not None else None
    suffix = body.get("suffix")
    if suffix is not None and (not isinstance(suffix, str) or not 1 <= len(suffix) <= 64):
        raise invalid("Invalid 'suffix': use a string of 1 to 64 characters.", param="suffix")
    seed = body.get("seed")
    if seed is None:
        seed = state.ids.integer(2**31)
    elif not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= 2**31 - 1:
        raise invalid("Invalid 'seed': use an integer between 0 and 2147483647.", param="seed")
    metadata = body.get("metadata")
    if metadata is not None and not (isinstance(metadata, dict) and len(metadata) <= 16):
        raise invalid("Invalid 'metadata': use an object of at most 16 string pairs.", param="metadata")
    integrations = body.get("integrations") or []
    if kind == "reinforcement" and not isinstance((method.get("reinforcement") or {}).get("grader"), dict):
        raise invalid(
            "Missing required parameter: 'method.reinforcement.grader'.", param="method.reinforcement.grader"
        )
    given = _hyperparameters(body, method, kind)

    checked = validation.check(training, method=kind, model=model)
    if isinstance(checked, validation.Dataset) and valid_content is not None:
        checked_valid = validation.check(valid_content, method=kind, model=model, param="validation_file")
        if isinstance(checked_valid, validation.FileProblem):
            checked = checked_valid
    if isinstance(checked, validation.FileProblem):
        problem = Failure(checked.code, checked.message, checked.param)
        plan = Plan(n_examples=0, n_epochs=1, batch_size=1, total_steps=0, invalid=problem)
        resolved = given
    else:
        resolved = _resolve(kind, given, checked.n_examples)
        steps = math.ceil(checked.n_examples / resolved["batch_size"]) * resolved["n_epochs"]
        plan = Plan(checked.n_examples, resolved["n_epochs"], resolved["batch_size"], steps)
        fault = state.faults.take_job_failure()
        if fault is not None:
            plan.fail_step = max(1, math.ceil((fault.at or 0.0) * steps))
            plan.failure = Failure(fault.code or "internal_error", fault.message or "Simulated failure.")

    job_id = state.ids.azure("ftjob-") if azure else state.ids.openai("ftjob-")
    if azure:
        ft_model = f"{model}.ft-{job_id.removeprefix('ftjob-')}" + (f"-{suffix}" if suffix else "")
    else:
        ft_model = f"ft:{model}:{state.organization_slug}:{suffix or ''}:{state.ids.token(8)}"
    echo = {k: v for k, v in (method.get(kind) or {}).items() if k != "hyperparameters"}
    job = Job(
        id=job_id,
        created_at=state.clock.now(),
        model=model,
        training_file=body["training_file"],
        validation_file=validation_id,
        method=kind,
        method_echo=echo,
        hyperparameters=resolved,
        given_hyperparameters=given,
        suffix=suffix,
        seed=seed,
        metadata=metadata,
        integrations=integrations,
        azure=azure,
        organization_id=state.organization_id,
        fine_tuned_model_id=ft_model,
        plan=plan,
        training_content=training,
        result_fault=state.faults.take_result_file_fault(),
    )
    state.jobs[job_id] = job
    state.unsettled.add(job_id)
    return JSONResponse(job_json(job, state, azure=azure))


def _hp_view(job: Job, status: str) -> dict[str, Any]:
    """'auto' (or what was given) until the files are validated, then the resolved numbers."""
    if status == "validating_files" or job.plan.invalid is not None:
        source = job.given_hyperparameters
    else:
        source = job.hyperparameters
    keys = {
        "supervised": ("batch_size", "learning_rate_multiplier", "n_epochs"),
        "dpo": ("batch_size", "beta", "learning_rate_multiplier", "n_epochs"),
        "reinforcement": (
            "batch_size",
            "compute_multiplier",
            "eval_interval",
            "eval_samples",
            "learning_rate_multiplier",
            "n_epochs",
            "reasoning_effort",
        ),
    }[job.method]
    return {k: source.get(k, "auto") for k in keys}


def job_json(job: Job, state: SimState, *, azure: bool) -> dict[str, Any]:
    settle(state)
    now = state.clock.now()
    status = job.status(now)
    failure = job.failure(now)
    hp = _hp_view(job, status)
    method_hp = {
        k: v
        for k, v in hp.items()
        if not (job.method == "reinforcement" and k == "reasoning_effort" and v == "auto")
    }
    body: dict[str, Any] = {
        "object": "fine_tuning.job",
        "id": job.id,
        "model": job.model,
        "created_at": int(job.created_at),
        "finished_at": job.finished_at(now),
        "fine_tuned_model": job.fine_tuned_model_id if status == "succeeded" else None,
        "result_files": [job.result_file_id] if status == "succeeded" and job.result_file_id else [],
        "status": AZURE_STATUS.get(status, status) if azure else status,
        "validation_file": job.validation_file,
        "training_file": job.training_file,
        "hyperparameters": {k: hp[k] for k in ("batch_size", "learning_rate_multiplier", "n_epochs")},
        "trained_tokens": job.trained_tokens() if status == "succeeded" else None,
        "error": None
        if failure is None
        else {"code": failure.code, "message": failure.message, "param": failure.param},
        "seed": job.seed,
        "estimated_finish": job.estimated_finish(now),
        "integrations": job.integrations,
        "metadata": job.metadata,
        "method": {"type": job.method, job.method: {**job.method_echo, "hyperparameters": method_hp}},
    }
    if azure:
        body["organisation_id"] = job.organization_id
        body["suffix"] = job.suffix
    else:
        body["organization_id"] = job.organization_id
        body["user_provided_suffix"] = job.suffix
    return body


def _job(state: SimState, request: Request) -> Job:
    job_id = request.path_params["job_id"]
    job = state.jobs.get(job_id)
    if job is None:
        raise APIError(
            404, f"Could not find fine-tune: {job_id}", param="fine_tuning_job_id", code="fine_tune_not_found"
        )
    return job


async def retrieve(request: Request) -> JSONResponse:
    state = sim(request)
    return JSONResponse(job_json(_job(state, request), state, azure=is_azure(request)))


async def list_jobs(request: Request) -> JSONResponse:
    state = sim(request)
    wanted = {
        k[9:-1]: v for k, v in request.query_params.items() if k.startswith("metadata[") and k.endswith("]")
    }
    items = [
        j
        for j in reversed(state.jobs.values())
        if all((j.metadata or {}).get(k) == v for k, v in wanted.items())
    ]
    chunk, has_more = page(items, request, key=lambda j: j.id)
    azure = is_azure(request)
    return JSONResponse(list_body([job_json(j, state, azure=azure) for j in chunk], has_more, ids=False))


async def cancel(request: Request) -> JSONResponse:
    state, now = sim(request), sim(request).clock.now()
    job = _job(state, request)
    status = job.status(now)
    if status in TERMINAL:
        raise invalid(
            f"Job {job.id} has already {status}; only jobs that have not finished can be cancelled.",
            param="fine_tuning_job_id",
        )
    if job.paused_since is not None:
        job.pauses.append((job.offset(now), now - job.paused_since))
        job.paused_since = None
    job.cancelled_offset, job.cancelled_at = job.offset(now), now
    job.record(now, "info", "Fine-tuning job cancelled")
    state.unsettled.discard(job.id)
    return JSONResponse(job_json(job, state, azure=is_azure(request)))


async def pause(request: Request) -> JSONResponse:
    state, now = sim(request), sim(request).clock.now()
    job = _job(state, request)
    status = job.status(now)
    if status != "running":
        raise invalid(
            f"Job {job.id} is {status}; only running jobs can be paused.", param="fine_tuning_job_id"
        )
    job.record(now, "info", "Fine-tuning job paused")
    job.paused_since = now
    return JSONResponse(job_json(job, state, azure=is_azure(request)))


async def resume(request: Request) -> JSONResponse:
    state, now = sim(request), sim(request).clock.now()
    job = _job(state, request)
    if job.paused_since is None or job.status(now) != "paused":
        raise invalid(
            f"Job {job.id} is {job.status(now)}; only paused jobs can be resumed.", param="fine_tuning_job_id"
        )
    job.pauses.append((job.offset(now), now - job.paused_since))
    job.paused_since = None
    job.record(now, "info", "Fine-tuning job resumed")
    return JSONResponse(job_json(job, state, azure=is_azure(request)))


def _event_id(job: Job, event: Event) -> str:
    if job.azure:
        return "ftevent-" + stable_token(job.id, "event", event.order, n=32, hex_only=True)
    return "ftevent-" + stable_token(job.id, "event", event.order)


async def list_events(request: Request) -> JSONResponse:
    state, azure = sim(request), is_azure(request)
    job = _job(state, request)
    events = list(reversed(job.events(state.clock.now())))
    ids = {id(e): _event_id(job, e) for e in events}
    chunk, has_more = page(events, request, key=lambda e: ids[id(e)])
    data = []
    for e in chunk:
        item: dict[str, Any] = {
            "object": "fine_tuning.job.event",
            "id": ids[id(e)],
            "created_at": job.event_time(e),
            "level": "warning" if azure and e.level == "warn" else e.level,
            "message": e.message,
            "data": e.data or {},
            "type": e.type,
        }
        data.append(item)
    return JSONResponse(list_body(data, has_more, ids=False))


async def list_checkpoints(request: Request) -> JSONResponse:
    state = sim(request)
    job = _job(state, request)
    now = state.clock.now()
    reached = job.current_step(now) if job.status(now) != "succeeded" else job.plan.total_steps
    steps = [s for s in reversed(job.checkpoint_steps()) if s <= reached]
    data: list[dict[str, Any]] = []
    for step in steps:
        metrics = job.metrics(step) | {"step": float(step)}
        metrics.pop("total_steps", None)
        ckpt_id = (
            "ftchkpt-" + stable_token(job.id, "ckpt", step, n=32, hex_only=True)
            if job.azure
            else "ftckpt_" + stable_token(job.id, "ckpt", step)
        )
        data.append(
            {
                "object": "fine_tuning.job.checkpoint",
                "id": ckpt_id,
                "created_at": int(job.time_of(job.plan.step_offset(step))),
                "fine_tuned_model_checkpoint": checkpoint_model(job, step),
                "fine_tuning_job_id": job.id,
                "metrics": metrics,
                "step_number": step,
            }
        )
    chunk, has_more = page(data, request, key=lambda c: str(c["id"]), default_limit=10)
    return JSONResponse(list_body(chunk, has_more))


def routes() -> list[BaseRoute]:
    return [
        Route("/fine_tuning/jobs", create, methods=["POST"]),
        Route("/fine_tuning/jobs", list_jobs, methods=["GET"]),
        Route("/fine_tuning/jobs/{job_id}", retrieve, methods=["GET"]),
        Route("/fine_tuning/jobs/{job_id}/cancel", cancel, methods=["POST"]),
        Route("/fine_tuning/jobs/{job_id}/pause", pause, methods=["POST"]),
        Route("/fine_tuning/jobs/{job_id}/resume", resume, methods=["POST"]),
        Route("/fine_tuning/jobs/{job_id}/events", list_events, methods=["GET"]),
        Route("/fine_tuning/jobs/{job_id}/checkpoints", list_checkpoints, methods=["GET"]),
    ]
