"""Starting runs: ``tunelog.init``, the active run (``tunelog.run``) and the process's exit hooks.

The hooks (``atexit`` and ``sys.excepthook``) are installed by the first ``init``, never at import:
at exit every live run is finished (``failed`` after an uncaught exception) and everything is flushed.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from tunelog import liveness
from tunelog.backend import Backend, backend_for
from tunelog.errors import ReferenceNotFound, RunExistsError, UsageError, warn
from tunelog.history import json_safe
from tunelog.refs import REGISTRY_PROJECT, check_name
from tunelog.runs import Run
from tunelog.settings import Settings
from tunelog.store.base import RunKey, RunRecord

_ADJECTIVES = (
    "amber",
    "brisk",
    "calm",
    "dark",
    "eager",
    "fancy",
    "gentle",
    "hazy",
    "icy",
    "jolly",
    "keen",
    "lively",
    "misty",
    "noble",
    "olive",
    "proud",
    "quiet",
    "rapid",
    "silent",
    "tidy",
)
_NOUNS = (
    "brook",
    "cloud",
    "dawn",
    "ember",
    "field",
    "grove",
    "harbor",
    "island",
    "lake",
    "meadow",
    "night",
    "ocean",
    "pine",
    "river",
    "sky",
    "stone",
    "thunder",
    "valley",
    "wave",
    "wind",
)
# Arguments wandb.init takes that have no meaning here; accepted so wandb code runs unchanged.
_WANDB_ONLY_ARGS = frozenset(
    {
        "magic",
        "config_exclude_keys",
        "config_include_keys",
        "anonymous",
        "allow_val_change",
        "force",
        "tensorboard",
        "sync_tensorboard",
        "monitor_gym",
        "save_code",
        "fork_from",
        "resume_from",
        "settings",
        "id_prefix",
        "reinit_policy",
    }
)


# Ids and names draw on os.urandom rather than the random module, which the first init would
# otherwise import (~2 ms) for these two calls.
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _new_run_id() -> str:
    n = int.from_bytes(os.urandom(8), "big")  # 2**64 draws over 36**8 ids: uniform enough
    chars = []
    for _ in range(8):
        n, i = divmod(n, 36)
        chars.append(_ID_ALPHABET[i])
    return "".join(chars)


# -- the active run and process hooks -----------------------------------------------------------------


class _Process:
    """Process-wide run bookkeeping: the active run, live runs, exit hooks (installed on first init)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.active: Run | None = None
        self.live: dict[RunKey, Run] = {}
        self.hooks_installed = False
        self.uncaught: BaseException | None = None
        self.exit_code: int | None = None  # what the main thread passed to sys.exit, if it did
        self.helpers: list[threading.Thread] = []
        # Held while a helper thread imports: os.fork() waits for it (see install_hooks), since a
        # module half-imported at the fork could never be imported in the child.
        self.importing = threading.Lock()

    def install_hooks(self) -> None:
        if self.hooks_installed:
            return
        self.hooks_installed = True
        atexit.register(self.at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=self.importing.acquire,
                after_in_parent=self.importing.release,
                after_in_child=self.importing.release,
            )
        previous = sys.excepthook

        def excepthook(et: type[BaseException], ev: BaseException, tb: TracebackType | None) -> None:
            self.uncaught = ev
            previous(et, ev, tb)

        sys.excepthook = excepthook
        # SystemExit reaches neither excepthook nor atexit with its code, so `sys.exit(2)` would read
        # as a clean finish; wrapping sys.exit (as wandb does) sees the code and still exits the same.
        original_exit = sys.exit

        def exit_(status: Any = None) -> NoReturn:
            if threading.current_thread() is threading.main_thread():
                self.exit_code = status if isinstance(status, int) else (0 if status is None else 1)
            original_exit(status)

        sys.exit = exit_

    def gather_provenance(self, backend: Backend, key: RunKey) -> None:
        """Record where the run came from, on a thread of its own: git and package metadata take
        tens of milliseconds that neither ``init`` nor ``finish`` should wait for."""

        def work() -> None:
            try:
                with self.importing:
                    from tunelog import provenance  # its imports (subprocess, platform) stay off init

                backend.writer.update(key, {"meta": provenance.collect()})
            except Exception as exc:
                backend.failures.record("recording where the run came from", exc)

        t = threading.Thread(target=work, name="tunelog-provenance", daemon=True)
        with self.lock:
            self.helpers = [h for h in self.helpers if h.is_alive()]
            self.helpers.append(t)
        t.start()

    def at_exit(self) -> None:
        for t in list(self.helpers):
            t.join(5.0)
        code = 1 if self.uncaught is not None else (self.exit_code or 0)
        for run in list(self.live.values()):
            try:
                run.finish(exit_code=code)
            except Exception as exc:  # at exit nothing may raise; report and go on
                warn("tunelog: finishing run %s at exit failed: %s", run.id, exc)
        from tunelog.backend import backends

        for b in backends().all():
            b.writer.flush(30.0)


_process: _Process | None = None
_process_lock = threading.Lock()


def process() -> _Process:
    global _process
    if _process is None:
        with _process_lock:
            if _process is None:
                _process = _Process()
    return _process


def active_run() -> Run | None:
    """The run the last ``init`` returned, until it finishes (``tunelog.run``)."""
    return _process.active if _process is not None else None


def forget(run: Run) -> None:
    """Drop a finished run from the live set (called by ``Run.finish``)."""
    p = process()
    with p.lock:
        p.live.pop(run.key, None)
        if p.active is run:
            p.active = None


def init(
    project: str | None = None,
    entity: str | None = None,
    name: str | None = None,
    id: str | None = None,
    job_type: str | None = None,
    config: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    notes: str | None = None,
    group: str | None = None,
    resume: bool | str | None = None,
    dir: str | os.PathLike[str] | None = None,
    reinit: bool | str | None = None,
    mode: str | None = None,
    **kwargs: Any,
) -> Run:
    """Start a run (or resume one) and make it the active run, ``tunelog.run``.

    Args:
        project: project name (default ``"uncategorized"``).
        entity: user or team (default ``TUNELOG_ENTITY``, else the OS user name).
        name: display name (default: generated, such as ``calm-river-3``).
        id: the run's id, unique in the project (default: generated). With ``resume`` it is the key
            that finds the run again.
        job_type, config, tags, notes, group: as in wandb.
        resume: ``"allow"`` (or True, ``"auto"``): continue the run with this id if it exists;
            ``"must"``: it must exist; ``"never"`` (default): it must not.
        dir: data directory for this run's store (default ``TUNELOG_DIR``, else a per-user folder).
        reinit: with a run active, ``False`` (or ``"return_previous"``) returns it;
            ``"create_new"`` starts another run beside it, leaving ``tunelog.run`` as it was (what
            integrations such as fine-tune sync use); otherwise (``"finish_previous"``) it is
            finished first.
        mode: ``"online"`` or ``"disabled"`` (default ``TUNELOG_MODE``).
        **kwargs: other ``wandb.init`` arguments are accepted and ignored, so wandb code runs.

    Raises:
        UsageError: an invalid name, id, tag or resume value.
        RunExistsError: the id exists and ``resume`` does not allow continuing it.
        ReferenceNotFound: ``resume="must"`` and there is no such run.
    """
    unknown = set(kwargs) - _WANDB_ONLY_ARGS
    if unknown:
        raise TypeError(f"init() got unexpected keyword argument(s) {sorted(unknown)}.")
    p = process()
    with p.lock:
        active = p.active if p.active is not None and not p.active.finished else None
        if reinit not in (None, True, False, "return_previous", "finish_previous", "create_new"):
            raise UsageError(
                f"Invalid reinit={reinit!r}. Use 'finish_previous' (default), 'return_previous' or "
                "'create_new'."
            )
        if active is not None and (reinit is False or reinit == "return_previous"):
            return active
        if active is not None and reinit != "create_new":
            active.finish()
            active = None
        settings = Settings.resolve(dir=dir, entity=entity, mode=mode)
        run = _start(settings, project, name, id, job_type, config, tags, notes, group, resume, dir)
        if active is None:
            p.active = run
        p.live[run.key] = run
        p.install_hooks()
    return run


def _resume_mode(resume: bool | str | None) -> str:
    if resume is None or resume is False or resume == "never":
        return "never"
    if resume is True or resume in ("allow", "auto"):
        return "allow"
    if resume == "must":
        return "must"
    raise UsageError(f"Invalid resume={resume!r}. Use 'allow', 'must', 'never' (or True/False).")


def _start(
    settings: Settings,
    project: str | None,
    name: str | None,
    run_id: str | None,
    job_type: str | None,
    config: Mapping[str, Any] | None,
    tags: Sequence[str] | None,
    notes: str | None,
    group: str | None,
    resume: bool | str | None,
    dir: str | os.PathLike[str] | None,
) -> Run:
    project = check_name(project or "uncategorized", "project")
    if project == REGISTRY_PROJECT:
        raise UsageError(
            f"'{REGISTRY_PROJECT}' is reserved for the model registry; choose another project name."
        )
    entity = check_name(settings.entity, "entity")
    given_id = run_id is not None
    run_id = check_name(run_id, "run id") if run_id is not None else _new_run_id()
    tag_list = tuple(dict.fromkeys(str(t) for t in (tags or ())))
    how = _resume_mode(resume)
    key = RunKey(entity, project, run_id)
    backend = backend_for(settings)
    now = time.time()
    pid = os.getpid()
    where: dict[str, Any] = {
        "host": liveness.this_host(),
        "pid": pid,
        "pid_start": liveness.process_start(pid),
    }
    store = backend.store
    existing = store.get_run(key) if given_id else None
    run_dir = Path(dir) if dir else None
    if existing is not None:
        if how == "never":
            raise RunExistsError(
                f"Run {run_id!r} already exists in {entity}/{project}. Pass resume='allow' to continue "
                "it, or choose another id."
            )
        merged = dict(existing.config)
        merged.update(config or {})
        changes: dict[str, Any] = {
            "state": "running",
            "finished_at": None,
            "exit_code": None,
            "heartbeat_at": now,
            "updated_at": now,
            "config": merged,
            **where,
        }
        for field, value in (("name", name), ("job_type", job_type), ("notes", notes), ("group", group)):
            if value is not None:
                changes[field] = value
        if tags is not None:
            changes["tags"] = list(tag_list)
        store.update_run(key, changes)
        record = store.get_run(key) or existing
        run = Run(backend, record, resumed=True, dir=run_dir)
    else:
        if how == "must":
            raise ReferenceNotFound(
                f"No run {run_id!r} in {entity}/{project} to resume (resume='must'). Check the id, or "
                "pass resume='allow' to create it."
            )
        warned: set[str] = set()
        clean_config = {
            str(k): json_safe(v, what=f"config[{k!r}]", warned=warned) for k, v in (config or {}).items()
        }
        record = RunRecord(
            key=key,
            name=name or _generate_name(),
            state="running",
            job_type=job_type,
            group=group,
            notes=notes,
            tags=tag_list,
            config=clean_config,
            created_at=now,
            updated_at=now,
            heartbeat_at=now,
            **where,
        )
        store.create_run(record)  # in disabled mode the store lives in memory
        run = Run(backend, record, resumed=False, dir=run_dir)
    if settings.mode != "disabled":
        backend.writer.register(run)
        process().gather_provenance(backend, key)
    return run


def _generate_name() -> str:
    n = int.from_bytes(os.urandom(8), "big")
    n, adjective = divmod(n, len(_ADJECTIVES))
    n, noun = divmod(n, len(_NOUNS))
    return f"{_ADJECTIVES[adjective]}-{_NOUNS[noun]}-{n % 999 + 1}"


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """Log to the active run (``tunelog.run.log``). Raises UsageError when no run is active."""
    run = active_run()
    if run is None:
        raise UsageError("tunelog.log() needs an active run: call tunelog.init() first.")
    run.log(data, step=step, commit=commit)


def finish(exit_code: int | None = None) -> None:
    """Finish the active run, if any."""
    run = active_run()
    if run is not None:
        run.finish(exit_code)


def flush(timeout: float | None = 30.0) -> bool:
    """Wait until everything logged so far is committed to the store."""
    if _process is None:
        return True
    for t in list(_process.helpers):
        t.join(timeout)
    from tunelog.backend import backends

    return all(b.writer.flush(timeout) for b in backends().all())
