"""The per-call path: capture references and timings on the caller's thread, queue a thunk.

A :class:`Call` holds what the patched method saw (the resource, the keyword arguments, the result
or exception, ``perf_counter_ns`` readings) and is queued to the run's writer as a thunk that builds
its span (:mod:`~tunelog.integration.openai.spans_openai`). A non-streamed ``create`` holds the HTTP
exchange's bytes instead of the result, and is journalled as them as it ends
(:mod:`~tunelog.integration.openai.call_records`); such calls are built a hundred at a time. Of the
others, once five are queued, the next call, as it starts, runs the queued thunks on the caller's
thread and journals their batch through a memory map, no system call (see
:meth:`tunelog.writer.Writer.build_due`). No call takes a lock the writer holds while it writes.

Nothing here raises into the caller: every step is guarded, and failures are counted and logged once.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunelog import tracing
from tunelog.failure_counter import FailureCounter
from tunelog.integration.openai import call_records, streams
from tunelog.integration.openai.pricing import PriceBook
from tunelog.integration.openai.spans_openai import build_span

if TYPE_CHECKING:
    from tunelog.runs import Run
    from tunelog.store.base import SpanRecord, WriteBatch
    from tunelog.writer import Writer

log = logging.getLogger("tunelog")
_now = time.perf_counter_ns


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One patched SDK method: its span name, the API family, and how streaming usage works."""

    name: str  # "chat.completions.create"
    api: str  # chat | responses | completions | embeddings | moderations | images
    kind: str  # llm | embedding | moderation | image
    is_async: bool = False
    include_usage: bool = False  # the API accepts stream_options.include_usage
    stream_options_param: bool = True  # the SDK method takes stream_options (else via extra_body)
    legacy: bool = False  # openai 0.28 module-level API
    journal: bool = False  # a non-streamed call is journalled from its HTTP bytes (call_records)


@dataclass
class Options:
    capture_content: bool = True
    redact: Callable[[SpanRecord], SpanRecord | None] | None = None
    sample_rate: float = 1.0
    azure_deployments: Mapping[str, str] = field(default_factory=dict)
    stream_usage: str = "auto"  # auto | always | never
    stream_usage_hosts: tuple[str, ...] = ()


class Counters:
    """What ``autolog.stats()`` reports. Increments happen on many threads; a lock keeps them exact."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.recorded = 0
        self.dropped = 0
        self.sampled_out = 0
        self.errors = 0  # tunelog's own failures while recording

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def add_recorded(self) -> None:
        """One recorded call (every call's path: a ``with`` block and a named attribute cost twice
        the increment they guard; an int's ``+=`` cannot raise while the lock is held)."""
        lock = self._lock
        lock.acquire()
        self.recorded += 1
        lock.release()


class Totals:
    """A run's running totals, written to its summary (one thread at a time: the writer's building lock)."""

    __slots__ = ("calls", "completion", "cost", "errors", "prompt", "total")

    def __init__(self) -> None:
        self.calls = self.errors = self.prompt = self.completion = self.total = 0
        self.cost = 0.0


class Recorder:
    """One enabled autolog: where calls go and how they are recorded."""

    def __init__(self, run: Run, options: Options, prices: PriceBook) -> None:
        self.run = run
        self.options = options
        self.prices = prices
        self.counters = Counters()
        self.failures = FailureCounter()
        self.totals: dict[Any, Totals] = {}
        self._steps: dict[Any, itertools.count[int]] = {}
        self._usage_ok: dict[Any, bool] = {}
        self.active = True
        # Calls journalled from their HTTP bytes hold the content as it was sent: not with a redact
        # hook or capture_content=False, whose spans are redacted before anything is journalled.
        self.journal_calls = options.redact is None and options.capture_content and call_records.available()
        # What journalled calls' records share (see call_records.meta): (run, endpoint, parent,
        # resource, encoded) by their ids.
        self.record_meta: dict[tuple[int, int, int, int], tuple[Any, Any, Any, Any, bytes]] = {}
        self.last_meta: tuple[Any, Any, Any, Any, bytes] = (None, None, None, None, b"")  # of those

    # -- caller's thread ----------------------------------------------------------------------------
    def begin(self, endpoint: Endpoint, resource: Any, kwargs: dict[str, Any]) -> Call | None:
        """Start recording a call, or None to let it through unrecorded. Never raises."""
        try:
            if not self.active:
                return None
            rate = self.options.sample_rate
            if rate < 1.0 and random.random() >= rate:
                self.counters.add("sampled_out")
                return None
            parent = tracing.current_span()
            run = parent.run if parent is not None and parent.run is not None else None
            if run is None:
                where = tracing.sink_run()
                run = where if where is not None else self.run
            writer = run.writer
            writer.build_due()
            return Call(self, endpoint, resource, kwargs, parent, run, writer)
        except Exception as exc:
            self.fail("starting to record an OpenAI call", exc)
            return None

    def fail(self, what: str, exc: BaseException) -> None:
        self.counters.add("errors")
        self.failures.record(what, exc)

    def wants_usage(self, endpoint: Endpoint, resource: Any, kwargs: Mapping[str, Any]) -> bool:
        """Whether to ask for stream usage on the caller's behalf (see :mod:`streams`)."""
        if not endpoint.include_usage or not kwargs.get("stream"):
            return False
        opts = kwargs.get("stream_options")
        if isinstance(opts, Mapping) and "include_usage" in opts:
            return False  # the caller decided
        how = self.options.stream_usage
        if how != "auto":
            return how == "always"
        if kwargs.get("extra_headers") and _is_raw(kwargs["extra_headers"]):
            return False  # raw-response streams are handed over unparsed: leave them untouched
        client = getattr(resource, "_client", resource)  # openai 0.28: the module itself
        key = (id(client), getattr(client, "_api_version", None))
        ok = self._usage_ok.get(key)
        if ok is None:
            ok = self._usage_ok[key] = _accepts_include_usage(client, self.options.stream_usage_hosts)
        return ok

    # -- building, one thread at a time (the writer's building lock) -----------------------------------------
    def resume_steps(self, key: Any, start: int) -> None:
        """Number the run's next calls from ``start`` (a run recovered from a dead process's journal)."""
        self._steps[key] = itertools.count(start)

    def next_step(self, run: Run) -> int:
        counter = self._steps.get(run.key)
        if counter is None:
            counter = self._steps.setdefault(run.key, itertools.count())
        return next(counter)


def _is_raw(headers: Any) -> bool:
    try:
        return any(str(k).lower() == "x-stainless-raw-response" for k in headers)
    except TypeError:
        return False


def _accepts_include_usage(client: Any, extra_hosts: tuple[str, ...]) -> bool:
    """OpenAI's API, Azure api-versions from 2024-09-01-preview, a running tunelog simulator, and the
    hosts the user named accept ``stream_options.include_usage``; other servers might reject it."""
    base = str(getattr(client, "base_url", "") or getattr(client, "api_base", "") or "")
    host = base.split("://", 1)[-1].split("/", 1)[0].lower()
    if any(h and (h == host or h in base) for h in extra_hosts):
        return True
    if str(getattr(client, "api_type", "") or "").startswith("azure"):
        return False  # openai 0.28 against Azure: api-versions of that era reject it
    version = getattr(client, "_api_version", None)
    if version is not None:  # AzureOpenAI
        return str(version)[:10] >= "2024-09-01"
    if host == "api.openai.com":
        return True
    import sys

    sim = sys.modules.get("tunelog.simulator.server")
    serves = getattr(sim, "serves", None)
    return bool(serves is not None and serves(base))


class Call:
    """One recorded SDK call, from the caller's thread to the writer thread."""

    __slots__ = (
        "_done",
        "capture",
        "chunks",
        "endpoint",
        "error",
        "injected_usage",
        "kwargs",
        "parent",
        "raw",
        "recorder",
        "request_id",
        "resource",
        "result",
        "run",
        "send_kwargs",
        "span_id",
        "status",
        "step",
        "t0",
        "t1",
        "t_first",
        "trace_id",
        "writer",
    )

    def __init__(
        self,
        recorder: Recorder,
        endpoint: Endpoint,
        resource: Any,
        kwargs: dict[str, Any],
        parent: tracing.SpanContext | None,
        run: Run,
        writer: Writer,
    ) -> None:
        self.recorder = recorder
        self.endpoint = endpoint
        self.resource = resource
        self.parent = parent
        self.run = run
        self.writer = writer  # the run's (a property: read once a call)
        self.result: Any = None
        self.error: BaseException | None = None
        self.status = "ok"
        self.chunks: list[Any] = []
        self.t_first = 0
        self.t1 = 0
        self._done = False
        # Lists the caller may go on mutating (appending the reply to messages) are copied: cheap,
        # and the span shows what was sent.
        for key in ("messages", "input", "tools"):
            v = kwargs.get(key)
            if type(v) is list:
                kwargs[key] = list(v)
        self.kwargs = kwargs
        self.send_kwargs = kwargs
        self.injected_usage = False
        self.raw: tuple[bytes, bytes] | None = None
        self.request_id: Any = None
        self.span_id: str | None = None
        self.trace_id: str | None = None
        if kwargs.get("stream"):
            self.capture = False
            if recorder.wants_usage(endpoint, resource, kwargs):
                self._inject_usage()
        else:  # keep the HTTP exchange's bytes (call_records.capture), to journal the call with
            self.capture = endpoint.journal and recorder.journal_calls
        self.t0 = _now()

    def _inject_usage(self) -> None:
        send = dict(self.kwargs)
        opts = send.get("stream_options")
        merged = {**opts, "include_usage": True} if isinstance(opts, Mapping) else {"include_usage": True}
        if self.endpoint.stream_options_param:
            send["stream_options"] = merged
        else:  # an SDK too old to know the parameter: send it in the body
            body = send.get("extra_body")
            send["extra_body"] = {**(body if isinstance(body, Mapping) else {}), "stream_options": merged}
        self.send_kwargs = send
        self.injected_usage = True

    # -- outcomes (caller's thread) -----------------------------------------------------------------
    def fail(self, exc: BaseException) -> None:
        """The SDK raised ``exc``; the caller re-raises it unchanged."""
        try:
            self.t1 = _now()
            self.error = exc
            self.status = "error"
            self.raw = None  # a response the SDK could not turn into its result: not the call's
            self._queue()
        except Exception as inner:
            self.recorder.fail("recording a failed OpenAI call", inner)

    def finish(self, result: Any) -> Any:
        """The SDK returned ``result``; returns it (a stream keeps its identity). Never raises."""
        try:
            self.t1 = _now()
            raw = self.raw
            if raw is not None and hasattr(type(result), "model_dump"):
                # Built later from these bytes: the response object is not held meanwhile.
                self.request_id = getattr(result, "_request_id", None)
                self._queue(raw)
                return result
            self.raw = None
            self.result = result
            stream = self.kwargs.get("stream") and not self.endpoint.legacy
            if stream and streams.attach(result, self) is not None:
                return result  # the span is queued when the stream ends
            # A raw-response stream goes to the caller unread: it is recorded now as the HTTP exchange,
            # its prompt counted locally (``estimated``; the reply's tokens are not seen).
            self._queue()
        except Exception as exc:
            self.recorder.fail("recording an OpenAI call", exc)
        return result

    def end_stream(self, status: str, error: BaseException | None) -> None:
        """The stream ended (exhausted, failed or abandoned). Idempotent."""
        if self._done:
            return
        try:
            self.t1 = _now()
            self.status = status
            if error is not None:
                self.error = error
            self._queue()
        except Exception as exc:
            self.recorder.fail("recording an OpenAI stream", exc)

    def _queue(self, raw: tuple[bytes, bytes] | None = None) -> None:
        if self._done:
            return
        self._done = True
        # One queue item: the span and its history row are made later, both at once (see Writer.build).
        writer = self.writer
        if raw is None:
            queued = writer.build(self.add_to)
        else:  # journalled as it is queued, as the HTTP exchange's bytes (see call_records)
            rid = self.request_id
            ref = rid.encode() if type(rid) is str else b""
            meta = call_records.meta(self)
            queued = writer.build_journalled(
                self.add_to, call_records.KIND, self.t0, self.t1, ref, meta, raw[0], raw[1]
            )
        if queued:
            self.recorder.counters.add_recorded()
        else:
            self.recorder.counters.add("dropped")

    # -- building, one thread at a time (the writer's building lock) -----------------------------------------
    def add_to(self, batch: WriteBatch, ids: tuple[str, str] | None = None) -> None:
        """Build the call's span and history row into ``batch`` (live, or recovering a dead
        process's journalled call: see ``call_records``); a journalled call's span gets the ``ids``
        its record stands for (span id, and trace id at the root)."""
        if ids is not None:
            self.span_id = ids[0]
            if self.parent is None:
                self.trace_id = ids[1]
        rec = self.recorder
        run = self.run
        row: dict[str, Any] = {}
        try:
            span = build_span(self, row)
        except Exception as exc:
            rec.fail("building an OpenAI span", exc)
            return
        finally:
            # Drop what the SDK returned as soon as it is read: a backlog holds no responses.
            self.result = self.raw = None
            self.chunks = []
        if span is not None:
            batch.spans.append(span)
        steps = batch.steps.get(run.key)
        if steps is None:
            steps = batch.steps[run.key] = []
        steps.append((rec.next_step(run), tracing.wall(self.t1), row))
