"""A fine-tuning job's metrics: its result file (CSV, plain or base64) and its live ``metrics`` events.

The result file names the columns (``step, train_loss, train_accuracy, valid_loss,
valid_mean_token_accuracy`` for supervised jobs, others for DPO and reinforcement); the metric events
sent while the job trains use slightly different names for the same series, mapped here so that the
live history and the result file written over it at the end are one series, not two.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Event data names → the result file's column names, where they differ.
EVENT_TO_COLUMN = {"train_mean_token_accuracy": "train_accuracy"}
#: Event data fields that are not metrics.
NOT_METRICS = frozenset({"step", "total_steps"})


class ResultFileError(ValueError):
    """The result file is empty or cannot be read as CSV."""


@dataclass(frozen=True)
class ResultFile:
    columns: list[str]
    rows: list[tuple[int, dict[str, float]]]  # (step, metrics), empty cells left out

    @property
    def last_step(self) -> int | None:
        return self.rows[-1][0] if self.rows else None


def decode(content: bytes) -> str:
    """The CSV text of a result file, served plain or base64-encoded."""
    data = content.strip()
    if not data:
        raise ResultFileError("it is empty")
    if data[:5].lower().startswith(b"step") or b"," in data[:200]:
        return data.decode("utf-8", "replace")
    try:
        raw = base64.b64decode(data, validate=False)
        binascii_check = base64.b64encode(raw).strip(b"=") == data.replace(b"\n", b"").strip(b"=")
    except (binascii.Error, ValueError) as exc:
        raise ResultFileError(f"it is neither CSV nor base64 ({exc})") from None
    if not binascii_check:
        raise ResultFileError("it is neither CSV nor valid base64 (it may have been cut off)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ResultFileError("its base64 content is not UTF-8 text") from None


def parse(content: bytes) -> ResultFile:
    """Parse a result file. Raises :class:`ResultFileError` when it is empty or not CSV."""
    text = decode(content)
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ResultFileError("it is empty") from None
    except csv.Error as exc:
        raise ResultFileError(f"its header is not CSV ({exc})") from None
    if "step" not in header:
        raise ResultFileError(f"it has no 'step' column (columns: {', '.join(header[:8]) or 'none'})")
    at = header.index("step")
    rows: list[tuple[int, dict[str, float]]] = []
    try:
        for n, cells in enumerate(reader, start=2):
            if not cells:
                continue
            if len(cells) > len(header):
                raise ResultFileError(f"line {n} has {len(cells)} cells for {len(header)} columns")
            try:
                step = int(float(cells[at]))
            except (ValueError, IndexError):
                raise ResultFileError(
                    f"line {n} has no step number ({cells[at] if len(cells) > at else ''!r})"
                ) from None
            values: dict[str, float] = {}
            for name, cell in zip(header, cells, strict=False):
                if name == "step" or not cell.strip():
                    continue
                try:
                    value = float(cell)
                except ValueError:
                    raise ResultFileError(
                        f"line {n}, column {name!r}: {cell[:20]!r} is not a number"
                    ) from None
                if math.isfinite(value):
                    values[name] = value
            rows.append((step, values))
    except csv.Error as exc:
        raise ResultFileError(f"it is not valid CSV ({exc})") from None
    if not rows:
        raise ResultFileError("it has a header but no rows")
    rows.sort(key=lambda r: r[0])
    return ResultFile([h for h in header if h != "step"], rows)


def event_metrics(data: Mapping[str, Any] | None) -> tuple[int | None, int | None, dict[str, float]]:
    """``(step, total_steps, metrics)`` of a ``metrics`` event, metric names as the result file has them."""
    if not data:
        return None, None, {}
    step, total = data.get("step"), data.get("total_steps")
    metrics: dict[str, float] = {}
    for key, value in data.items():
        if key in NOT_METRICS or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            metrics[EVENT_TO_COLUMN.get(key, key)] = float(value)
    return (
        int(step) if isinstance(step, int | float) else None,
        int(total) if isinstance(total, int | float) else None,
        metrics,
    )
