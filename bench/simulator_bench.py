"""Chat completions through the openai SDK against the simulator over loopback: requests/s and p50.

Run: ``python -m bench.simulator_bench [--calls 400] [--concurrency 16]``. Prints a markdown table:
one client calling sequentially (non-streaming and streaming, the stream read to the end), and
``--concurrency`` asyncio tasks sharing one AsyncOpenAI. The simulator runs in a thread of this
process (as in tests), so its CPU and the client's share the GIL; the numbers are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

import openai

from tunelog.simulator import Simulator

MESSAGES = [{"role": "user", "content": "Give me one sentence about the sea."}]


def _sequential(call: Callable[[], object], n: int) -> tuple[float, float]:
    for _ in range(20):  # warm up: connection, tokenizer, caches
        call()
    times = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    return n / total, statistics.median(times)


async def _concurrent(client: openai.AsyncOpenAI, n: int, width: int, stream: bool) -> tuple[float, float]:
    times: list[float] = []
    queue = iter(range(n))

    async def worker() -> None:
        for _ in queue:
            t = time.perf_counter()
            if stream:
                s = await client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=MESSAGES,  # type: ignore[arg-type]
                    stream=True,
                )
                async for _chunk in s:
                    pass
            else:
                await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
            times.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(width)))
    return n / (time.perf_counter() - start), statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    rows = []
    with Simulator(seed=1) as sim:
        client = openai.OpenAI(base_url=sim.url, api_key="sk-bench", max_retries=0)

        def plain() -> object:
            return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]

        def streamed() -> object:
            return list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))  # type: ignore[arg-type]

        chunks = len(streamed())  # type: ignore[arg-type]
        rows.append(("sequential, non-streaming", 1, *_sequential(plain, args.calls)))
        rows.append((f"sequential, streaming ({chunks} chunks)", 1, *_sequential(streamed, args.calls)))

        async def both() -> None:
            async with openai.AsyncOpenAI(base_url=sim.url, api_key="sk-bench", max_retries=0) as ac:
                await _concurrent(ac, 50, args.concurrency, False)  # warm up
                for stream in (False, True):
                    rps, p50 = await _concurrent(ac, args.calls, args.concurrency, stream)
                    label = "asyncio, " + ("streaming" if stream else "non-streaming")
                    rows.append((label, args.concurrency, rps, p50))

        asyncio.run(both())
    print("| simulator: chat completion via openai SDK, loopback | clients | requests/s | p50 latency |")
    print("|---|---|---|---|")
    for label, width, rps, p50 in rows:
        print(f"| {label} | {width} | {rps:,.0f} | {p50 * 1000:.2f} ms |")


if __name__ == "__main__":
    main()
