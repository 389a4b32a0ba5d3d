"""Autolog overhead: one chat call through the openai SDK over an in-process transport.

Side by side, each in its own process: no instrumentation, tunelog autolog, mlflow.openai.autolog
(SQLite tracking store) and OpenInference's instrumentor with the OpenTelemetry SDK's batch processor
(the last two only where ``.venv-bench`` has them). Measured per mode:

* caller-thread latency per call, p50 and p99, non-streaming and streaming (20 content chunks);
* total CPU per call (``time.process_time``: every thread, the final flush included);
* spans lost when the process ends with ``os._exit(0)`` right after 1,000 calls.

The transport is ``httpx2.MockTransport`` returning canned bytes, so no socket noise enters.
Run: ``python -m bench.autolog_bench`` (prints a markdown table).
"""

from __future__ import annotations

import json
import os
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
        flush()
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
    print(json.dumps(out))


# -- the parent: run every mode, count losses, print the table ------------------------------------------


def _count(mode: str, workdir: Path) -> int | None:
    if mode == "tunelog":
        with sqlite3.connect(workdir / "tl" / "tunelog.db") as db:
            return int(db.execute("SELECT count(*) FROM spans").fetchone()[0]) - WARMUP
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


def main() -> None:
    results = {m: run_mode(m) for m in ("none", "tunelog", "openinference", "mlflow")}
    base = results["none"]
    assert base is not None
    print(
        "| mode | chat p50 | added | chat p99 | stream p50 | added | CPU/call | added "
        "| lost of 1000 on os._exit |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for mode, r in results.items():
        if r is None:
            print(f"| {mode} | not installed | | | | | | | |")
            continue
        c, s = r["chat"], r["stream"]
        add = mode != "none"
        print(
            f"| {mode} | {c['p50_us']:.0f} µs | {c['p50_us'] - base['chat']['p50_us']:+.1f} µs | "
            f"{c['p99_us']:.0f} µs | {s['p50_us']:.0f} µs | "
            f"{(s['p50_us'] - base['stream']['p50_us']) if add else 0:+.1f} µs | {c['cpu_us']:.0f} µs | "
            f"{(c['cpu_us'] - base['chat']['cpu_us']) if add else 0:+.1f} µs | "
            f"{'–' if r['lost'] is None else r['lost']} |"
        )


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] in ("--child", "--kill"):
        child(sys.argv[2], Path(sys.argv[3]), kill=sys.argv[1] == "--kill")
    else:
        main()
