"""What a background writer costs the caller before it does any work: the floor under autolog's p50.

One process, the autolog benchmark's non-streaming chat call (``httpx2.MockTransport``), blocks of
calls with recording off and on interleaved, in four set-ups of tunelog's writer:

* ``held off``: the writer is never woken while the calls run (it writes at the flush after each
  block), and the caller's thread builds nothing: the caller's own cost of queueing a call;
* ``woken, idle``: the writer is woken and handed the calls every fourth call (the design before
  2026-12-05), but takes them off the queue and does nothing else: the cost of the wake-ups alone
  (thread switches, the GIL changing hands, caches the other thread touched);
* ``woken every 4 calls``: that design, doing its work (building, journalling, committing);
* ``as shipped``: tunelog as it is: once five calls are queued, the next one, as it starts, builds
  and journals them on the caller's thread (see ``tunelog.mapped_journal``), the writer only commits.

Reported per set-up: the caller's p50 added (median over blocks), and the CPU time per call of the
caller's thread and of the writer's thread, the flush after each block included (Linux
``/proc/self/task/<tid>/schedstat``).
Run: ``python -m bench.autolog_floor``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.autolog_bench import _client, _one, _setup

BLOCK = 300
BLOCKS = 9


def _cpu_ns(tid: int) -> int:
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        return int(f.read().split()[0])


def _idle_drain(self: Any) -> None:
    """Writer._drain that only empties the queue (and releases flushes and hand-overs)."""
    from tunelog import writer

    q = self._q
    while q:
        item = q.popleft()
        if item[0] == writer._FLUSH:
            item[1].set()
    self._handed.set()


def _woken() -> Callable[[], None]:
    """The design before 2026-12-05: the writer woken (and handed the GIL) every fourth call."""
    from tunelog.integration.openai import autolog

    recorder = autolog._recorder
    assert recorder is not None
    w = recorder.run.writer
    w._inline = False

    def undo() -> None:
        w._inline = True

    return undo


def _held_off() -> Callable[[], None]:
    from tunelog import writer

    old = _woken()
    saved = (writer._WAKE_AT, writer._WAKE_AFTER_NS, writer._HAND_OVER_AT, writer._STRAGGLERS_S)
    writer._WAKE_AT, writer._WAKE_AFTER_NS, writer._HAND_OVER_AT = 10**9, 10**15, 10**9
    writer._STRAGGLERS_S = 60.0

    def undo() -> None:
        writer._WAKE_AT, writer._WAKE_AFTER_NS, writer._HAND_OVER_AT, writer._STRAGGLERS_S = saved
        old()

    return undo


def _idle() -> Callable[[], None]:
    from tunelog import writer

    old = _woken()
    real = writer.Writer._drain
    writer.Writer._drain = _idle_drain  # type: ignore[method-assign]

    def undo() -> None:
        writer.Writer._drain = real  # type: ignore[method-assign]
        old()

    return undo


def _measure(client: Any) -> dict[str, float]:
    import tunelog
    from tunelog.integration.openai import autolog

    patcher, recorder = autolog._patcher, autolog._recorder
    writer_tid = next(t.native_id for t in threading.enumerate() if t.name == "tunelog-writer")
    me = threading.get_native_id()
    added, caller, wrote = [], [], []
    for _ in range(BLOCKS):
        p50: dict[bool, float] = {}
        cpu: dict[bool, tuple[float, float]] = {}
        for on in (False, True):
            patcher.recorder = recorder if on else None  # type: ignore[union-attr]
            times = []
            c0, w0 = _cpu_ns(me), _cpu_ns(writer_tid)
            for _ in range(BLOCK):
                t = time.perf_counter_ns()
                _one(client, False)
                times.append(time.perf_counter_ns() - t)
            tunelog.flush()
            cpu[on] = ((_cpu_ns(me) - c0) / BLOCK / 1e3, (_cpu_ns(writer_tid) - w0) / BLOCK / 1e3)
            p50[on] = statistics.median(times) / 1e3
        added.append(p50[True] - p50[False])
        caller.append(cpu[True][0] - cpu[False][0])
        wrote.append(cpu[True][1])
    patcher.recorder = recorder  # type: ignore[union-attr]
    return {
        "p50_added_us": statistics.median(added),
        "caller_cpu_added_us": statistics.median(caller),
        "writer_cpu_us": statistics.median(wrote),
    }


def main() -> None:
    """Runs the measurement in a process of its own: it switches autolog on for good."""
    if "--here" not in sys.argv:
        root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root + "/src", root]))
        subprocess.run([sys.executable, "-m", "bench.autolog_floor", "--here"], env=env, check=True)
        return
    client = _client()
    _setup("tunelog", Path(tempfile.mkdtemp(prefix="tunelog-floor-")))
    for _ in range(300):
        _one(client, False)
    import tunelog

    tunelog.flush()
    rows = []
    setups = (
        ("held off", _held_off),
        ("woken, idle", _idle),
        ("woken every 4 calls", _woken),
        ("as shipped", None),
    )
    for label, change in setups:
        undo = change() if change is not None else None
        try:
            rows.append((label, _measure(client)))
        finally:
            if undo is not None:
                undo()
    print("| writer | caller p50 added | caller CPU added/call | writer CPU/call |")
    print("|---|---|---|---|")
    for label, r in rows:
        print(
            f"| {label} | {r['p50_added_us']:+.1f} µs | {r['caller_cpu_added_us']:+.1f} µs | "
            f"{r['writer_cpu_us']:.1f} µs |"
        )


if __name__ == "__main__":
    main()
