"""Counting tunelog's own failures: each kind logged once, with how to act on it; none raised."""

from __future__ import annotations

import threading

__all__ = ["FailureCounter"]


class FailureCounter:
    """Counts failures by kind and logs the first of each kind once, with how to act on it."""

    def __init__(self) -> None:
        self.count = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def record(self, what: str, exc: BaseException) -> None:
        with self._lock:
            self.count += 1
            kind = f"{what}:{type(exc).__name__}"
            if kind in self._seen:
                return
            self._seen.add(kind)
        import logging  # only when something failed: importing it costs init() ~5 ms

        logging.getLogger("tunelog").warning(
            "tunelog: %s failed (%s: %s). Your program continues; tunelog counts further failures of "
            "this kind without repeating this message (see tunelog.failures()). Check that the data "
            "directory is writable and has free space.",
            what,
            type(exc).__name__,
            exc,
        )
