"""Dashboard API latency at scale: a project with 10,000 runs, a run with 1,000,000 spans and a
metric with 100,000 points, served by the real app over HTTP (uvicorn on loopback, one client).

Prints the p50 (and p90) of each request; the target is p50 < 200 ms. Data is written straight
through the Store (the bulk writer path), so building it takes about a minute.

    python -m bench.ui_bench [--runs 10000] [--spans 1000000] [--points 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
import urllib.request

from tunelog.api import Api
from tunelog.settings import Settings
from tunelog.store.base import HistoryRow, RunKey, RunRecord, SpanRecord, WriteBatch

E, P = "bench", "big"


def build(settings: Settings, n_runs: int, n_spans: int, n_points: int) -> None:
    api = Api(settings=settings)
    store = api.backend.store
    rng = random.Random(0)
    t0 = time.time() - 86400
    models = ["gpt-4o-mini-2024-07-18", "gpt-4.1-mini", "gpt-4.1"]
    for i in range(n_runs):
        store.create_run(
            RunRecord(
                key=RunKey(E, P, f"run-{i:05d}"),
                name=f"ft-{i:05d}",
                state="finished" if i % 7 else "failed",
                job_type="fine-tune" if i % 3 else "eval",
                tags=("sweep",) if i % 2 else (),
                config={
                    "base_model": models[i % 3],
                    "hyperparameters": {
                        "n_epochs": 1 + i % 5,
                        "learning_rate_multiplier": round(rng.uniform(0.1, 2), 3),
                    },
                    "training_file": f"file-{i % 40}.jsonl",
                },
                summary={"loss": rng.random(), "accuracy": rng.random()},
                created_at=t0 + i,
                updated_at=t0 + i + 60,
                finished_at=t0 + i + 60,
            )
        )
    big = RunKey(E, P, "run-00000")
    rows = [
        HistoryRow(s, "train_loss", 2.0 / (1 + s / 1000) + rng.gauss(0, 0.01), t0 + s)
        for s in range(n_points)
    ]
    store.write(WriteBatch(history={big: rows}))
    req = {"messages": [{"role": "user", "content": "Summarise the report in one line."}], "temperature": 0.2}
    out = {"choices": [{"message": {"role": "assistant", "content": "A one-line summary."}}]}
    chunk: list[SpanRecord] = []
    for i in range(n_spans):
        st = t0 + i * 0.05
        chunk.append(
            SpanRecord(
                f"s{i:07d}", f"t{i // 4:07d}", None if i % 4 == 0 else f"s{i - i % 4:07d}", big,
                "chat.completions.create", "llm", st, st + 0.04, "ok" if i % 50 else "error",
                model=models[i % 3], inputs=req, outputs=out,
                usage={"prompt_tokens": 20, "completion_tokens": 6, "total_tokens": 26}, cost_usd=1e-5,
            )
        )  # fmt: skip
        if len(chunk) == 50_000:
            store.write(WriteBatch(spans=chunk))
            chunk = []
    if chunk:
        store.write(WriteBatch(spans=chunk))


def serve(settings: Settings) -> tuple[str, object]:
    import socket

    import uvicorn

    from tunelog.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(create_app(Api(settings=settings), settings), port=port, log_level="warning")
    )
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", srv


def timed(url: str, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as r:
            r.read()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        settings = Settings.resolve(dir=d, entity=E)
        t = time.perf_counter()
        build(settings, args.runs, args.spans, args.points)
        print(
            f"built {args.runs} runs, {args.spans} spans, {args.points} points "
            f"in {time.perf_counter() - t:.1f} s"
        )
        base, srv = serve(settings)
        api = f"{base}/api/v1/{E}/{P}"
        # The first statistics read after the import folds every span into the per-minute rollup
        # (once; later reads fold only the spans written since).
        t = time.perf_counter()
        urllib.request.urlopen(f"{api}/span-stats?run=run-00000", timeout=600).read()
        catch_up_ms = (time.perf_counter() - t) * 1000
        first = json.loads(urllib.request.urlopen(f"{api}/runs?limit=50").read())
        cur = urllib.request.quote(first["next"])
        spans = json.loads(urllib.request.urlopen(f"{api}/spans?run=run-00000&limit=50").read())
        before = urllib.request.quote(spans["next"])
        filt = urllib.request.quote('config.hyperparameters.n_epochs >= 3 and state = "finished"')
        # Grouping counts and aggregates all 10,000 runs in SQL; a group's runs come a page at a time.
        grouped = f"{base}/{E}/{P}?group=config.base_model"
        gcols = "summary.loss,summary.accuracy,config.hyperparameters.learning_rate_multiplier"
        group_page = urllib.request.quote('"gpt-4.1"')
        last_hour = time.time() - 86400 + args.spans * 0.05 - 3600
        cases = [
            ("runs: first page of 50 (newest)", f"{api}/runs?limit=50"),
            ("runs: a later page (keyset cursor)", f"{api}/runs?limit=50&cursor={cur}"),
            ("runs: sorted by summary.loss", f"{api}/runs?limit=50&order=-summary.loss"),
            ("runs: filter expression", f"{api}/runs?limit=50&filter={filt}"),
            ("workspace page (HTML, 10k runs)", f"{base}/{E}/{P}"),
            ("workspace grouped by config.base_model (HTML, 10k runs)", grouped),
            (
                "groups API: by config.training_file (40 groups), 3 columns",
                f"{api}/groups?by=config.training_file&cols={gcols}&order=-summary.loss",
            ),
            (
                "a group's runs: first page of 20",
                f"{api}/groups/runs?by=config.base_model&value={group_page}&limit=20",
            ),
            ("spans of the 1M-span run: first page", f"{api}/spans?run=run-00000&limit=50"),
            ("spans: next page (keyset)", f"{api}/spans?run=run-00000&limit=50&before={before}"),
            (
                "spans: model + status filter",
                f"{api}/spans?run=run-00000&limit=50&model=gpt-4.1&status=error",
            ),
            ("trace table page (HTML)", f"{base}/{E}/{P}/traces"),
            ("one span", f"{api}/spans/s0000004"),
            ("metric of 100k points → 1000", f"{api}/runs/run-00000/metrics/train_loss?max_points=1000"),
            (
                "metric zoomed (10k-step window)",
                f"{api}/runs/run-00000/metrics/train_loss?min_step=40000&max_step=50000",
            ),
            ("run page (HTML)", f"{base}/{E}/{P}/runs/run-00000"),
            (
                "span stats, last hour of the run",
                f"{api}/span-stats?run=run-00000&start_after={last_hour}",
            ),
            ("span stats, all 1M spans", f"{api}/span-stats?run=run-00000"),
        ]
        print("\n| request | p50 ms | p90 ms |\n|---|---|---|")
        for name, url in cases:
            p50, p90 = timed(url, args.repeat)
            print(f"| {name} | {p50:.1f} | {p90:.1f} |", flush=True)
        print(f"\n(once) span rollup catch-up over {args.spans} new spans: {catch_up_ms:.0f} ms")
        srv.should_exit = True  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
