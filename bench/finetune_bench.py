"""Fine-tune sync of one large succeeded job: wall time, peak memory, disk written vs the raw files.

The job (as in /work/shared/PERFORMANCE.md): a 100,000-example chat training file (~137 MB), a
10,000-example validation file and a 50,000-row result file (batch size 2, one epoch). The simulator
runs in its own process, so the numbers are the sync's alone; the sync runs in a fresh process too.

    python -m bench.finetune_bench                    # the full size
    BENCH_EXAMPLES=20000 python -m bench.finetune_bench   # smaller, for a quick look
    BENCH_REPEAT=5 python -m bench.finetune_bench     # more syncs of the same job (default 3)

The machine is shared and noisy, so the job is synced ``BENCH_REPEAT`` times, each into a fresh data
directory in a fresh process, and the table shows the median (with the range of wall times).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_TEXT = (
    "the model answers questions about travel budgets weather cities trains museums food "
    "history languages prices tickets hotels maps routes schedules and local customs with short "
    "clear sentences that a careful reader can check against the sources given in the prompt"
)
WORDS = _TEXT.split()

SYNC = """
    import json, os, resource, time
    from pathlib import Path
    import openai
    from tunelog.integration.openai import FineTuneLogger
    client = openai.OpenAI(base_url=os.environ["SIM_URL"], api_key="sk-bench")
    def io():
        return {k: int(v) for k, v in (l.split(": ") for l in open("/proc/self/io").read().splitlines())}
    before = io()
    t = time.perf_counter()
    if os.environ.get("BENCH_PROFILE"):
        import cProfile; prof = cProfile.Profile(); prof.enable()
    result = FineTuneLogger.sync(fine_tune_job_id=os.environ["JOB_ID"], openai_client=client)
    if os.environ.get("BENCH_PROFILE"):
        prof.disable(); prof.dump_stats(os.environ["BENCH_PROFILE"])
    wall = time.perf_counter() - t
    after = io()
    assert result.ok, str(result)
    print(json.dumps({
        "wall_s": wall,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "write_bytes": after["write_bytes"] - before["write_bytes"],
        "wchar": after["wchar"] - before["wchar"],
    }))
"""


def _example(rng: random.Random, i: int, target: int) -> str:
    def text(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    words = max(20, target // 7)
    return json.dumps(
        {
            "messages": [
                {"role": "system", "content": "You are a concise travel assistant. " + text(words // 6)},
                {"role": "user", "content": f"Question {i}: " + text(words // 3)},
                {"role": "assistant", "content": text(words // 2)},
            ]
        }
    )


def write_dataset(path: Path, n: int, seed: int, line_bytes: int = 1370) -> int:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(_example(rng, i, line_bytes) + "\n")
    return path.stat().st_size


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _repeat() -> int:
    return max(1, int(os.environ.get("BENCH_REPEAT", "3")))


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (the sync and its scan worker)."""
    total, todo = 0, [pid]
    parent = Path(f"/proc/{pid}/cmdline").read_bytes()
    while todo:
        p = todo.pop()
        try:
            if p != pid and Path(f"/proc/{p}/cmdline").read_bytes() == parent:
                continue  # forked and not yet exec'd: it shares the parent's pages, don't count them twice
            status = Path(f"/proc/{p}/status").read_text()
            total += int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS:"))) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, StopIteration, ValueError):
            continue
    return total


def _sync_once(data: Path, url: str, job_id: str) -> dict[str, float]:
    """One sync of the job in a fresh process into an empty data directory; the peak resident memory
    of its process tree is sampled every 10 ms (``peak_rss_mib`` is the sync process alone)."""
    env = {
        **os.environ,
        "SIM_URL": url,
        "JOB_ID": job_id,
        "TUNELOG_DIR": str(data),
        "TUNELOG_ENTITY": "bench",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SYNC)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.01)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(stderr[-3000:])
    m: dict[str, float] = json.loads(stdout.strip().splitlines()[-1])
    m["tree_rss_mib"] = max(peak / 2**20, m["peak_rss_mib"])
    m["stored"] = _du(data)
    rss = f"{m['tree_rss_mib']:.0f} MiB (sync process alone {m['peak_rss_mib']:.0f} MiB)"
    print(f"  sync: {m['wall_s']:.2f} s, {rss}", file=sys.stderr, flush=True)
    shutil.rmtree(data, ignore_errors=True)
    return m


def main() -> None:
    import openai

    n_train = int(os.environ.get("BENCH_EXAMPLES", "100000"))
    n_valid = max(10, n_train // 10)
    with tempfile.TemporaryDirectory(prefix="tunelog-ftbench-") as tmp:
        root = Path(tmp)
        train, valid = root / "train.jsonl", root / "valid.jsonl"
        raw_train = write_dataset(train, n_train, 1)
        raw_valid = write_dataset(valid, n_valid, 2)
        port = _free_port()
        sim = subprocess.Popen(
            [sys.executable, "-m", "tunelog", "simulator", "--port", str(port), "--speed", "1000"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}/v1"
            client = openai.OpenAI(base_url=url, api_key="sk-bench", timeout=600)
            for _ in range(300):
                try:
                    client.models.list()
                    break
                except openai.APIConnectionError:
                    time.sleep(0.05)
            with open(train, "rb") as f:
                tid = client.files.create(file=("train.jsonl", f), purpose="fine-tune").id
            with open(valid, "rb") as f:
                vid = client.files.create(file=("valid.jsonl", f), purpose="fine-tune").id
            job = client.fine_tuning.jobs.create(
                model="gpt-4o-mini-2024-07-18",
                training_file=tid,
                validation_file=vid,
                hyperparameters={"n_epochs": 1, "batch_size": 2},
            )
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/_admin/clock", data=b'{"advance": 36000}', method="POST"
            )
            urllib.request.urlopen(req).read()
            job = client.fine_tuning.jobs.retrieve(job.id)  # the simulator counts trained tokens once, here
            assert job.status == "succeeded", job
            result_bytes = len(client.files.content(job.result_files[0]).read())
            runs = [_sync_once(root / f"tunelog-{i}", url, job.id) for i in range(_repeat())]
            raw = raw_train + raw_valid + result_bytes
        finally:
            sim.terminate()
            sim.wait(10)
    wall = statistics.median(m["wall_s"] for m in runs)
    walls = sorted(m["wall_s"] for m in runs)
    rss = statistics.median(m["tree_rss_mib"] for m in runs)
    alone = statistics.median(m["peak_rss_mib"] for m in runs)
    written = statistics.median(m["write_bytes"] for m in runs)
    stored = statistics.median(m["stored"] for m in runs)
    steps = n_train // 2
    sizes = f"({raw_train / 1e6:.0f} MB), {n_valid:,} validation examples ({raw_valid / 1e6:.0f} MB)"
    rows = f"{steps:,}-row result file ({result_bytes / 1e6:.1f} MB)"
    print(f"Job: {n_train:,} training examples {sizes}, {rows}\n")
    print("| | wall | peak RSS, all processes (sync alone) | data dir after | written to disk | raw files |")
    print("|---|---|---|---|---|---|")
    print(
        f"| tunelog `FineTuneLogger.sync` (median of {len(runs)}; wall {walls[0]:.2f}–{walls[-1]:.2f} s) | "
        f"{wall:.2f} s | {rss:.0f} MiB ({alone:.0f} MiB) | "
        f"{stored / 1e6:.0f} MB ({stored / raw:.2f}× raw) | "
        f"{written / 1e6:.0f} MB | {raw / 1e6:.0f} MB |"
    )
    print("| wandb `WandbLogger.sync` (offline, from PERFORMANCE.md) | 78 s | 1.64 GiB | – | 751 MB | – |")


if __name__ == "__main__":
    main()
