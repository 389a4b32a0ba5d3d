"""Decoding a recorded stream's server-sent events: the SDK's own events, sooner.

The SDK's ``SSEDecoder`` reads a stream line by line in Python (a regular expression, a bytearray,
a ``partition`` per line): ~4 µs an event, more than autolog spends recording it. OpenAI's streams
are one shape almost always: ``data: <json>`` and a blank line, nothing else. For a stream autolog
records, :class:`FastDecoder` takes the SDK decoder's place and splits such events at the blank line
itself, building the SDK's own ``ServerSentEvent`` with the same ``data``. At the first event of
any other shape (``event:``, ``id:``, ``retry:`` or comment lines, several data lines, ``\\r``
anywhere, a field without the space, an event past 16 KiB) it hands that event and everything after
it to the SDK's decoder, unchanged from then on. Every event before it carried only data, after
which the SDK's decoder holds no state, so the caller gets the very events the SDK alone would have
produced, each as soon as its blank line arrives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

_SEP = b"\n\n"
_DATA = b"data: "
#: An unfinished event this long goes to the SDK's decoder: gluing chunk after chunk to it would
#: copy it over and over (the SDK's line buffer does not).
_MAX_PENDING = 16_384


class FastDecoder:
    """Wraps the SDK's decoder for one stream (every other attribute is the SDK decoder's)."""

    __slots__ = ("_event", "_inner")

    def __init__(self, inner: Any, event_class: type[Any]) -> None:
        self._inner = inner
        self._event = event_class

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[Any]:
        event = self._event
        pending = b""
        chunks = iter(iterator)
        for chunk in chunks:
            if b"\r" in chunk or len(pending) > _MAX_PENDING:
                yield from self._inner.iter_bytes(_then(pending + chunk, chunks))
                return
            parts = (pending + chunk if pending else chunk).split(_SEP)
            pending = parts.pop()  # the unfinished event (b"" after a blank line)
            for i, part in enumerate(parts):
                if part.startswith(_DATA) and b"\n" not in part:  # no chunk so far held a CR
                    yield event(data=part[6:].decode("utf-8"))
                else:
                    rest = _SEP.join(parts[i:]) + _SEP + pending
                    yield from self._inner.iter_bytes(_then(rest, chunks))
                    return
        if pending:  # no blank line at the end: the SDK's decoder decides (it dispatches nothing)
            yield from self._inner.iter_bytes(iter((pending,)))

    async def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[Any]:
        event = self._event
        pending = b""
        chunks = aiter(iterator)
        async for chunk in chunks:
            if b"\r" in chunk or len(pending) > _MAX_PENDING:
                async for sse in self._inner.aiter_bytes(_athen(pending + chunk, chunks)):
                    yield sse
                return
            parts = (pending + chunk if pending else chunk).split(_SEP)
            pending = parts.pop()
            for i, part in enumerate(parts):
                if part.startswith(_DATA) and b"\n" not in part:  # no chunk so far held a CR
                    yield event(data=part[6:].decode("utf-8"))
                else:
                    rest = _SEP.join(parts[i:]) + _SEP + pending
                    async for sse in self._inner.aiter_bytes(_athen(rest, chunks)):
                        yield sse
                    return
        if pending:
            async for sse in self._inner.aiter_bytes(_athen(pending, None)):
                yield sse


def _then(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


async def _athen(first: bytes, rest: AsyncIterator[bytes] | None) -> AsyncIterator[bytes]:
    yield first
    if rest is not None:
        async for chunk in rest:
            yield chunk


def install(stream: Any) -> None:
    """Put a :class:`FastDecoder` in front of ``stream``'s decoder, if it is the SDK's plain one."""
    decoder = getattr(stream, "_decoder", None)
    cls = type(decoder)
    if cls.__name__ != "SSEDecoder" or cls.__module__ != "openai._streaming":
        return  # a client's own decoder (``_make_sse_decoder`` overridden), or an SDK we do not know
    if not (hasattr(decoder, "iter_bytes") and hasattr(decoder, "aiter_bytes")):
        return
    import sys

    event_class = getattr(sys.modules.get("openai._streaming"), "ServerSentEvent", None)
    if event_class is None:
        return
    stream._decoder = FastDecoder(decoder, event_class)
