"""The fast SSE decoder gives exactly the SDK decoder's events, for every shape and every way the
bytes may be split into network chunks, sync and async."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator

import pytest
from openai._streaming import ServerSentEvent, SSEDecoder

from tunelog.integration.openai.sse import FastDecoder

STREAMS = [
    b'data: {"a": 1}\n\ndata: {"b": "\xc3\xa9t\xc3\xa9"}\n\ndata: [DONE]\n\n',
    b"event: response.created\ndata: {}\n\nevent: response.done\ndata: {}\n\n",  # the Responses API's
    b'data: {"a": 1}\n\n: keep-alive\n\ndata: {"b": 2}\n\n',  # a comment in between
    b'data: {"a": 1}\r\n\r\ndata: {"b": 2}\r\n\r\n',  # CRLF line ends
    b"data: {}\r\rdata: {}\r\r",  # CR line ends
    b"data: first\ndata: second\n\ndata: x\n\n",  # two data lines make one event
    b'data:{"no": "space"}\n\ndata:  two spaces\n\n',
    b"data: \n\ndata:\n\n",  # empty data
    b"id: 7\ndata: x\n\nretry: 100\ndata: y\n\ndata: z\n\n",  # id and retry
    b"data: x\n\ndata: never ended",  # no blank line at the end
    b"\n\n\ndata: x\n\n\n\ndata: y\n\n",  # stray blank lines
    b"",
    b"data: " + b"x" * 40_000 + b"\n\ndata: y\n\n",  # one event past the fast path's bound
]


def _key(events: list[ServerSentEvent]) -> list[tuple[object, ...]]:
    return [(e.event, e.data, e.id, e.retry) for e in events]


def _splits(data: bytes, rng: random.Random) -> list[list[bytes]]:
    out = [[data], [data[i : i + 1] for i in range(len(data))]]
    for _ in range(20):
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(1, 6))))
        out.append([data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)])
    return out


def _sync(decoder: object, chunks: list[bytes]) -> list[ServerSentEvent]:
    return list(decoder.iter_bytes(iter(chunks)))  # type: ignore[attr-defined]


async def _agen(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


def _async(decoder: object, chunks: list[bytes]) -> list[ServerSentEvent]:
    async def run() -> list[ServerSentEvent]:
        return [e async for e in decoder.aiter_bytes(_agen(chunks))]  # type: ignore[attr-defined]

    return asyncio.run(run())


@pytest.mark.parametrize("data", STREAMS)
def test_same_events_as_the_sdk_however_the_bytes_arrive(data: bytes) -> None:
    rng = random.Random(data)
    for chunks in _splits(data, rng):
        want = _key(_sync(SSEDecoder(), chunks))
        assert _key(_sync(FastDecoder(SSEDecoder(), ServerSentEvent), chunks)) == want, chunks
        assert _key(_async(FastDecoder(SSEDecoder(), ServerSentEvent), chunks)) == want, chunks


def test_invalid_utf8_fails_as_the_sdk_does() -> None:
    data = [b"data: ok\n\n", b"data: \xff\xfe\n\n", b"data: after\n\n"]

    def collect(decoder: object) -> tuple[list[tuple[object, ...]], type[BaseException] | None]:
        got: list[ServerSentEvent] = []
        it: Iterator[ServerSentEvent] = decoder.iter_bytes(iter(data))  # type: ignore[attr-defined]
        try:
            for e in it:
                got.append(e)
        except Exception as exc:
            return _key(got), type(exc)
        return _key(got), None

    assert collect(FastDecoder(SSEDecoder(), ServerSentEvent)) == collect(SSEDecoder())


def test_every_other_attribute_is_the_sdk_decoders() -> None:
    inner = SSEDecoder()
    fast = FastDecoder(inner, ServerSentEvent)
    assert fast.decode == inner.decode  # type: ignore[attr-defined]


def test_an_event_is_handed_on_as_soon_as_its_blank_line_arrives() -> None:
    # CRLF streams never contain "\n\n": they must not be held back until the stream ends.
    for data in (b"data: 1\r\n\r\n", b"data: 1\n\n"):
        arrived: list[bytes] = []

        def chunks(data: bytes = data, arrived: list[bytes] = arrived) -> Iterator[bytes]:
            for c in (data, b"data: 2\n\n"):
                arrived.append(c)
                yield c

        it = FastDecoder(SSEDecoder(), ServerSentEvent).iter_bytes(chunks())
        assert next(it).data == "1" and len(arrived) == 1
