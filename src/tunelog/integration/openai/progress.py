"""What sync shows while it works: Rich progress bars on a terminal, plain lines elsewhere, or nothing.

One bar per job followed live: status, step/total and the latest training loss.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Protocol


class Reporter(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def job(self, job_id: str, status: str, step: int | None, total: int | None, loss: float | None) -> None:
        """A job's state while it is followed."""
        ...

    def line(self, text: str) -> None:
        """One line of news (a job synced, skipped or failed)."""
        ...


class Silent:
    """Reports nothing (the default in scripts and tests)."""

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def job(self, job_id: str, status: str, step: int | None, total: int | None, loss: float | None) -> None:
        pass

    def line(self, text: str) -> None:
        pass


class Lines:
    """Plain lines on a stream (the CLI when stderr is not a terminal): news, and status changes."""

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream
        self._last: dict[str, str] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def job(self, job_id: str, status: str, step: int | None, total: int | None, loss: float | None) -> None:
        with self._lock:
            if self._last.get(job_id) == status:
                return
            self._last[job_id] = status
        self.line(f"{job_id}: {status}")

    def line(self, text: str) -> None:
        with self._lock:  # jobs are followed on several threads: keep their lines whole
            (self._stream or sys.stderr).write(text + "\n")
            (self._stream or sys.stderr).flush()


class Bars:
    """Rich progress bars, one per followed job (needs ``rich``)."""

    def __init__(self, console: Any = None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[status]:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self._progress.start()

    def stop(self) -> None:
        self._progress.stop()

    def job(self, job_id: str, status: str, step: int | None, total: int | None, loss: float | None) -> None:
        shown = "-" if loss is None else f"{loss:.4f}"
        with self._lock:
            task = self._tasks.get(job_id)
            if task is None:
                task = self._tasks[job_id] = self._progress.add_task(
                    job_id, total=total or None, status=status, loss=shown
                )
        self._progress.update(task, completed=step or 0, total=total or None, status=status, loss=shown)

    def line(self, text: str) -> None:
        self._progress.console.print(text, markup=False, highlight=False)


def reporter_for(show: bool | None, stream: Any = None) -> Reporter:
    """``show=None``: bars on a terminal, nothing otherwise; True: bars (or lines without a terminal)."""
    out = stream or sys.stderr
    tty = bool(getattr(out, "isatty", lambda: False)())
    if show is False or (show is None and not tty):
        return Silent()
    if not tty:
        return Lines(out)
    try:
        from rich.console import Console
    except ImportError:
        return Lines(out)
    return Bars(Console(file=out))
