"""Logging a 1 GiB file into the local blob store, against ``sha256sum`` of the same file.

Run: ``python bench/blobs_bench.py [--size-mib 1024] [--repeat 3] [--dir /tmp]``. Prints markdown rows
(medians of ``--repeat`` runs): ``sha256sum``, the first ``put_file`` (hash, then kernel copy into
the store) and the second, deduplicated ``put_file`` (a hash only), with and without fsync.
The target is a first log at ≥ 0.8x the throughput of ``sha256sum``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tunelog.blobs.local import LocalBlobStore

_PIECE = 64 << 20


def make_file(path: Path, size: int) -> None:
    """Random-looking content, fast to make: one random 64 MiB piece, each copy stamped with its
    number so that no two pieces are alike."""
    piece = bytearray(os.urandom(_PIECE))
    with open(path, "wb") as f:
        written = 0
        n = 0
        while written < size:
            piece[:8] = n.to_bytes(8, "little")
            chunk = memoryview(piece)[: min(_PIECE, size - written)]
            f.write(chunk)
            written += len(chunk)
            n += 1


def sha256sum_command() -> list[str]:
    if shutil.which("sha256sum"):
        return ["sha256sum"]
    if shutil.which("shasum"):
        return ["shasum", "-a", "256"]
    raise SystemExit("neither sha256sum nor shasum is installed: install coreutils to run this benchmark")


def timed(fn: Callable[[], object], repeat: int, before: Callable[[], object] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to make the file and the store (default: tmp)")
    args = parser.parse_args()
    size = args.size_mib << 20
    mib = size / (1 << 20)

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="tunelog-blobs-bench-") as tmp:
        src = Path(tmp) / "big.bin"
        make_file(src, size)
        command = [*sha256sum_command(), str(src)]
        expected = subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()[0]
        base = timed(lambda: subprocess.run(command, check=True, capture_output=True), args.repeat)

        print(f"| {mib:.0f} MiB file | MiB/s | × sha256sum |")
        print("|---|---|---|")
        print(f"| `{' '.join(command[:-1])}` | {mib / base:.0f} | 1.00 |")
        for fsync in (True, False):
            store = LocalBlobStore(Path(tmp) / f"blobs-fsync-{fsync}", fsync=fsync)
            sha, _ = store.put_file(src)
            if sha != expected:
                raise SystemExit(f"put_file gave {sha}, sha256sum {expected}")

            def forget(store: LocalBlobStore = store, sha: str = sha) -> None:
                store.delete(sha)
                os.sync()  # do not let the previous copy's write-back bill this run

            def put(store: LocalBlobStore = store) -> None:
                store.put_file(src)

            first = timed(put, args.repeat, before=forget)
            label = "fsync" if fsync else "no fsync"
            print(f"| `put_file`, first log ({label}) | {mib / first:.0f} | {base / first:.2f} |")
            again = timed(put, args.repeat)
            print(f"| `put_file`, second log: dedup ({label}) | {mib / again:.0f} | {base / again:.2f} |")


if __name__ == "__main__":
    main()
