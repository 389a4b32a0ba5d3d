"""Autolog overhead: one chat call through the openai SDK over an in-process transport.

Side by side, each in its own process: no instrumentation, tunelog autolog, mlflow.openai.autolog
(SQLite tracking store) and OpenInference's instrumentor with the OpenTelemetry SDK's batch processor
(the last two only where ``.venv-bench`` has them). Measured per mode:

* caller-thread latency per call, p50 and p99, non-streaming and streaming (20 content chunks);
* total CPU per call (``time.process_time``: every thread, the final flush included);
* spans lost when the process ends with ``os._exit(0)`` right after 1,000 calls;
* the flush at exit (the ``flush()`` right after the last call), peak RSS (``ru_maxrss``);
* for tunelog also, in one process and so free of process-to-process noise: the caller-thread time
  and the total CPU added per call, from blocks of calls with recording on and off interleaved
  (medians of the blocks), and the sustained write rate (loops of 20,000 recorded calls made as
  fast as the caller can, until written: the median of the second to fourth loop, and the first
  loop's apart, which also pays for the process's memory growing to hold the backlog).

Every mode runs ``--rounds`` times (default 3) and the table shows medians.

The transport is ``httpx2.MockTransport`` returning canned bytes, so no socket noise enters.
Run: ``python -m bench.autolog_bench`` (prints a markdown table).
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_PY = ROOT / ".venv-bench" / "bin" / "python"
CALLS = 1000
WARMUP = 200
MESSAGES = [{"role": "user", "content": "Say hello"}]

_COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help you today?", "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18},
    "system_fingerprint": "fp_bench",
}


def _sse(include_usage: bool) -> bytes:
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000}
    base["model"] = "gpt-4o-mini-2024-07-18"
    extra = {"usage": None} if include_usage else {}
    words = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"] * 2 + [" Bye", "."]
    out = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}}], **extra)]
    out += [dict(base, choices=[{"index": 0, "delta": {"content": w}}], **extra) for w in words]
    out.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}], **extra))
    if include_usage:
        out.append(
            dict(base, choices=[], usage={"prompt_tokens": 9, "completion_tokens": 20, "total_tokens": 29})
        )
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in out) + b"data: [DONE]\n\n"


def _client() -> Any:
    import httpx2
    import openai

    body = json.dumps(_COMPLETION).encode()
    streams = {False: _sse(False), True: _sse(True)}

    def handler(request: Any) -> Any:
        req = json.loads(request.content)
        if req.get("stream"):
            usage = bool((req.get("stream_options") or {}).get("include_usage"))
            return httpx2.Response(200, content=streams[usage], headers={"content-type": "text/event-stream"})
        return httpx2.Response(
            200, content=body, headers={"content-type": "application/json", "x-request-id": "req_1"}
        )

    http = openai.DefaultHttpxClient(transport=httpx2.MockTransport(handler))
    return openai.OpenAI(
        base_url="http://bench.local/v1", api_key="sk-bench", http_client=http, max_retries=0
    )


# -- the child process: one mode ------------------------------------------------------------------------


def _setup(mode: str, workdir: Path) -> Any:
    """Instrument for ``mode``; returns a flush function."""
    if mode == "none":
        return lambda: None
    if mode == "tunelog":
        os.environ["TUNELOG_DIR"] = str(workdir / "tl")
        os.environ["TUNELOG_ENTITY"] = "bench"
        import tunelog
        from tunelog.integration.openai import autolog

        autolog({"project": "bench"}, stream_usage_hosts=["bench.local"], quiet=True)
        return lambda: tunelog.flush()
    if mode == "mlflow":
        import mlflow

        # mlflow puts trace artifacts under ./mlruns of the working directory.
        os.chdir(workdir)
        mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
        mlflow.set_experiment("bench")
        mlflow.openai.autolog()
        return lambda: (
            mlflow.flush_trace_async_logging() if hasattr(mlflow, "flush_trace_async_logging") else None
        )
    if mode == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        out = open(workdir / "otel.jsonl", "a")  # noqa: SIM115  (closed by the process ending)

        class FileExporter(SpanExporter):  # type: ignore[misc]
            def export(self, spans: Any) -> Any:
                for s in spans:
                    out.write(s.to_json(indent=None) + "\n")
                out.flush()
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(FileExporter()))
        trace.set_tracer_provider(provider)
        OpenAIInstrumentor().instrument(tracer_provider=provider)
        return lambda: provider.force_flush()
    raise SystemExit(f"unknown mode {mode}")


def _one(client: Any, stream: bool) -> None:
    if stream:
        for _ in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            pass
    else:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def child(mode: str, workdir: Path, kill: bool) -> None:
    client = _client()
    flush = _setup(mode, workdir)
    if kill:  # 1,000 calls, then end the process without any exit handler
        for _ in range(WARMUP):
            _one(client, False)
        flush()
        for _ in range(CALLS):
            _one(client, False)
        os._exit(0)
    out: dict[str, Any] = {}
    for stream in (False, True):
        for _ in range(WARMUP):
            _one(client, stream)
        flush()
        times = []
        cpu0 = time.process_time()
        for _ in range(CALLS):
            t = time.perf_counter_ns()
            _one(client, stream)
            times.append(time.perf_counter_ns() - t)
        t = time.perf_counter()
        flush()  # what exit does: write what is still queued
        flush_s = time.perf_counter() - t
        cpu = (time.process_time() - cpu0) / CALLS
        times.sort()
        key = "stream" if stream else "chat"
        out[key] = {
            "p50_us": statistics.median(times) / 1e3,
            "p99_us": times[int(len(times) * 0.99)] / 1e3,
            "cpu_us": cpu * 1e6,
            "flush_s": flush_s,
        }
    out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if mode == "tunelog":
        out["paired"] = _paired(client)
        # The process's first loop also pays for the backlog's memory being new to it (page
        # faults: ~57,000 then, 6,000-12,000 in later loops); the sustained rate is the later ones'.
        out["write_rate_first"] = _write_rate(client)
        out["write_rate"] = statistics.median(_write_rate(client) for _ in range(3))
    print(json.dumps(out))


#: Pairs of blocks (150 calls recorded, 150 not) per round: one run's median moved by ±10 µs with 7.
_PAIRED_BLOCKS = 20


def _paired(client: Any) -> dict[str, float]:
    """Recording on and off in interleaved blocks of one process: added caller time (p50 of each
    block's calls, median over blocks) and added CPU per call (all threads, flush included)."""
    import tunelog
    from tunelog.integration.openai import autolog

    patcher, recorder = autolog._patcher, autolog._recorder
    out: dict[str, float] = {}
    for stream in (False, True):
        added, cpu_added, off = [], [], []
        for block in range(_PAIRED_BLOCKS):
            p50: dict[bool, float] = {}
            cpu: dict[bool, float] = {}
            # Off first in one pair, on first in the next: whatever the order itself does cancels out.
            for on in (False, True) if block % 2 == 0 else (True, False):
                patcher.recorder = recorder if on else None  # type: ignore[union-attr]
                times = []
                c0 = time.process_time()
                for _ in range(150):
                    t = time.perf_counter_ns()
                    _one(client, stream)
                    times.append(time.perf_counter_ns() - t)
                tunelog.flush()
                cpu[on] = (time.process_time() - c0) / 150 * 1e6
                p50[on] = statistics.median(times) / 1e3
            added.append(p50[True] - p50[False])
            cpu_added.append(cpu[True] - cpu[False])
            off.append(p50[False])
        key = "stream" if stream else "chat"
        out[f"{key}_p50_off_us"] = statistics.median(off)
        out[f"{key}_added_us"] = statistics.median(added)
        out[f"{key}_cpu_added_us"] = statistics.median(cpu_added)
    patcher.recorder = recorder  # type: ignore[union-attr]
    return out


def _write_rate(client: Any) -> float:
    """Recorded calls per second the writer sustains: one real call's Call replayed 20,000 times."""
    import tunelog
    from tunelog.integration.openai import autolog
    from tunelog.integration.openai import recorder as rec_mod

    calls: list[Any] = []
    real_init = rec_mod.Call.__init__

    def keep(self: Any, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        calls.append(self)

    rec_mod.Call.__init__ = keep  # type: ignore[method-assign]
    result = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    rec_mod.Call.__init__ = real_init  # type: ignore[method-assign]
    seen = calls[0]
    raw = seen.raw  # the HTTP exchange's bytes, which such a call is journalled from (call_records)
    tunelog.flush()
    recorder = autolog._recorder
    assert recorder is not None
    n = 20_000
    t = time.perf_counter()
    for _ in range(n):
        call = recorder.begin(seen.endpoint, seen.resource, dict(seen.kwargs))
        assert call is not None
        call.raw = raw
        call.finish(result)
    tunelog.flush(120)
    return n / (time.perf_counter() - t)


# -- the parent: run every mode, count losses, print the table ------------------------------------------


def _count(mode: str, workdir: Path) -> int | None:
    if mode == "tunelog":
        # Read as any later tunelog process would: opening the data directory first replays the
        # journal the killed process left (tunelog.spool), then the spans are counted.
        code = (
            "import sys, tunelog; from tunelog.store.base import SpanQuery; "
            "api = tunelog.Api(dir=sys.argv[1]); "
            "print(api.backend.store.count_spans('bench', 'bench', SpanQuery()))"
        )
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        out = subprocess.run(
            [sys.executable, "-c", code, str(workdir / "tl")], capture_output=True, text=True, env=env
        )
        return int(out.stdout.strip()) - WARMUP
    if mode == "mlflow":
        db_path = workdir / "mlflow.db"
        if not db_path.exists():
            return 0
        with sqlite3.connect(db_path) as db:
            return int(db.execute("SELECT count(*) FROM trace_info").fetchone()[0]) - WARMUP
    if mode == "openinference":
        f = workdir / "otel.jsonl"
        return (sum(1 for _ in f.open()) - WARMUP) if f.exists() else 0
    return None


def _python(mode: str) -> Path | None:
    if mode in ("none", "tunelog"):
        return Path(sys.executable)
    if not BENCH_PY.exists():
        return None
    mod = {"mlflow": "mlflow", "openinference": "openinference.instrumentation.openai"}[mode]
    ok = subprocess.run([BENCH_PY, "-c", f"import {mod}, openai, httpx2"], capture_output=True).returncode
    return BENCH_PY if ok == 0 else None


def run_mode(mode: str) -> dict[str, Any] | None:
    py = _python(mode)
    if py is None:
        return None
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + str(ROOT))
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.run(
            [py, "-m", "bench.autolog_bench", "--child", mode, d],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
        if proc.returncode != 0:
            print(f"<!-- {mode} failed: {proc.stderr.strip()[-800:]} -->", file=sys.stderr)
            return None
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(
            [py, "-m", "bench.autolog_bench", "--kill", mode, d], capture_output=True, env=env, cwd=ROOT
        )
        n = _count(mode, Path(d))
        out["lost"] = None if n is None else CALLS - n
    return out


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each number the median over rounds (nested dicts too)."""
    out: dict[str, Any] = {}
    for k, v in runs[0].items():
        if isinstance(v, dict):
            out[k] = _median_of([r[k] for r in runs])
        elif isinstance(v, int | float):
            out[k] = statistics.median(r[k] for r in runs)
        else:
            out[k] = v
    return out


def main(rounds: int = 3) -> None:
    modes = ("none", "tunelog", "openinference", "mlflow")
    collected: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for r in range(rounds):  # rounds interleave the modes, so slow spells of the machine hit all
        for m in modes:
            if m in ("openinference", "mlflow") and r > 0:
                continue  # the peers are far from the targets; one round each keeps the bench short
            res = run_mode(m)
            if res is not None:
                collected[m].append(res)
    results = {m: (_median_of(v) if v else None) for m, v in collected.items()}
    base = results["none"]
    assert base is not None
    print(f"Medians of {rounds} rounds (peers: 1); separate processes, same machine, same run.\n")
    print(
        "| mode | chat p50 | added | chat p99 | stream p50 | added | CPU/call | added "
        "| lost of 1000 on os._exit | flush at exit | peak RSS | added |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for mode, r in results.items():
        if r is None:
            print(f"| {mode} | not installed | | | | | | | | | | |")
            continue
        c, s = r["chat"], r["stream"]
        add = mode != "none"
        print(
            f"| {mode} | {c['p50_us']:.0f} µs | {c['p50_us'] - base['chat']['p50_us']:+.1f} µs | "
            f"{c['p99_us']:.0f} µs | {s['p50_us']:.0f} µs | "
            f"{(s['p50_us'] - base['stream']['p50_us']) if add else 0:+.1f} µs | {c['cpu_us']:.0f} µs | "
            f"{(c['cpu_us'] - base['chat']['cpu_us']) if add else 0:+.1f} µs | "
            f"{'–' if r['lost'] is None else r['lost']} | {c['flush_s'] * 1e3:.1f} ms | "
            f"{r['rss_mib']:.0f} MiB | {r['rss_mib'] - base['rss_mib']:+.1f} MiB |"
        )
    t = results["tunelog"]
    if t is not None:
        p = t["paired"]
        print(
            "\ntunelog in one process, recording on/off in interleaved blocks (medians of "
            f"{_PAIRED_BLOCKS} blocks × {rounds} rounds): caller thread added p50 chat "
            f"{p['chat_added_us']:+.1f} µs, stream "
            f"{p['stream_added_us']:+.1f} µs; total CPU added per call (writer and flush included) chat "
            f"{p['chat_cpu_added_us']:+.1f} µs, stream {p['stream_cpu_added_us']:+.1f} µs; sustained "
            f"write rate {t['write_rate']:,.0f} recorded calls/s (median of the process's 2nd-4th "
            f"20,000-call loops; its first loop: {t['write_rate_first']:,.0f}/s)."
        )


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] in ("--child", "--kill"):
        child(sys.argv[2], Path(sys.argv[3]), kill=sys.argv[1] == "--kill")
    else:
        main(int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3)
