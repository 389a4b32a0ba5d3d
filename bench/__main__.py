"""``make bench``: every benchmark, one after another; each prints a markdown table.

Run one alone with ``python -m bench.core_bench`` (etc.).
"""

from __future__ import annotations

import importlib
import sys

MODULES = [
    "bench.core_bench",
    "bench.blobs_bench",
    "bench.store_history_bench",
    "bench.simulator_bench",
    "bench.finetune_bench",
    "bench.autolog_bench",
    "bench.autolog_floor",
    "bench.autolog_loopback",
    "bench.ui_bench",
]

if __name__ == "__main__":
    only = sys.argv[1:]
    for name in MODULES:
        if only and not any(o in name for o in only):
            continue
        mod = importlib.import_module(name)
        print(f"\n## {name}\n", flush=True)
        sys.argv = [name]  # benchmarks with their own flags run with their defaults here
        mod.main()
