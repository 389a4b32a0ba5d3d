"""Training curves: realistic, seeded loss and accuracy per step, and OpenAI's result CSV.

Loss decays exponentially towards a floor with multiplicative noise; token accuracy rises as loss
falls. Validation metrics exist only at evaluation steps (and the last step), as in OpenAI's
result files, where the other rows leave those cells empty.
"""

from __future__ import annotations

import base64
import io
import math
import random
from dataclasses import dataclass

CSV_COLUMNS = ("step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy")


@dataclass(frozen=True)
class StepMetrics:
    step: int
    train_loss: float
    train_accuracy: float
    valid_loss: float | None
    valid_accuracy: float | None


@dataclass(frozen=True)
class Curves:
    """All steps of one job's training, plus the full-validation numbers at the end."""

    steps: list[StepMetrics]
    full_valid_loss: float | None
    full_valid_accuracy: float | None

    def at(self, step: int) -> StepMetrics:
        return self.steps[step - 1]


def _accuracy(loss: float, start: float, rng: random.Random) -> float:
    acc = 0.35 + 0.62 * (1.0 - min(1.0, loss / start)) + rng.gauss(0.0, 0.015)
    return min(1.0, max(0.0, acc))


def simulate(total_steps: int, *, seed: int, method: str, has_validation: bool) -> Curves:
    """Deterministic curves for ``total_steps`` steps from ``seed``."""
    rng = random.Random(seed * 7919 + total_steps)
    if method == "dpo":
        start, floor = math.log(2.0) + rng.uniform(-0.02, 0.02), rng.uniform(0.05, 0.2)
    else:
        start, floor = rng.uniform(1.4, 2.6), rng.uniform(0.08, 0.35)
    rate = rng.uniform(3.0, 6.0)
    gap = rng.uniform(1.02, 1.2)
    eval_every = max(1, total_steps // 20)
    steps: list[StepMetrics] = []
    for step in range(1, total_steps + 1):
        progress = step / total_steps
        base = floor + (start - floor) * math.exp(-rate * progress)
        train_loss = max(1e-4, base * math.exp(rng.gauss(0.0, 0.12)))
        train_acc = _accuracy(train_loss, start, rng)
        valid_loss = valid_acc = None
        if has_validation and (step % eval_every == 0 or step == total_steps):
            valid_loss = max(1e-4, base * gap * math.exp(rng.gauss(0.0, 0.08)))
            valid_acc = _accuracy(valid_loss, start, rng)
        steps.append(StepMetrics(step, train_loss, train_acc, valid_loss, valid_acc))
    full_loss = full_acc = None
    if has_validation and steps:
        last = floor + (start - floor) * math.exp(-rate)
        full_loss = last * gap
        full_acc = _accuracy(full_loss, start, rng)
    return Curves(steps, full_loss, full_acc)


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.5f}"


def result_csv(curves: Curves) -> bytes:
    """OpenAI's ``step_metrics.csv``: one row per step, empty validation cells between evaluations."""
    out = io.StringIO()
    out.write(",".join(CSV_COLUMNS) + "\n")
    for m in curves.steps:
        out.write(
            f"{m.step},{_cell(m.train_loss)},{_cell(m.train_accuracy)},"
            f"{_cell(m.valid_loss)},{_cell(m.valid_accuracy)}\n"
        )
    return out.getvalue().encode()


def result_file_content(curves: Curves) -> bytes:
    """The result file as OpenAI serves it from ``/files/{id}/content``: the CSV, base64-encoded."""
    return base64.b64encode(result_csv(curves))


def broken_result_file_content(curves: Curves) -> bytes:
    """A result file cut off mid-way (the fault ``result_file`` ``unparseable``): base64 that won't decode."""
    whole = result_file_content(curves)
    return whole[: max(5, (len(whole) // 2) // 4 * 4 + 1)]
