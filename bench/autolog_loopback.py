"""Autolog overhead over a real socket: what a call that waits on a network pays.

The autolog benchmark (:mod:`bench.autolog_bench`) calls through ``httpx2.MockTransport``, so the
caller never lets go of the GIL. Every real OpenAI call waits on a network instead, and a thread
that waits lets the others run; this measures whether that changes what recording costs.

A second process serves the benchmark's canned chat completion and stream over HTTP/1.1 on
loopback (keep-alive, ``asyncio``), answering after ``delay`` ms (0: at once; 2: a server that
thinks). The real openai SDK with its default HTTP client calls it; one process, blocks of 150
calls with recording off and on interleaved (``autolog_bench``'s paired measure), in two set-ups
of tunelog's writer:

* ``as shipped``: once five calls are queued the next one, as it starts, builds and journals them on
  the caller's thread (see ``tunelog.mapped_journal``);
* ``writer builds``: the writer thread builds and journals them instead, woken every fourth call
  (the design before 2026-12-05), which could run while the caller waits on the socket.

Reported: the unrecorded p50, the p50 and CPU (this process, every thread, flushes included)
added per call, medians over the blocks. The server shares the machine's CPUs.
Run: ``python -m bench.autolog_loopback``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.autolog_bench import _COMPLETION, _one, _paired, _sse

DELAYS_MS = (0.0, 2.0)


async def _serve(port: int, delay_s: float) -> None:
    body = json.dumps(_COMPLETION).encode()
    sse = _sse(True)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                size = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        size = int(line.split(b":", 1)[1])
                request = json.loads(await reader.readexactly(size))
                if delay_s:
                    await asyncio.sleep(delay_s)
                out, kind = (
                    (sse, b"text/event-stream") if request.get("stream") else (body, b"application/json")
                )
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: " + kind + b"\r\nx-request-id: req_1\r\n"
                    b"content-length: " + str(len(out)).encode() + b"\r\n\r\n" + out
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def _measure(client: Any, writer_builds: bool) -> dict[str, float]:
    from tunelog.integration.openai import autolog

    recorder = autolog._recorder
    assert recorder is not None
    writer = recorder.run.writer
    writer._inline = not writer_builds
    try:
        return _paired(client)
    finally:
        writer._inline = True


def main() -> None:
    import openai

    import tunelog
    from tunelog.integration.openai import autolog

    os.environ["TUNELOG_DIR"] = tempfile.mkdtemp(prefix="tunelog-loopback-")
    os.environ["TUNELOG_ENTITY"] = "bench"
    print(
        "| server delay | writer | chat p50 off | chat p50 added | chat CPU added | stream p50 off "
        "| stream p50 added | stream CPU added |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for delay in DELAYS_MS:
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.autolog_loopback", "serve", str(delay)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench", max_retries=0)
            autolog({"project": "loopback"}, stream_usage_hosts=["127.0.0.1"], quiet=True)
            for _ in range(300):
                _one(client, False)
            tunelog.flush()
            for writer_builds in (False, True):
                r = _measure(client, writer_builds)
                print(
                    f"| {delay:g} ms | {'writer builds' if writer_builds else 'as shipped'} "
                    f"| {r['chat_p50_off_us']:.0f} µs | {r['chat_added_us']:+.1f} µs "
                    f"| {r['chat_cpu_added_us']:+.1f} µs "
                    f"| {r['stream_p50_off_us']:.0f} µs | {r['stream_added_us']:+.1f} µs "
                    f"| {r['stream_cpu_added_us']:+.1f} µs |",
                    flush=True,
                )
            autolog.disable()
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        asyncio.run(_serve(0, float(sys.argv[2]) / 1000))
    else:
        main()
