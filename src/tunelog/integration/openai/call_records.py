"""A recorded call journalled as it ends, from the bytes the SDK sent and received, and back.

Most calls (``chat.completions``, ``completions`` and ``responses`` ``create``, not streamed, without
a redact hook or ``capture_content=False``, request and response together at most 64 KiB) end with
a pydantic model the SDK parsed from an HTTP body it still holds. Autolog keeps those bytes (the
request's and the response's: a hook on the SDK's ``_process_response`` sees them, :func:`capture`),
lets the model go, and copies them, with the call's timings, request id and cached :func:`meta`
(run, endpoint, parent span), into the writer's mapped journal as the call ends
(:meth:`tunelog.writer.Writer.build_journalled`): no serialising on the caller's thread, not even of
the span's ids, which follow from the record's number (:func:`tunelog.mapped_journal.call_ids`); a
few microseconds, and a kill loses nothing of the call. The span is built later, a hundred calls at
a time, from the response's JSON (:func:`tunelog.integration.openai.spans_openai.build_span`).

A process that finds the journal of one that died turns the calls no journalled batch covers into
spans, history rows and run totals (:func:`recover`), going on from the run's summary and last step.
Such a span's inputs are the request's JSON body as sent (so without ``timeout`` or ``extra_headers``,
which a live call's span lists), its attributes without the HTTP status.
"""

from __future__ import annotations

import contextvars
import logging
import types
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunelog import tracing
from tunelog.store.base import RunKey, WriteBatch

try:  # the openai extra installs it; without it calls are journalled the usual way, once built
    import orjson
except ImportError:  # pragma: no cover - a tunelog installed without the extra
    orjson = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from tunelog.integration.openai.recorder import Call, Recorder
    from tunelog.mapped_journal import CallRecord
    from tunelog.store.base import Store

log = logging.getLogger("tunelog")
KIND = b"openai"
#: The call whose HTTP exchange the SDK is processing on this thread or task, if autolog keeps it.
CAPTURING: contextvars.ContextVar[Call | None] = contextvars.ContextVar("tunelog_capturing", default=None)
#: The APIs whose ``create`` responses are journalled this way (not embeddings' vectors, images).
APIS = ("chat", "completions", "responses")
#: The most bytes (request and response) a call journalled this way may have.
MAX_BYTES = 64 << 10
_FORMAT = 2  # of the meta (1: the wall-clock anchor and the ids were in a head of its own)


def available() -> bool:
    """Whether calls can be journalled from their bytes (orjson reads and writes the records)."""
    return orjson is not None


def loads(data: bytes) -> Any:
    return orjson.loads(data)


def dumps(value: Any) -> bytes:
    # Copied to its size: orjson's own bytes keep their 4 KiB buffer, and encoded meta is cached.
    return bytes(orjson.dumps(value))


def capture(call: Call, kwargs: Mapping[str, Any]) -> None:
    """In the SDK's ``_process_response(response=…, stream=…)``: keep the exchange's bytes, unless
    they are big (a request carrying images, a long context), which a hundred calls would hold and
    the journal could not take many of: such a call goes the usual way."""
    try:
        if kwargs.get("stream"):
            return
        response = kwargs["response"]
        try:  # httpx's own attributes: its properties, one per byte string, cost the call more in place
            request, body = response._request._content, response._content
        except AttributeError:  # an HTTP client without them (or a body not read): its public API
            request, body = response.request.content, response.content
        if len(request) + len(body) <= MAX_BYTES:
            call.raw = (request, body)
    except Exception:  # an SDK that passes it otherwise, a body not read: the call goes the usual way
        call.raw = None


def meta(call: Call) -> bytes:
    """What the call's journal record holds besides its times, request id and bytes: the run,
    endpoint, parent span, client and prices, which are the same for many calls, so encoded once and
    reused (the cache holds those objects, so their ids stay theirs while cached). On the caller's
    thread."""
    rec = call.recorder
    run, ep, parent, resource = call.run, call.endpoint, call.parent, call.resource
    last = rec.last_meta
    if last[0] is run and last[1] is ep and last[2] is parent and last[3] is resource:
        return last[4]  # most calls: the same as the one before (a few steps fewer than the cache)
    cache = rec.record_meta
    key = (id(run), id(ep), id(parent), id(resource))
    hit = cache.get(key)
    if hit is None:
        if len(cache) >= 256:
            cache.clear()
        hit = cache[key] = (run, ep, parent, resource, _meta(call))
    rec.last_meta = hit
    return hit[4]


def _meta(call: Call) -> bytes:
    ep = call.endpoint
    parent = call.parent
    client = getattr(call.resource, "_client", None)
    version = getattr(client, "_api_version", None) if client is not None else None
    rec = call.recorder
    return dumps(
        (
            _FORMAT,
            tuple(call.run.key),
            ep.name,
            ep.api,
            ep.kind,
            parent.trace_id if parent is not None else None,
            parent.span_id if parent is not None else None,
            str(version) if version is not None else None,
            tracing._WALL_ANCHOR,
            {"prices": rec.prices.overrides, "azure": dict(rec.options.azure_deployments)},
        )
    )


def _call(record: CallRecord, recorder: Recorder, run: Any, meta: Sequence[Any]) -> Call:
    """The call a record holds, as the dead process's recorder held it until it was built."""
    from tunelog.integration.openai.recorder import Call, Endpoint

    _, _, name, api, kind, trace_id, parent_id, version, anchor, _ctx = meta
    call = Call.__new__(Call)  # not __init__: the call was made, in the process that died
    call.recorder = recorder
    call.run = run
    call.writer = None  # type: ignore[assignment]  # built here, never queued
    call.endpoint = Endpoint(name, api, kind)
    call.parent = tracing.SpanContext(parent_id, trace_id, None) if trace_id and parent_id else None
    # An Azure client's api-version is all a span reads of the resource.
    client = types.SimpleNamespace(_api_version=version)
    call.resource = types.SimpleNamespace(_client=client) if version else None
    call.kwargs = call.send_kwargs = orjson.loads(record.request)
    call.raw = (record.request, record.response)
    call.result = call.error = None
    call.chunks = []
    call.status = "ok"  # only calls that returned are journalled this way
    call.injected_usage = call.capture = False
    call._done = True
    # This process's clock reading for the same wall time (spans are built with tracing.wall).
    call.t0 = round((anchor - tracing._WALL_ANCHOR) * 1e9) + record.t0
    call.t1 = call.t0 + (record.t1 - record.t0)
    call.t_first = 0
    call.request_id = record.ref.decode() or None
    call.span_id = call.trace_id = None  # given by add_to, from the record's number
    return call


def meta_of(record: CallRecord) -> list[Any]:
    meta = orjson.loads(record.meta)
    if meta[0] != _FORMAT:
        raise ValueError(f"a journalled OpenAI call of format {meta[0]!r}; this tunelog reads {_FORMAT}")
    return list(meta)


class _Resumed:
    """A run that died, seen by its recovery: its key and the summary its calls add up to."""

    __slots__ = ("key", "summary")

    def __init__(self, key: RunKey, summary: Mapping[str, Any]) -> None:
        self.key = key
        self.summary = dict(summary)

    def absorb_summary(self, values: Mapping[str, Any]) -> None:
        self.summary.update(values)


def recover(store: Store, before: Sequence[WriteBatch], records: Sequence[CallRecord]) -> WriteBatch:
    """The spans, history rows and summaries of a dead process's journalled calls (see
    :mod:`tunelog.mapped_journal`), committed after ``before`` (the batches its journal holds):
    each run's totals and steps go on from the last of those, else from the store."""
    from tunelog.integration.openai.pricing import PriceBook
    from tunelog.integration.openai.recorder import Options

    batch = WriteBatch()
    runs: dict[RunKey, tuple[_Resumed, Recorder] | None] = {}
    contexts: dict[str, tuple[PriceBook, dict[str, str]]] = {}
    torn = 0
    for record in records:
        try:
            meta = meta_of(record)
            key = RunKey(*meta[1])
        except Exception:  # torn by a crash of the machine (the checksum covers the head only)
            torn += 1
            continue
        if key not in runs:
            runs[key] = _resume(store, before, key)
        resumed = runs[key]
        if resumed is None:
            continue  # the run is gone from the store: nothing to attribute the call to
        run, recorder = resumed
        ctx = meta[-1] if isinstance(meta[-1], dict) else {}
        ctx_key = dumps(ctx).decode()
        if ctx_key not in contexts:
            contexts[ctx_key] = (PriceBook(ctx.get("prices") or None), dict(ctx.get("azure") or {}))
        recorder.prices, azure = contexts[ctx_key]
        recorder.options = Options(azure_deployments=azure)
        try:
            call = _call(record, recorder, run, meta)
            loads(record.response)  # a body torn by a crash: skipped
        except Exception:
            torn += 1
            continue
        if store.get_span(key.entity, key.project, record.span_id) is not None:
            # Committed before its process died, which then had no time to empty the journal.
            continue
        call.add_to(batch, (record.span_id, record.trace_id))
    if torn:
        log.warning("tunelog: %d journalled OpenAI calls could not be read back and were skipped", torn)
    for key, resumed in runs.items():
        if resumed is not None:  # also undoes an older summary the journal's batches carry
            batch.run_updates[key] = {"summary": resumed[0].summary}
    return batch


def _resume(store: Store, before: Sequence[WriteBatch], key: RunKey) -> tuple[_Resumed, Recorder] | None:
    from tunelog.integration.openai.pricing import PriceBook
    from tunelog.integration.openai.recorder import Options, Recorder, Totals

    rec = store.get_run(key)
    if rec is None:
        return None
    # The newer of the store's summary and the last the journal holds (calls only ever add up): the
    # journal's batches may have been committed already, and the store's be ahead of them.
    summary: Mapping[str, Any] = rec.summary or {}
    last_step = rec.last_step if rec.last_step is not None else -1
    for b in before:
        s = b.run_updates.get(key, {}).get("summary")
        if isinstance(s, Mapping) and _int(s.get("calls")) >= _int(summary.get("calls")):
            summary = s
        for step, _, _ in b.steps.get(key, ()):
            last_step = max(last_step, step)
    run = _Resumed(key, summary)
    recorder = Recorder(run, Options(), PriceBook())  # type: ignore[arg-type]
    totals = recorder.totals[key] = Totals()
    totals.prompt = _int(summary.get("usage/prompt_tokens"))
    totals.completion = _int(summary.get("usage/completion_tokens"))
    totals.total = _int(summary.get("usage/total_tokens"))
    totals.calls = _int(summary.get("calls"))
    totals.errors = _int(summary.get("errors"))
    cost = summary.get("usage/cost_usd")
    totals.cost = float(cost) if isinstance(cost, int | float) else 0.0
    recorder.resume_steps(key, last_step + 1)
    return run, recorder


def _int(v: Any) -> int:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0
