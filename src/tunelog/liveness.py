"""Telling a crashed run from a running one, and recording it.

A running run records its host, pid and the pid's start tick. On the same host a reader checks the
process directly (a pid reused by another process has another start tick); elsewhere, a heartbeat
older than :data:`STALE_AFTER` seconds means the writer is gone. A reader that finds such a run marks
it crashed in the store (:func:`settle`), so every later reader agrees.
"""

from __future__ import annotations

import os
import time
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tunelog.backend import Backend
    from tunelog.store.base import RunRecord

STALE_AFTER = 60.0


@cache
def this_host() -> str:
    """This machine's host name, as ``socket.gethostname()`` gives it."""
    if hasattr(os, "uname"):
        # The same kernel field gethostname(2) reads, without importing socket (~3 ms) at init.
        return os.uname().nodename
    import socket

    return socket.gethostname()


def _stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses, so split after its ')'.
    return stat[stat.rfind(b")") + 2 :].split()


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux, field 22), or None where unknown."""
    fields = _stat(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def process_alive(pid: int, start: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    fields = _stat(pid)
    if fields and fields[0] in (b"Z", b"X"):
        return False  # killed, not yet reaped by its parent
    if start is not None:
        now_start = process_start(pid)
        if now_start is not None and now_start != start:
            return False
        if now_start is None and os.path.isdir("/proc"):
            return False  # a zombie's stat can vanish; /proc exists, so the process is gone
    return True


def is_crashed(
    state: str,
    host: str | None,
    pid: int | None,
    pid_start: int | None,
    heartbeat_at: float | None,
    now: float | None = None,
) -> bool:
    """Whether a run stored as ``running`` has lost its process."""
    if state != "running":
        return False
    if host is not None and pid is not None and host == this_host():
        return not process_alive(pid, pid_start)
    if heartbeat_at is None:
        return False
    return (now if now is not None else time.time()) - heartbeat_at > STALE_AFTER


def settle(backend: Backend, rec: RunRecord) -> RunRecord:
    """Mark a run whose process is gone as crashed (persisted, so every reader agrees)."""
    if is_crashed(rec.state, rec.host, rec.pid, rec.pid_start, rec.heartbeat_at):
        backend.replay_journals()  # what the dead process journalled but had not committed
        try:
            backend.store.update_run(rec.key, {"state": "crashed"})
        except Exception as exc:
            backend.failures.record("marking a crashed run", exc)
        return rec._replace(state="crashed")
    return rec


def settle_running(backend: Backend, entity: str, project: str) -> int:
    """Mark the project's runs whose process is gone as crashed; returns how many were."""
    from tunelog.filters import parse_filter, parse_order

    gone, cursor = 0, None
    while True:
        page = backend.store.list_runs_page(
            entity, project, parse_filter({"state": "running"}), parse_order("created_at"), cursor, 500
        )
        gone += sum(settle(backend, r).state == "crashed" for r in page.runs)
        cursor = page.next_cursor
        if cursor is None:
            return gone
