"""Fault injection: make the simulator misbehave on purpose, the way OpenAI sometimes does.

Configure it from Python through ``sim.faults`` (a :class:`Faults`) or over HTTP through
``POST /_admin/faults`` with the same fields as JSON. Every fault has a ``route`` (a path relative to
the API root, e.g. ``/chat/completions``, with ``*`` wildcards; the same route matches under ``/v1``,
``/openai/v1``, ``/openai/deployments/{name}`` and ``/openai``), a ``rate`` in [0, 1] drawn from a
seeded generator (so a run is reproducible) and an optional ``times`` budget after which it expires.

Kinds:
- ``error``: answer with ``status`` (429 adds ``Retry-After``; 500, 503, anything ≥ 400).
- ``latency``: wait ``seconds`` before answering.
- ``stream_cut``: a streaming response drops the connection after ``after_events`` SSE events.
- ``job_failure``: the next fine-tuning job(s) fail at fraction ``at`` of training with ``code``/``message``.
- ``result_file``: the next succeeded job(s) list a result file that is ``missing``, ``empty`` or
  ``unparseable``.
- ``body_cut``: a (non-streaming) response of the Files API — a file's content, or a file's JSON —
  drops the connection after ``after_bytes`` bytes of its body.
"""

from __future__ import annotations

import fnmatch
import math
import random
import re
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal

from tunelog.simulator.errors import APIError

FaultKind = Literal["error", "latency", "stream_cut", "job_failure", "result_file", "body_cut"]
KINDS: tuple[str, ...] = ("error", "latency", "stream_cut", "job_failure", "result_file", "body_cut")
RESULT_FILE_MODES = ("missing", "empty", "unparseable")

_PREFIX = re.compile(r"^(?:/v1|/openai/v1|/openai/deployments/[^/]+|/openai)(?=/|$)")

_DEFAULT_MESSAGES = {
    429: "Rate limit reached for requests (simulated by tunelog's fault injection). Please try again later.",
    500: "The server had an error while processing your request. Sorry about that! (simulated fault)",
    503: "The server is overloaded or not ready yet. (simulated fault)",
}


def api_path(path: str) -> str:
    """``path`` relative to the API root: ``/v1/files`` and ``/openai/files`` are both ``/files``."""
    return _PREFIX.sub("", path, count=1) or "/"


@dataclass
class Fault:
    """One injected fault. Build it with the :class:`Faults` methods rather than directly."""

    id: str
    kind: str
    route: str = "*"
    method: str | None = None
    rate: float = 1.0
    times: int | None = None
    status: int | None = None
    retry_after: float | None = None
    message: str | None = None
    code: str | None = None
    seconds: float | None = None
    after_events: int | None = None
    after_bytes: int | None = None
    at: float | None = None
    mode: str | None = None
    fired: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, method: str | None, path: str) -> bool:
        if self.method is not None and method is not None and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(api_path(path), self.route)

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def error(self) -> APIError:
        status = self.status or 500
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            # Both headers, as OpenAI sends: the SDK prefers the millisecond one, others read seconds.
            headers["retry-after"] = str(max(0, math.ceil(self.retry_after)))
            headers["retry-after-ms"] = str(int(self.retry_after * 1000))
        message = self.message or _DEFAULT_MESSAGES.get(status, f"Simulated error {status}.")
        if status == 429:
            return APIError(
                429, message, type="requests", code=self.code or "rate_limit_exceeded", headers=headers
            )
        return APIError(status, message, code=self.code, headers=headers)


@dataclass
class RequestFaults:
    """What the faults say about one incoming request."""

    delay: float = 0.0
    error: APIError | None = None


class Faults:
    """The set of active faults of one simulator, safe to change from any thread."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._faults: list[Fault] = []
        self._counter = 0

    # -- configuring -------------------------------------------------------------------------
    def error(
        self,
        route: str = "*",
        *,
        status: int = 500,
        rate: float = 1.0,
        times: int | None = None,
        retry_after: float | None = None,
        message: str | None = None,
        code: str | None = None,
        method: str | None = None,
    ) -> Fault:
        """Answer requests to ``route`` with HTTP ``status`` and OpenAI's error JSON.

        ``retry_after`` (seconds) sets ``Retry-After``/``retry-after-ms``; for 429 it defaults to 1.
        """
        if status < 400 or status > 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {status!r}.")
        if status == 429 and retry_after is None:
            retry_after = 1.0
        return self._add(
            kind="error",
            route=route,
            method=method,
            rate=rate,
            times=times,
            status=status,
            retry_after=retry_after,
            message=message,
            code=code,
        )

    def latency(
        self, route: str = "*", *, seconds: float, rate: float = 1.0, times: int | None = None
    ) -> Fault:
        """Delay answers to ``route`` by ``seconds`` (the server keeps serving others meanwhile)."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}.")
        return self._add(kind="latency", route=route, rate=rate, times=times, seconds=seconds)

    def cut_stream(self, route: str = "*", *, after_events: int, times: int | None = None) -> Fault:
        """Drop streaming responses of ``route`` after ``after_events`` server-sent events."""
        if after_events < 0:
            raise ValueError(f"after_events must be >= 0, got {after_events!r}.")
        return self._add(kind="stream_cut", route=route, times=times, after_events=after_events)

    def fail_job(
        self,
        *,
        code: str = "internal_error",
        message: str = "Fine-tuning job failed due to an internal error (simulated fault).",
        at: float = 0.5,
        times: int | None = 1,
    ) -> Fault:
        """Make the next ``times`` created jobs fail after fraction ``at`` (0..1) of their training."""
        if not 0.0 <= at <= 1.0:
            raise ValueError(f"at is a fraction of training between 0 and 1, got {at!r}.")
        return self._add(kind="job_failure", times=times, code=code, message=message, at=at)

    def break_result_file(
        self, mode: Literal["missing", "empty", "unparseable"] = "missing", *, times: int | None = 1
    ) -> Fault:
        """Make the next ``times`` created jobs list a result file that is missing, empty (0 bytes) or
        unparseable (cut off mid-way)."""
        if mode not in RESULT_FILE_MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, RESULT_FILE_MODES))}, got {mode!r}.")
        return self._add(kind="result_file", times=times, mode=mode)

    def cut_body(
        self, route: str = "/files/*/content", *, after_bytes: int, times: int | None = None
    ) -> Fault:
        """Drop the connection after ``after_bytes`` bytes of a Files API response body on ``route``
        (a download, or a file's JSON): the client sees the body end early, as when a connection drops
        mid-download."""
        if after_bytes < 0:
            raise ValueError(f"after_bytes must be >= 0, got {after_bytes!r}.")
        return self._add(kind="body_cut", route=route, method="GET", times=times, after_bytes=after_bytes)

    def add(self, spec: dict[str, Any]) -> Fault:
        """Add a fault from a JSON-like dict: ``{"kind": "error", "route": "/files", "status": 503}``."""
        spec = dict(spec)
        kind = spec.pop("kind", None)
        builders = {
            "error": self.error,
            "latency": self.latency,
            "stream_cut": self.cut_stream,
            "job_failure": self.fail_job,
            "result_file": self.break_result_file,
            "body_cut": self.cut_body,
        }
        if kind not in builders:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}.")
        try:
            fault: Fault = builders[kind](**spec)  # type: ignore[operator]
            return fault
        except TypeError as exc:
            raise ValueError(f"bad fields for a {kind!r} fault: {exc}") from None

    def remove(self, fault_id: str) -> bool:
        """Remove one fault; returns whether it existed."""
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def _add(self, **fields: Any) -> Fault:
        rate = fields.get("rate", 1.0)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate is a probability between 0 and 1, got {rate!r}.")
        times = fields.get("times")
        if times is not None and times < 1:
            raise ValueError(f"times must be a positive count or None (forever), got {times!r}.")
        with self._lock:
            self._counter += 1
            fault = Fault(id=f"fault_{self._counter}", **fields)
            self._faults.append(fault)
            return fault

    # -- consulted by the server -------------------------------------------------------------
    def _take(self, kind: str, method: str | None, path: str | None) -> Fault | None:
        """The first live fault of ``kind`` that matches and fires (rate drawn), counted as fired."""
        with self._lock:
            for fault in self._faults:
                if fault.kind != kind or fault.spent:
                    continue
                if path is not None and not fault.matches(method, path):
                    continue
                if fault.rate < 1.0 and self._rng.random() >= fault.rate:
                    continue
                fault.fired += 1
                return fault
            return None

    def on_request(self, method: str, path: str) -> RequestFaults:
        """Latency and error to apply to one request (called by the app before routing)."""
        if not self._faults:
            return RequestFaults()
        slow = self._take("latency", method, path)
        failing = self._take("error", method, path)
        return RequestFaults(
            delay=(slow.seconds or 0.0) if slow else 0.0, error=failing.error() if failing else None
        )

    def stream_cut_after(self, path: str) -> int | None:
        """For streaming handlers: drop the connection after this many SSE events, or None."""
        if not self._faults:
            return None
        fault = self._take("stream_cut", "POST", path)
        return fault.after_events if fault else None

    def body_cut_after(self, method: str, path: str) -> int | None:
        """For Files API handlers: drop the connection after this many body bytes, or None."""
        if not self._faults:
            return None
        fault = self._take("body_cut", method, path)
        return fault.after_bytes if fault else None

    def take_job_failure(self) -> Fault | None:
        """For job creation: the failure to plan into the new job, if one is configured."""
        return self._take("job_failure", None, None) if self._faults else None

    def take_result_file_fault(self) -> str | None:
        """For job creation: ``"missing"``/``"empty"``/``"unparseable"`` if the result file must be broken."""
        fault = self._take("result_file", None, None) if self._faults else None
        return fault.mode if fault else None
