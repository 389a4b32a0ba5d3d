"""Spans: :func:`trace` and :func:`traced` make parent spans; recorded calls nest under them.

::

    with tunelog.trace("answer-question", user="ada") as span:
        client.chat.completions.create(...)     # recorded by autolog as a child of this span
        span.set(answer_len=42)

The current span lives in a :class:`contextvars.ContextVar`, so nesting follows the code: each
thread and each asyncio task sees its own current span (a task inherits the span that was current
where it was created). To carry a span into a thread pool, submit ``tunelog.tracing.propagate(fn)``.

A span is recorded into the active run (``tunelog.run``), else into the run autolog records into.
Recording is one queue append on the caller's thread; the record is built on the writer thread.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from random import getrandbits
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

if TYPE_CHECKING:
    from tunelog.runs import Run
    from tunelog.store.base import SpanRecord

log = logging.getLogger("tunelog")

P = ParamSpec("P")
R = TypeVar("R")

# One anchor per process pairs the monotonic clock with wall time: span times are computed from
# perf_counter_ns (sub-microsecond, monotonic) and shown as UNIX seconds.
_WALL_ANCHOR = time.time() - time.perf_counter_ns() / 1e9
_MAX_REPR = 2000


def wall(ns: int) -> float:
    """UNIX seconds for a ``time.perf_counter_ns()`` reading."""
    return _WALL_ANCHOR + ns / 1e9


class _Ids:
    """Span and trace ids: a random prefix per process and a counter from a random start.

    So one process's ids sort together, and the store's indexes on them take each new span on the
    same few pages instead of a random one (measured: ~80 µs per span insert at 300,000 spans with
    random ids, ~12 µs with these). Unique across processes by the random prefix and start (drawn
    again in a forked child, and if a counter ever wraps); hex of the usual widths (16 and 32)."""

    span_prefix = 0
    span_next: Callable[[], int] = int
    trace_prefix = 0
    trace_next: Callable[[], int] = int

    @classmethod
    def reseed(cls) -> None:
        cls.span_prefix = getrandbits(32) << 32
        cls.span_next = itertools.count(getrandbits(31)).__next__
        cls.trace_prefix = getrandbits(64) << 64
        cls.trace_next = itertools.count(getrandbits(63)).__next__


_Ids.reseed()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_Ids.reseed)


def new_span_id() -> str:
    n = _Ids.span_next()
    if n >= 1 << 32:  # four billion spans in one process: start a new prefix
        _Ids.reseed()
        n = _Ids.span_next()
    return f"{_Ids.span_prefix | n:016x}"


def new_trace_id() -> str:
    n = _Ids.trace_next()
    if n >= 1 << 64:
        _Ids.reseed()
        n = _Ids.trace_next()
    return f"{_Ids.trace_prefix | n:032x}"


class SpanContext:
    """What is current while a span is open: its ids and the run its children are recorded into."""

    __slots__ = ("run", "span_id", "trace_id")

    def __init__(self, span_id: str, trace_id: str, run: Run | None) -> None:
        self.span_id = span_id
        self.trace_id = trace_id
        self.run = run


_current: contextvars.ContextVar[SpanContext | None] = contextvars.ContextVar("tunelog_span", default=None)


#: The open span of this thread or task, if any: the context variable's own method, so that a
#: recorded call's path runs no Python frame for it.
current_span: Callable[[], SpanContext | None] = _current.get


class _Fallback:
    """The run autolog records into when no run is active (set by autolog, never at import)."""

    run: Run | None = None


def set_fallback_run(run: Run | None) -> None:
    _Fallback.run = run


class _Session:
    """``tunelog.session.active_run``, imported on first use (not at ``import tunelog``)."""

    active_run: Callable[[], Run | None] | None = None


def sink_run() -> Run | None:
    """The run a span opened now is recorded into: the active run, else autolog's; None if neither."""
    get = _Session.active_run
    if get is None:
        from tunelog.session import active_run

        get = _Session.active_run = active_run
    run = get() or _Fallback.run
    if run is None or run.disabled:
        return None
    return run


def propagate(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` so that it runs with the caller's current span (for thread pools).

    The context is captured when ``propagate`` is called; each call of the wrapper runs in its own
    copy of it, so ``pool.map(propagate(fn), items)`` may run it on many workers at once.
    """
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: P.args, **kwargs: P.kwargs) -> R:
        # A Context can be entered by one thread at a time: copy it per call.
        return ctx.copy().run(fn, *args, **kwargs)

    return run_in_context


# -- JSON conversion, used on the writer thread ---------------------------------------------------------


def to_json(value: Any, depth: int = 0) -> Any:
    """A JSON value for anything a span may hold: pydantic models dumped, types named, the rest repr'd."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if depth > 40:
        return repr(value)[:_MAX_REPR]
    if isinstance(value, Mapping):
        return {str(k): to_json(v, depth + 1) for k, v in value.items() if not _is_omitted(v)}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v, depth + 1) for v in value]
    if isinstance(value, type):
        return value.__qualname__
    dump = getattr(value, "model_dump", None)
    if dump is not None and callable(dump):
        try:
            return to_json(dump(mode="json", exclude_unset=True, warnings=False), depth + 1)
        except Exception:  # a model that will not dump is recorded by its repr
            return repr(value)[:_MAX_REPR]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return repr(value)[:_MAX_REPR]


def _is_omitted(value: Any) -> bool:
    # The SDK's NOT_GIVEN / omit sentinels mean "not passed".
    return type(value).__name__ in ("NotGiven", "Omit")


# -- trace() -----------------------------------------------------------------------------------------


class Span:
    """An open span made by :func:`trace` or :func:`traced`. ``set`` adds attributes; ``output`` is
    recorded as the span's outputs."""

    __slots__ = ("_ctx", "_parent_id", "_token", "attributes", "inputs", "kind", "name", "output", "start_ns")

    def __init__(self, name: str, kind: str, attributes: dict[str, Any], inputs: Any = None) -> None:
        self.name = name
        self.kind = kind
        self.attributes = attributes
        self.inputs = inputs
        self.output: Any = None
        self.start_ns = 0
        self._ctx: SpanContext | None = None
        self._parent_id: str | None = None
        self._token: contextvars.Token[SpanContext | None] | None = None

    @property
    def id(self) -> str | None:
        """The span's id (None before it is entered)."""
        return self._ctx.span_id if self._ctx else None

    @property
    def trace_id(self) -> str | None:
        return self._ctx.trace_id if self._ctx else None

    def set(self, **attributes: Any) -> None:
        """Add or replace attributes of the span."""
        self.attributes.update(attributes)

    def __enter__(self) -> Span:
        parent = _current.get()
        if parent is not None:
            ctx = SpanContext(new_span_id(), parent.trace_id, parent.run)
            self._parent_id = parent.span_id
        else:
            ctx = SpanContext(new_span_id(), new_trace_id(), sink_run())
            self._parent_id = None
        self._ctx = ctx
        self._token = _current.set(ctx)
        self.start_ns = time.perf_counter_ns()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        end_ns = time.perf_counter_ns()
        if self._token is not None:
            try:
                _current.reset(self._token)
            except ValueError:  # exited in another context (a generator resumed elsewhere)
                _current.set(None)
        ctx = self._ctx
        if ctx is None or ctx.run is None:
            return
        parent_id = self._parent_id
        error = ev if isinstance(ev, BaseException) else None
        record = functools.partial(_build_span, self, ctx, parent_id, end_ns, error)
        # The run's own writer: a run of another data directory has another one.
        if not ctx.run._writer.span(record):
            _dropped.add()

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(et, ev, tb)


class _DropCounter:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.count += 1


_dropped = _DropCounter()


def dropped_spans() -> int:
    """Spans of :func:`trace` dropped because the writer's queue was full."""
    return _dropped.count


def _build_span(
    span: Span, ctx: SpanContext, parent_id: str | None, end_ns: int, error: BaseException | None
) -> SpanRecord:
    from tunelog.store.base import SpanRecord

    assert ctx.run is not None  # checked before queueing
    err = None
    status = "ok"
    if error is not None:
        status = "error"
        err = {"type": type(error).__name__, "message": str(error)[:_MAX_REPR]}
    return SpanRecord(
        span_id=ctx.span_id,
        trace_id=ctx.trace_id,
        parent_id=parent_id,
        run=ctx.run.key,
        name=span.name,
        kind=span.kind,
        start_time=wall(span.start_ns),
        end_time=wall(end_ns),
        status=status,
        inputs=to_json(span.inputs),
        outputs=to_json(span.output),
        attributes=to_json(span.attributes),
        error=err,
    )


def trace(name: str, *, kind: str = "chain", **attributes: Any) -> Span:
    """Open a parent span: ``with tunelog.trace("step", user="ada") as span: ...``.

    Args:
        name: what the span is called in the trace view.
        kind: ``"chain"`` (default), ``"tool"``, ``"agent"``, ``"retriever"`` … (free text).
        **attributes: recorded with the span; add more later with ``span.set(...)``.

    Works with ``with`` and ``async with``. OpenAI calls made inside (on this thread or task, or in
    tasks created inside) are recorded as its children; an exception marks the span ``error`` and
    propagates unchanged.
    """
    return Span(name, kind, dict(attributes))


# -- @traced -----------------------------------------------------------------------------------------


@overload
def traced(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def traced(
    *, name: str | None = None, kind: str = "chain", capture: bool = True
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def traced(
    fn: Callable[P, R] | None = None, /, *, name: str | None = None, kind: str = "chain", capture: bool = True
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function (sync or ``async``) so that each call is a span.

    ``@tunelog.traced`` or ``@tunelog.traced(name="retrieve", kind="retriever", capture=False)``.
    With ``capture`` (default) the arguments and the return value are recorded.
    """

    def decorate(f: Callable[P, R]) -> Callable[P, R]:
        span_name = name or getattr(f, "__qualname__", None) or repr(f)
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                span = Span(span_name, kind, {}, _inputs(args, kwargs) if capture else None)
                with span:
                    out = await f(*args, **kwargs)  # type: ignore[misc]
                    if capture:
                        span.output = out
                    return out

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(f)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            span = Span(span_name, kind, {}, _inputs(args, kwargs) if capture else None)
            with span:
                out = f(*args, **kwargs)
                if capture:
                    span.output = out
                return out

        return wrapper

    if fn is not None:
        return decorate(fn)
    return decorate


def _inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args:
        out["args"] = list(args)
    if kwargs:
        out["kwargs"] = kwargs
    return out
