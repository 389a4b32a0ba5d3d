"""A fine-tuning job's life, derived from the simulated clock whenever the job is read.

No background thread moves jobs along: a job is a *plan* (how long it validates, queues, how many
steps it trains, where an injected failure strikes) plus the pauses and the cancel that happened
to it. Its status, events, checkpoints and metrics at any moment follow from the time elapsed
(``clock.now() - created_at - time spent paused``). ``settle`` writes the lasting effects of a
finished job — the result file and the fine-tuned model — the first time anyone looks.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tunelog.simulator import curves, validation
from tunelog.simulator.state import FineTunedModel

if TYPE_CHECKING:
    from tunelog.simulator.state import SimState

VALIDATE_S = 3.0
QUEUE_S = 4.0
FINALIZE_S = 3.0
#: Training takes 0.5 simulated seconds per step, kept between these bounds so a demo at speed 1
#: trains for under a minute and a test at speed 1000 finishes in tens of milliseconds.
MIN_RUN_S, MAX_RUN_S = 15.0, 45.0
MAX_METRIC_EVENTS = 1000
TERMINAL = ("succeeded", "failed", "cancelled")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def stable_token(*parts: object, n: int = 24, hex_only: bool = False) -> str:
    """A deterministic id fragment from ``parts`` (events and checkpoints keep their ids across reads)."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=32).digest()
    if hex_only:
        return digest.hex()[:n]
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(n):
        number, rem = divmod(number, 62)
        chars.append(_B62[rem])
    return "".join(chars)


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    param: str | None = None


@dataclass(frozen=True)
class Event:
    """One job event; ``offset`` is in active (unpaused) seconds since creation, for ordering."""

    offset: float
    order: int
    level: str
    message: str
    type: str = "message"
    data: dict[str, Any] | None = None
    at: float | None = None  # absolute simulated time, for events recorded as they happen


@dataclass
class Plan:
    """The job's schedule, fixed at creation."""

    n_examples: int
    n_epochs: int
    batch_size: int
    total_steps: int
    invalid: Failure | None = None
    fail_step: int | None = None
    failure: Failure | None = None

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.total_steps // max(1, self.n_epochs))

    @property
    def step_s(self) -> float:
        run = min(MAX_RUN_S, max(MIN_RUN_S, 0.5 * self.total_steps))
        return run / max(1, self.total_steps)

    def step_offset(self, step: int) -> float:
        return VALIDATE_S + QUEUE_S + step * self.step_s

    @property
    def train_end(self) -> float:
        return self.step_offset(self.total_steps)

    @property
    def end(self) -> float:
        """When the job reaches its terminal status (if not cancelled)."""
        if self.invalid is not None:
            return VALIDATE_S
        if self.fail_step is not None:
            return self.step_offset(self.fail_step)
        return self.train_end + FINALIZE_S


@dataclass
class Job:
    """A fine-tuning job: what was asked, its plan, and what happened to it since."""

    id: str
    created_at: float
    model: str
    training_file: str
    validation_file: str | None
    method: str
    method_echo: dict[str, Any]
    hyperparameters: dict[str, Any]
    given_hyperparameters: dict[str, Any]
    suffix: str | None
    seed: int
    metadata: dict[str, str] | None
    integrations: list[dict[str, Any]]
    azure: bool
    organization_id: str
    fine_tuned_model_id: str
    plan: Plan
    training_content: bytes = b""
    result_fault: str | None = None
    paused_since: float | None = None
    pauses: list[tuple[float, float]] = field(default_factory=list)
    cancelled_offset: float | None = None
    cancelled_at: float | None = None
    live_events: list[Event] = field(default_factory=list)
    result_file_id: str | None = None
    _trained_tokens: int | None = None

    # -- time ------------------------------------------------------------------------------
    def offset(self, now: float) -> float:
        """Active seconds since creation at simulated time ``now``."""
        paused = sum(d for _, d in self.pauses)
        if self.paused_since is not None:
            paused += now - self.paused_since
        t = now - self.created_at - paused
        if self.cancelled_offset is not None:
            t = min(t, self.cancelled_offset)
        return max(0.0, t)

    def time_of(self, offset: float) -> float:
        """Simulated wall time at which active offset ``offset`` was (or will be) reached."""
        return self.created_at + offset + sum(d for at, d in self.pauses if at < offset)

    def status(self, now: float) -> str:
        t = self.offset(now)
        if self.cancelled_offset is not None:
            return "cancelled"
        plan = self.plan
        if t < VALIDATE_S:
            return "validating_files"
        if plan.invalid is not None:
            return "failed"
        if t < VALIDATE_S + QUEUE_S:
            return "queued"
        if t >= plan.end:
            return "failed" if plan.fail_step is not None else "succeeded"
        return "paused" if self.paused_since is not None else "running"

    def failure(self, now: float) -> Failure | None:
        if self.status(now) != "failed":
            return None
        return self.plan.invalid or self.plan.failure

    def finished_at(self, now: float) -> int | None:
        status = self.status(now)
        if status == "cancelled":
            return int(self.cancelled_at or now)
        if status in ("succeeded", "failed"):
            return int(self.time_of(self.plan.end))
        return None

    def estimated_finish(self, now: float) -> int | None:
        if self.status(now) not in ("running", "queued"):
            return None
        return int(self.time_of(self.plan.end) + (now - self.paused_since if self.paused_since else 0.0))

    def trained_tokens(self) -> int:
        if self._trained_tokens is None:
            per_epoch = validation.count_tokens(self.training_content, method=self.method, model=self.model)
            self._trained_tokens = per_epoch * self.plan.n_epochs
        return self._trained_tokens

    def current_step(self, now: float) -> int:
        t = self.offset(now) - VALIDATE_S - QUEUE_S
        if t <= 0:
            return 0
        last = self.plan.fail_step if self.plan.fail_step is not None else self.plan.total_steps
        return min(last, int(t / self.plan.step_s + 1e-9))

    # -- what the job produced ---------------------------------------------------------------
    @cached_property
    def curves(self) -> curves.Curves:
        return curves.simulate(
            self.plan.total_steps,
            seed=self.seed,
            method=self.method,
            has_validation=self.validation_file is not None,
        )

    def metrics(self, step: int) -> dict[str, Any]:
        m = self.curves.at(step)
        data: dict[str, Any] = {
            "step": step,
            "train_loss": round(m.train_loss, 5),
            "total_steps": self.plan.total_steps,
            "train_mean_token_accuracy": round(m.train_accuracy, 5),
        }
        if m.valid_loss is not None and m.valid_accuracy is not None:
            data["valid_loss"] = round(m.valid_loss, 5)
            data["valid_mean_token_accuracy"] = round(m.valid_accuracy, 5)
        if step == self.plan.total_steps and self.curves.full_valid_loss is not None:
            data["full_valid_loss"] = round(self.curves.full_valid_loss, 5)
            data["full_valid_mean_token_accuracy"] = round(self.curves.full_valid_accuracy or 0.0, 5)
        return data

    def checkpoint_steps(self) -> list[int]:
        """Steps at the end of each of the last three epochs (only those the job will reach)."""
        plan = self.plan
        if plan.invalid is not None:
            return []
        steps = [e * plan.steps_per_epoch for e in range(1, plan.n_epochs + 1)]
        steps[-1] = plan.total_steps
        reachable = [s for s in steps if plan.fail_step is None or s < plan.fail_step]
        return reachable[-3:]

    @cached_property
    def timeline(self) -> list[Event]:
        """Every planned event, in order; which ones exist yet depends on the clock."""
        plan, events = self.plan, []
        order = iter(range(1_000_000_000))

        def add(offset: float, level: str, message: str, **kw: Any) -> None:
            events.append(Event(offset, next(order), level, message, **kw))

        add(0.0, "info", f"Created fine-tuning job: {self.id}")
        add(0.0, "info", f"Validating training file: {self.training_file}")
        if self.validation_file:
            add(0.0, "info", f"Validating validation file: {self.validation_file}")
            if self.validation_file == self.training_file:
                add(
                    0.0,
                    "warn",
                    "The validation file is the training file; validation metrics will "
                    "not show how the model generalises. Hold out separate examples for validation.",
                )
        if plan.invalid is not None:
            add(VALIDATE_S, "error", plan.invalid.message)
            return events
        add(VALIDATE_S, "info", "Files validated, moving job to queued state")
        add(VALIDATE_S + QUEUE_S, "info", "Fine-tuning job started")
        last = plan.fail_step if plan.fail_step is not None else plan.total_steps
        every = max(1, math.ceil(plan.total_steps / MAX_METRIC_EVENTS))
        checkpoints = set(self.checkpoint_steps())
        for step in range(1, last + 1):
            if plan.fail_step is not None and step == plan.fail_step:
                break
            if step % every == 0 or step == plan.total_steps:
                data = self.metrics(step)
                text = f"Step {step}/{plan.total_steps}: training loss={data['train_loss']:.4f}"
                if "valid_loss" in data:
                    text += f", validation loss={data['valid_loss']:.4f}"
                add(plan.step_offset(step), "info", text, type="metrics", data=data)
            if step in checkpoints:
                add(plan.step_offset(step), "info", f"Checkpoint created at step {step}")
        if plan.fail_step is not None and plan.failure is not None:
            add(plan.end, "error", plan.failure.message)
            return events
        add(plan.train_end, "info", f"New fine-tuned model created: {self.fine_tuned_model_id}")
        add(plan.train_end + FINALIZE_S / 2, "info", "Evaluating model against our usage policies")
        add(plan.end, "info", "Usage policy evaluations completed, model is now enabled for sampling")
        add(plan.end, "info", "The job has successfully completed")
        return events

    @cached_property
    def _offsets(self) -> list[float]:
        return [e.offset for e in self.timeline]

    def events(self, now: float) -> list[Event]:
        """Events that have happened by ``now``, oldest first."""
        t = self.offset(now)
        cut = bisect_right(self._offsets, t + 1e-9)
        happened = self.timeline[:cut]
        if self.live_events:
            happened = sorted([*happened, *self.live_events], key=lambda e: (e.offset, e.at or 0.0, e.order))
        return happened

    def event_time(self, event: Event) -> int:
        return int(event.at if event.at is not None else self.time_of(event.offset))

    def record(self, now: float, level: str, message: str) -> None:
        """Add an event that happens now (pause, resume, cancel)."""
        self.live_events.append(
            Event(self.offset(now), 10**9 + len(self.live_events), level, message, at=now)
        )


def settle(state: SimState) -> None:
    """Write result files and fine-tuned models of jobs that have finished since last looked at."""
    if not state.unsettled:
        return
    now = state.clock.now()
    for job_id in list(state.unsettled):
        job = state.jobs[job_id]
        status = job.status(now)
        if status not in TERMINAL:
            continue
        state.unsettled.discard(job_id)
        if status != "succeeded":
            continue
        finished = job.finished_at(now) or int(now)
        if job.result_fault == "missing":
            job.result_file_id = state.ids.azure("file-") if job.azure else state.ids.openai("file-", 22)
        else:
            if job.result_fault == "empty":
                content = b""
            elif job.result_fault == "unparseable":
                content = curves.broken_result_file_content(job.curves)
            else:
                content = curves.result_file_content(job.curves)
            stored = state.add_file(
                "step_metrics.csv", "fine-tune-results", content, azure=job.azure, created_at=finished
            )
            job.result_file_id = stored.id
        owner = job.organization_id
        state.models[job.fine_tuned_model_id] = FineTunedModel(
            job.fine_tuned_model_id, finished, owner, job.id
        )
        for step in job.checkpoint_steps():
            name = checkpoint_model(job, step)
            state.models[name] = FineTunedModel(name, finished, owner, job.id)


def checkpoint_model(job: Job, step: int) -> str:
    return f"{job.fine_tuned_model_id}:ckpt-step-{step}"
