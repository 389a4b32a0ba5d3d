"""Recording streamed calls without changing what the caller iterates.

The caller keeps the very ``Stream`` / ``AsyncStream`` object the SDK returned. Where the SDK reads
server-sent events through ``Stream._iter_events`` (openai 1.x to 3.x), autolog reads them one step
earlier: each event's JSON is parsed once, kept (a plain dict is cheaper to hold than the chunk
object), and handed to the SDK through the event's ``json()``, so the SDK parses nothing twice.
When autolog asked for usage on the caller's behalf (``stream_options.include_usage``), the final
event that carries it never reaches the SDK, and the ``"usage": null`` the server then adds to every
other event is removed before the SDK builds the chunk: the caller gets exactly the chunks it would
have got anyway, and the SDK builds no more of them. Elsewhere a generator wraps the SDK's chunk
iterator (``_iterator``) and keeps the chunks. Assembling the deltas (text, tool calls, usage)
happens later, on the writer thread (:mod:`tunelog.integration.openai.spans_openai`).

A stream the caller abandons (``break``, ``close()``, garbage collection) ends its span
``incomplete`` with what arrived.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from itertools import repeat
from typing import TYPE_CHECKING, Any

from tunelog.integration.openai import sse

if TYPE_CHECKING:
    from tunelog.integration.openai.recorder import Call

_now = time.perf_counter_ns
try:  # the same values as json.loads, faster
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson comes with tunelog[openai]
    from json import loads as _loads  # type: ignore[assignment]


class _Head:
    """The status and headers of a stream's HTTP response (not the response: it holds much more)."""

    __slots__ = ("headers", "status_code")

    def __init__(self, response: Any) -> None:
        self.status_code = getattr(response, "status_code", None)
        self.headers = getattr(response, "headers", None)


class _Opened:
    """What a span needs of an SDK stream once it is open: the HTTP response (status, request id)."""

    __slots__ = ("response",)

    def __init__(self, response: Any) -> None:
        self.response = _Head(response) if response is not None else None


def _is_hidden_usage_chunk(chunk: Any) -> bool:
    """The chunk the server adds for include_usage: no choices, usage set."""
    if isinstance(chunk, dict):
        return not chunk.get("choices") and chunk.get("usage") is not None
    return not getattr(chunk, "choices", True) and getattr(chunk, "usage", None) is not None


def _unset_null_usage(chunk: Any) -> None:
    if isinstance(chunk, dict):  # openai 0.28's OpenAIObject
        if "usage" in chunk and chunk["usage"] is None:
            dict.__delitem__(chunk, "usage")  # OpenAIObject forbids ``del``
        return
    fields = getattr(chunk, "__pydantic_fields_set__", None)
    if fields is not None and "usage" in fields and chunk.usage is None:
        fields.discard("usage")


def _hide(chunk: Any, call: Call) -> bool:
    """Whether to keep ``chunk`` from the caller (the usage chunk tunelog asked for). Never raises."""
    try:
        if _is_hidden_usage_chunk(chunk):
            return True
        _unset_null_usage(chunk)
    except Exception as exc:
        call.recorder.fail("following an OpenAI stream", exc)
    return False


def iterate(inner: Iterator[Any], call: Call) -> Generator[Any, None, None]:
    """Pass ``inner``'s chunks through, recording them into ``call``."""
    chunks = call.chunks
    append = chunks.append
    hide = call.injected_usage
    status = "incomplete"
    error: BaseException | None = None
    try:
        for chunk in inner:
            if not chunks:
                call.t_first = _now()
            append(chunk)
            if hide:
                # Inline for the SDK's chunk objects (the per-chunk cost is on the caller's thread).
                fields = getattr(chunk, "__pydantic_fields_set__", None)
                if fields is None:
                    if _hide(chunk, call):
                        continue
                elif getattr(chunk, "usage", None) is not None:
                    if not getattr(chunk, "choices", True):
                        continue  # the usage chunk tunelog asked for
                else:
                    fields.discard("usage")
            yield chunk
        status = "ok"
    except GeneratorExit:
        raise
    except BaseException as exc:
        status, error = "error", exc
        raise
    finally:
        call.end_stream(status, error)


async def aiterate(inner: AsyncIterator[Any], call: Call) -> AsyncGenerator[Any, None]:
    """The async twin of :func:`iterate`."""
    chunks = call.chunks
    append = chunks.append
    hide = call.injected_usage
    status = "incomplete"
    error: BaseException | None = None
    try:
        async for chunk in inner:
            if not chunks:
                call.t_first = _now()
            append(chunk)
            if hide:
                # Inline for the SDK's chunk objects (the per-chunk cost is on the caller's thread).
                fields = getattr(chunk, "__pydantic_fields_set__", None)
                if fields is None:
                    if _hide(chunk, call):
                        continue
                elif getattr(chunk, "usage", None) is not None:
                    if not getattr(chunk, "choices", True):
                        continue  # the usage chunk tunelog asked for
                else:
                    fields.discard("usage")
            yield chunk
        status = "ok"
    except GeneratorExit:
        raise
    except BaseException as exc:
        status, error = "error", exc
        raise
    finally:
        call.end_stream(status, error)


def _events(events: Iterator[Any], call: Call) -> Generator[Any, None, None]:
    """The SDK's server-sent events, each parsed once and kept (see the module's docstring)."""
    chunks = call.chunks
    append = chunks.append
    hide = call.injected_usage
    status = "incomplete"
    error: BaseException | None = None
    try:
        for sse in events:
            if not chunks:
                call.t_first = _now()
            data = sse.data
            if data.startswith("[DONE]"):
                status = "ok"  # the SDK stops reading here
                call.end_stream(status, None)
                yield sse
                continue
            try:
                parsed = _loads(data)
            except ValueError:
                parsed = _parse(data)
            if parsed is _UNPARSED:
                yield sse  # the SDK's own json() raises for the caller, as it would have
                continue
            if type(parsed) is dict:
                if hide and "usage" in parsed:
                    if parsed["usage"] is None:
                        del parsed["usage"]
                    elif not parsed.get("choices"):
                        append(parsed if len(chunks) < _KEEP_PARSED else data)
                        continue  # the usage event tunelog asked for
                if parsed.get("error"):
                    call.error = _EventError(parsed["error"])  # the SDK raises APIError for it
                # The parsed dict for a short stream (the writer need not parse it again), past that
                # the text: a fifth of the dict's memory while the span waits.
                append(parsed if len(chunks) < _KEEP_PARSED else data)
            try:  # the SDK's ``sse.json()`` returns it instead of parsing the event again
                sse.json = repeat(parsed).__next__
            except AttributeError:  # an event class with slots: the SDK parses it (a "usage": null stays)
                pass
            yield sse
        status = "ok"
    except GeneratorExit:
        if call.error is not None:
            status = "error"
        raise
    except BaseException as exc:
        status, error = "error", exc
        raise
    finally:
        call.end_stream(status, error)


async def _aevents(events: AsyncIterator[Any], call: Call) -> AsyncGenerator[Any, None]:
    """The async twin of :func:`_events`."""
    chunks = call.chunks
    append = chunks.append
    hide = call.injected_usage
    status = "incomplete"
    error: BaseException | None = None
    try:
        async for sse in events:
            if not chunks:
                call.t_first = _now()
            data = sse.data
            if data.startswith("[DONE]"):
                status = "ok"
                call.end_stream(status, None)
                yield sse
                continue
            try:
                parsed = _loads(data)
            except ValueError:
                parsed = _parse(data)
            if parsed is _UNPARSED:
                yield sse  # the SDK's own json() raises for the caller, as it would have
                continue
            if type(parsed) is dict:
                if hide and "usage" in parsed:
                    if parsed["usage"] is None:
                        del parsed["usage"]
                    elif not parsed.get("choices"):
                        append(parsed if len(chunks) < _KEEP_PARSED else data)
                        continue
                if parsed.get("error"):
                    call.error = _EventError(parsed["error"])
                append(parsed if len(chunks) < _KEEP_PARSED else data)
            try:  # the SDK's ``sse.json()`` returns it instead of parsing the event again
                sse.json = repeat(parsed).__next__
            except AttributeError:  # an event class with slots: the SDK parses it (a "usage": null stays)
                pass
            yield sse
        status = "ok"
    except GeneratorExit:
        if call.error is not None:
            status = "error"
        raise
    except BaseException as exc:
        status, error = "error", exc
        raise
    finally:
        call.end_stream(status, error)


_UNPARSED = object()
#: A stream's first events are kept parsed, the rest as text (see _events).
_KEEP_PARSED = 64


def parse_event(data: str) -> Any:
    """A kept event's JSON (on the writer thread; it parsed once already, on the caller's)."""
    try:
        return _loads(data)
    except ValueError:
        parsed = _parse(data)
        return None if parsed is _UNPARSED else parsed


def _parse(data: str) -> Any:
    try:  # what orjson is stricter about than json (NaN, lone surrogates, huge integers)
        return json.loads(data)
    except ValueError:
        return _UNPARSED


class _EventError(Exception):
    """An ``error`` event in a stream; the SDK raises ``APIError`` for it (recorded under that name)."""

    def __init__(self, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else None
        super().__init__(
            message if isinstance(message, str) and message else "An error occurred during streaming"
        )


_EventError.__name__ = _EventError.__qualname__ = "APIError"


class _Guard:
    """Ends the span ``incomplete`` when the stream it hangs on is dropped (even unread).

    A ``__del__`` on an attribute of the stream, not ``weakref.finalize``: a tenth of the cost."""

    __slots__ = ("call",)

    def __init__(self, call: Call) -> None:
        self.call = call

    def __del__(self) -> None:
        try:
            self.call.end_stream("incomplete", None)
        except Exception:
            pass


def _sse_hookable(stream: Any) -> bool:
    # The SDK reads events through ``self._iter_events()`` when first iterated; its generator has not
    # started yet (it is created unstarted in ``__init__``), so an instance attribute takes its place.
    return callable(getattr(stream, "_iter_events", None)) and "_iter_events" not in vars(stream)


def attach(stream: Any, call: Call) -> Any:
    """Make ``stream`` (the SDK's Stream or AsyncStream) record into ``call``; returns ``stream``.

    Returns None when the object is not a stream autolog knows how to follow."""
    inner = getattr(stream, "_iterator", None)
    if inner is None:
        return None
    # The call keeps what the span needs of the stream (its HTTP response), not the stream itself, so
    # a stream dropped unread is collected, and the guard ends its span ``incomplete``.
    call.result = _Opened(getattr(stream, "response", None))
    stream._tunelog_guard = _Guard(call)
    is_async = hasattr(inner, "__anext__")
    if _sse_hookable(stream):
        wrap = _aevents if is_async else _events
        sse.install(stream)  # the same events, decoded faster (see tunelog.integration.openai.sse)

        def iter_events() -> Any:
            # Called once, when the SDK starts reading; removing itself leaves no reference cycle
            # (stream → this function → stream) for the garbage collector to find.
            del stream._iter_events
            return wrap(stream._iter_events(), call)

        stream._iter_events = iter_events
        return stream
    if is_async:
        agen = aiterate(inner, call)
        stream._iterator = agen
        orig_aclose = stream.close

        async def aclose() -> None:
            try:
                await agen.aclose()
                call.end_stream("incomplete", None)  # an unstarted generator runs no finally
            finally:
                await orig_aclose()

        stream.close = aclose
    else:
        gen = iterate(inner, call)
        stream._iterator = gen
        orig_close = stream.close

        def close() -> None:
            try:
                gen.close()
                call.end_stream("incomplete", None)  # an unstarted generator runs no finally
            finally:
                orig_close()

        stream.close = close
    return stream


def wrap_generator(inner: Iterator[Any], call: Call) -> Iterator[Any]:
    """For openai 0.28, whose streams are plain generators: a generator yielding the same chunks."""
    return iterate(inner, call)


def wrap_async_generator(inner: AsyncIterator[Any], call: Call) -> AsyncIterator[Any]:
    return aiterate(inner, call)
