"""Server-sent events as OpenAI sends them, with an optional cut mid-stream.

A cut returns from the ASGI call without the final empty body message: the server then closes the
connection without the chunked terminator, which is exactly what a client sees when OpenAI's
connection drops mid-answer (httpx raises ``RemoteProtocolError: incomplete chunked read``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tunelog.simulator.params import dumps

DONE = b"data: [DONE]\n\n"
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def data_event(obj: Any) -> bytes:
    """One ``data: {...}`` event (chat and legacy completions)."""
    return b"data: " + dumps(obj) + b"\n\n"


def named_event(name: str, obj: Any) -> bytes:
    """One ``event: name`` + ``data: {...}`` event (the Responses API)."""
    return b"event: " + name.encode() + b"\ndata: " + dumps(obj) + b"\n\n"


class EventStream(Response):
    """A ``text/event-stream`` response of pre-rendered events.

    The events are written together: with no model latency to simulate, one write per event would
    only make the simulator slower than the code it is used to measure.

    Args:
        events: Rendered events, in order.
        cut_after: If set, send only this many events and then drop the connection.
        headers: Extra response headers.
    """

    def __init__(
        self, events: Iterable[bytes], cut_after: int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.events = list(events)
        self.cut_after = cut_after
        self.status_code = 200
        self.background = None
        self.extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS + self.extra})
        if self.cut_after is not None:
            sent = self.events[: max(0, self.cut_after)]
            if sent:
                await send({"type": "http.response.body", "body": b"".join(sent), "more_body": True})
            return  # the server closes the connection: the stream is cut, not finished
        await send({"type": "http.response.body", "body": b"".join(self.events), "more_body": False})
