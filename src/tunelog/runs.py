"""Runs: ``tunelog.init`` and :class:`Run` — config, summary, metric history, state, heartbeat.

(Not ``run.py``: ``tunelog.run`` is the active run, and a submodule would shadow it.)
"""

from __future__ import annotations

import os
import threading
import time
import time as _time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tunelog.backend import Backend
from tunelog.config import Config, Summary
from tunelog.errors import UsageError, warn
from tunelog.history import flatten, json_safe
from tunelog.settings import Settings
from tunelog.store.base import RunKey, RunRecord
from tunelog.writer import Writer

if TYPE_CHECKING:
    from tunelog.artifact import Artifact

_SCALAR_TYPES = (int, float, bool, type(None))


class Run:
    """One tracked run. Create it with :func:`tunelog.init`; use it as a context manager.

    Logging never raises for storage problems: they are counted (``tunelog.failures()``) and
    reported once through :mod:`logging`. Only invalid arguments raise.
    """

    def __init__(self, backend: Backend, record: RunRecord, *, resumed: bool, dir: Path | None) -> None:
        self._backend = backend
        self._key = record.key
        self._name = record.name
        self._record = record
        self._resumed = resumed
        self._disabled = backend.settings.mode == "disabled"
        self._writer = backend.writer
        self._lock = threading.Lock()
        self._dirty: dict[str, bool] = {}
        self.config = Config(record.config, lambda: self._mark("config"))
        self.summary = Summary(record.summary, lambda: self._mark("summary"))
        self._step = (record.last_step + 1) if record.last_step is not None else 0
        self._warned_steps = False
        self._warned: set[str] = set()
        self._finished = False
        self._state = record.state
        self._dir = dir
        self._tags = tuple(record.tags)
        self._notes = record.notes
        self._group = record.group

    # -- identity ----------------------------------------------------------------------------------
    @property
    def key(self) -> RunKey:
        return self._key

    @property
    def id(self) -> str:
        return self._key.run_id

    @property
    def entity(self) -> str:
        return self._key.entity

    @property
    def project(self) -> str:
        return self._key.project

    @property
    def path(self) -> str:
        """``entity/project/run_id``, as :meth:`tunelog.Api.run` takes it."""
        return str(self._key)

    @property
    def url(self) -> str:
        """The run's address in the dashboard (``tunelog ui``)."""
        return self._backend.settings.run_url(self.entity, self.project, self.id)

    @property
    def job_type(self) -> str | None:
        return self._record.job_type

    @property
    def state(self) -> str:
        return self._state

    @property
    def resumed(self) -> bool:
        return self._resumed

    @property
    def step(self) -> int:
        """The step the next ``log`` call without ``step=`` writes to."""
        return self._step

    @property
    def dir(self) -> Path | None:
        """The ``dir`` given to ``init``: default root for artifact downloads."""
        return self._dir

    @property
    def settings(self) -> Settings:
        return self._backend.settings

    @property
    def disabled(self) -> bool:
        return self._disabled

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def writer(self) -> Writer:
        """The background writer this run queues to (for integrations that record spans)."""
        return self._writer

    def absorb_summary(self, values: Mapping[str, Any]) -> None:
        """Take plain values into the summary as a ``log`` call would (explicitly set keys stay),
        without a history row. Cheap: for integrations keeping running totals."""
        if self._finished:
            self.summary.update(values)
            if not self._disabled:
                self._writer.update(self._key, {"summary": self.summary.snapshot()})
            return
        self.summary._logged(values)
        self._dirty["summary"] = True

    # -- editable after the fact -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = str(value)
        self._update({"name": self._name})

    @property
    def tags(self) -> tuple[str, ...]:
        return self._tags

    @tags.setter
    def tags(self, value: Sequence[str]) -> None:
        self._tags = tuple(dict.fromkeys(str(t) for t in value))
        self._update({"tags": list(self._tags)})

    @property
    def notes(self) -> str | None:
        return self._notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._notes = value
        self._update({"notes": value})

    @property
    def group(self) -> str | None:
        return self._group

    @group.setter
    def group(self, value: str | None) -> None:
        self._group = value
        self._update({"group": value})

    def _update(self, changes: dict[str, Any]) -> None:
        if not self._disabled:
            self._writer.update(self._key, changes)

    def _mark(self, column: str) -> None:
        self._dirty[column] = True
        if not self._disabled:
            self._writer.update(self._key, {})  # wakes the writer, which drains the change

    def drain_updates(self) -> dict[str, Any] | None:
        """Changed columns since the last call (called by the writer thread)."""
        if not self._dirty:
            return None
        out: dict[str, Any] = {}
        if self._dirty.pop("summary", False):
            out["summary"] = self.summary.snapshot()
        if self._dirty.pop("config", False):
            out["config"] = self.config.as_dict()
        return out

    # -- logging -----------------------------------------------------------------------------------
    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """Log metrics (and tables) at a step.

        Args:
            data: ``{"loss": 0.1, "train": {"acc": 0.9}}``; nested dicts become ``train/acc``.
            step: the step to log at; steps only go forward (a smaller step is ignored with one
                warning). Without it, the run's current step is used.
            commit: whether the step is complete (default True without ``step``); the next call
                without ``step`` then writes to the following step.
        """
        if self._disabled or self._finished:
            return
        if not isinstance(data, Mapping):
            raise UsageError(f"run.log takes a dict such as {{'loss': 0.1}}, not {type(data).__name__}.")
        values = flatten(data)
        cur = self._step
        if step is None:
            at = cur
            if commit is not False:
                self._step = cur + 1
        elif type(step) is not int or step < cur:
            self._warn_step(step, cur)
            return
        else:
            at = step
            self._step = step + 1 if commit else step
        self._write(at, values)

    def _write(self, at: int, values: dict[str, Any]) -> None:
        for v in values.values():
            if not isinstance(v, _SCALAR_TYPES):
                values = self._prepare(values)
                break
        self.summary._logged(values)
        self._dirty["summary"] = True
        self._writer.log(self._key, at, values, time.time())

    def rewrite(self, step: int, data: Mapping[str, Any]) -> None:
        """Write values at ``step`` even if it lies behind the current step, replacing what that step
        held for the same keys. For integrations that learn a step's final values later (fine-tune
        sync writes the result file over the live metric events); users want :meth:`log`."""
        if self._disabled or self._finished:
            return
        self._write(int(step), flatten(data))
        if step >= self._step:
            self._step = step + 1

    def _warn_step(self, step: Any, cur: int) -> None:
        if not isinstance(step, int) or isinstance(step, bool):
            raise UsageError(f"step must be an int, got {step!r}.")
        if not self._warned_steps:
            self._warned_steps = True
            warn(
                "tunelog: run %s: ignored a log at step %d, smaller than the current step %d. Steps only "
                "go forward; log without step= or with a step >= %d. (Warned once per run.)",
                self.id,
                step,
                cur,
                cur,
            )

    def _prepare(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Turn non-scalar values into what history stores: tables into references, the rest JSON."""
        from tunelog.table import Table

        out: dict[str, Any] = {}
        for k, v in values.items():
            if isinstance(v, _SCALAR_TYPES):
                out[k] = v
            elif isinstance(v, Table):
                ref = self._store_table(k, v)
                if ref is not None:
                    out[k] = ref
            else:
                ok = getattr(v, "item", None) is not None and getattr(v, "ndim", 1) == 0
                out[k] = v if ok else json_safe(v, what=f"logged value {k!r}", warned=self._warned)
        return out

    def _store_table(self, key: str, table: Any) -> dict[str, Any] | None:
        from tunelog.table import store_table

        try:
            stored = store_table(table, self._backend.blobs)
            self._backend.store.add_blob_refs(self._key, [s for _, s, _ in stored.blobs])
        except Exception as exc:
            self._backend.failures.record(f"storing table {key!r}", exc)
            return None
        return {
            "_type": "table-ref",
            "sha256": stored.header_sha256,
            "nrows": stored.nrows,
            "ncols": len(stored.columns),
        }

    def log_event(
        self,
        message: str,
        level: str = "info",
        time: float | None = None,
        data: Mapping[str, Any] | None = None,
        id: str | None = None,
    ) -> None:
        """Record an event with the run (a fine-tuning job's events, say). With ``id`` (the source's
        event id), writing the same event again replaces it instead of adding a second one."""
        if self._disabled or self._finished:
            return
        from tunelog.store.base import RunEvent

        when = _time.time() if time is None else time
        self._writer.event(self._key, RunEvent(when, level, message, dict(data) if data else None, id))

    # -- artifacts ---------------------------------------------------------------------------------
    def log_artifact(
        self,
        artifact: Artifact | str | os.PathLike[str],
        name: str | None = None,
        type: str | None = None,
        aliases: Sequence[str] | None = None,
    ) -> Artifact:
        """Save an artifact as a new version (``v0, v1, …``) logged by this run.

        Content identical to an existing version makes no new version: the aliases move to it.
        ``latest`` always names the newest version. A path logs that file or directory.
        """
        from tunelog.artifact import Artifact, artifact_from_path

        art = artifact if isinstance(artifact, Artifact) else artifact_from_path(artifact, name, type)
        art._log(self._backend, self._key, list(aliases or ()))
        return art

    def use_artifact(
        self, artifact_or_ref: Artifact | str, type: str | None = None, aliases: Sequence[str] | None = None
    ) -> Artifact:
        """Declare that this run uses an artifact version and return it (lineage: version → run).

        ``artifact_or_ref`` is ``[[entity/]project/]name[:alias_or_version]`` (default ``latest``) or
        an :class:`Artifact`; a draft artifact is logged first.
        """
        from tunelog.artifact import Artifact, resolve_artifact

        if isinstance(artifact_or_ref, Artifact):
            art = artifact_or_ref
            if not art.is_logged:
                art._log(self._backend, self._key, list(aliases or ()))
        else:
            art = resolve_artifact(
                self._backend, artifact_or_ref, entity=self.entity, project=self.project, type=type
            )
        if art.is_logged:
            art._mark_used(self._key)
        return art

    def link_artifact(
        self, artifact: Artifact, target_path: str, aliases: Sequence[str] | None = None
    ) -> Artifact:
        """Link a logged version into the registry: ``"registry/<collection>"`` or
        ``"<entity>/registry/<collection>"``."""
        return artifact.link(target_path, aliases=aliases)

    # -- ending ------------------------------------------------------------------------------------
    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """End the run: ``finished``, or ``failed`` for a non-zero ``exit_code``; flushes everything."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
        self._state = "failed" if exit_code not in (None, 0) else "finished"
        if not self._disabled:
            changes: dict[str, Any] = {
                "state": self._state,
                "exit_code": exit_code,
                "finished_at": time.time(),
                "summary": self.summary.snapshot(),
                "config": self.config.as_dict(),
            }
            self._dirty.clear()
            self._writer.unregister(self._key)
            self._writer.update(self._key, changes)
            if not self._writer.flush(30.0):
                warn("tunelog: run %s: the store did not take everything within 30 s.", self.id)
        from tunelog.session import forget

        forget(self)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        code = 0 if et is None or (et is SystemExit and not getattr(ev, "code", 0)) else 1
        if et is KeyboardInterrupt:
            code = 255
        self.finish(exit_code=code)

    def __repr__(self) -> str:
        return f"<tunelog.Run {self.path} state={self._state}>"
