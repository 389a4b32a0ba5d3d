"""Recording streamed calls without changing what the caller iterates.

The SDK's ``Stream`` / ``AsyncStream`` iterate a private generator (``_iterator``); autolog swaps in
a generator that passes every chunk through and keeps a reference to it, so the caller keeps the
very object the SDK returned. Assembling the deltas (text, tool calls, usage) happens later, on the
writer thread (:mod:`tunelog.integration.openai.spans_openai`).

When autolog asked for usage on the caller's behalf (``stream_options.include_usage``), the extra
final chunk that carries it is kept but not yielded, and the ``usage: null`` the server then adds to
every other chunk is marked unset again, so the caller sees the chunks it would have seen anyway.

A stream the caller abandons (``break``, ``close()``, garbage collection) ends its span
``incomplete`` with what arrived.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunelog.integration.openai.recorder import Call

_now = time.perf_counter_ns


class _Opened:
    """What a span needs of an SDK stream once it is open: the HTTP response (status, request id)."""

    __slots__ = ("response",)

    def __init__(self, response: Any) -> None:
        self.response = response


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


def attach(stream: Any, call: Call) -> Any:
    """Make ``stream`` (the SDK's Stream or AsyncStream) record into ``call``; returns ``stream``.

    Returns None when the object is not a stream autolog knows how to follow."""
    inner = getattr(stream, "_iterator", None)
    if inner is None:
        return None
    # The call keeps what the span needs of the stream (its HTTP response), not the stream itself, so
    # a stream dropped unread is collected, and the finalizer ends its span ``incomplete``.
    call.result = _Opened(getattr(stream, "response", None))
    fin = weakref.finalize(stream, call.end_stream, "incomplete", None)
    fin.atexit = False
    if hasattr(inner, "__anext__"):
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
