"""Core benchmarks: import time, init()+finish(), 1,000,000 metric points, side by side with peers.

Peers (wandb offline, mlflow with a SQLite store) run from ``.venv-bench`` when it exists
(``python3 -m venv .venv-bench && .venv-bench/bin/pip install wandb mlflow -e .``); otherwise only
tunelog is measured. Each measurement is a fresh process; medians of several repeats.

Measured as users run: tunelog's package is byte-compiled first (``python -m compileall``) and the
timed processes run without ``PYTHONDONTWRITEBYTECODE``, so they load ``.pyc`` files. (With it set,
as in some CI and sandbox environments, every import recompiles the sources: ~60 ms more for
tunelog alone, a cost no installed copy pays.)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEER_PY = ROOT / ".venv-bench" / "bin" / "python"

INIT_FINISH = {
    "tunelog": """
        import time, tunelog
        t = time.perf_counter()
        tunelog.init(project="bench").finish()
        print(time.perf_counter() - t)
    """,
    "wandb (offline)": """
        import os, time, wandb
        t = time.perf_counter()
        wandb.init(project="bench", mode="offline", dir=os.environ["BENCH_DIR"]).finish()
        print(time.perf_counter() - t)
    """,
    "mlflow (SQLite)": """
        import os, time, mlflow
        os.chdir(os.environ["BENCH_DIR"])
        mlflow.set_tracking_uri("sqlite:///" + os.environ["BENCH_DIR"] + "/mlflow.db")
        t = time.perf_counter()
        mlflow.start_run(); mlflow.end_run()
        print(time.perf_counter() - t)
    """,
}

IMPORTS = {
    "tunelog": "import tunelog",
    "wandb": "import wandb",
    "mlflow": "import mlflow",
    "(python alone)": "pass",
}

MILLION = """
    import resource, time, tunelog
    steps = int(__import__("os").environ.get("BENCH_STEPS", "200000"))
    t = time.perf_counter()
    run = tunelog.init(project="bench-million")
    for step in range(steps):
        run.log({"loss": 1.0 / (step + 1), "acc": step / steps, "lr": 0.001, "grad_norm": 1.5,
                 "tokens": step * 512})
    t_logged = time.perf_counter() - t
    run.finish()
    total = time.perf_counter() - t
    api = tunelog.Api()
    assert api.run(run.path).last_step == steps - 1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{t_logged} {total} {rss}")
"""


def _python_for(name: str) -> str | None:
    if name.startswith("tunelog") or name.startswith("(python"):
        return sys.executable
    return str(PEER_PY) if PEER_PY.exists() else None


def _run(py: str, code: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [py, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, check=True, timeout=600
    )
    return out.stdout.strip().splitlines()[-1]


def _wall(py: str, code: str, env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run([py, "-c", code], env=env, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - t


def _byte_compile() -> None:
    """Write tunelog's ``.pyc`` files, as ``pip install`` does, so imports measure loading, not compiling."""
    import tunelog

    package_dir = str(Path(tunelog.__file__).parent)
    subprocess.run([sys.executable, "-m", "compileall", "-q", package_dir], check=True, capture_output=True)


def main(repeats: int = 7) -> dict[str, object]:
    results: dict[str, object] = {}
    _byte_compile()
    with tempfile.TemporaryDirectory() as d:
        env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "TUNELOG_DIR": d,
            "BENCH_DIR": d,
            "WANDB_SILENT": "true",
            "WANDB_MODE": "offline",
            "GIT_PYTHON_REFRESH": "quiet",
        }
        print("| import | median wall (ms), whole process |\n|---|---|")
        for name, code in IMPORTS.items():
            py = _python_for(name)
            if py is None:
                continue
            try:
                _wall(py, code, env)  # warm the file cache
                ms = statistics.median(_wall(py, code, env) for _ in range(repeats)) * 1000
            except subprocess.CalledProcessError:
                continue
            results[f"import {name}"] = ms
            print(f"| `{code}` ({name}) | {ms:.0f} |")
        print("\n| init()+finish() of an empty run | median (ms) |\n|---|---|")
        for name, code in INIT_FINISH.items():
            py = _python_for(name)
            if py is None:
                continue
            try:
                ms = statistics.median(float(_run(py, code, env)) for _ in range(repeats)) * 1000
            except subprocess.CalledProcessError as exc:
                print(f"| {name} | failed: {exc.stderr.strip().splitlines()[-1:]} |")
                continue
            results[f"init+finish {name}"] = ms
            print(f"| {name} | {ms:.1f} |")
        logged, total, rss = map(float, _run(sys.executable, MILLION, env).split())
        results["million"] = {"log_s": logged, "total_s": total, "peak_rss_mib": rss}
        print(
            "\n| 1,000,000 points (200,000 steps × 5 keys) | run.log loop | logged and flushed | peak RSS |"
        )
        print("|---|---|---|---|")
        print(f"| tunelog | {logged:.2f} s | {total:.2f} s | {rss:.0f} MiB |")
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
