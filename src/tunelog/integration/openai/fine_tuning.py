"""``FineTuneLogger.sync``: OpenAI and Azure OpenAI fine-tuning jobs → tunelog runs and artifacts.

::

    from tunelog.integration.openai.fine_tuning import FineTuneLogger

    FineTuneLogger.sync(fine_tune_job_id="ftjob-...")     # one job, followed until it ends
    FineTuneLogger.sync()                                 # every job of the account, newest first

Which jobs, waiting, and idempotency live here; what one job becomes is :mod:`.job_sync`; the API
calls, retries and error messages are :mod:`.openai_client`. The arguments of the older
``openai.wandb_logger.WandbLogger.sync`` (``id``, ``n_fine_tunes``, ``force``) are accepted too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tunelog.errors import UsageError
from tunelog.integration.openai.job_sync import JobOutcome, JobSync, SyncOptions
from tunelog.integration.openai.openai_client import (
    FatalSyncError,
    FineTuneApi,
    RetryPolicy,
    SyncError,
    client_from_environment,
)
from tunelog.integration.openai.progress import reporter_for
from tunelog.refs import check_name
from tunelog.settings import Settings

__all__ = ["FineTuneLogger", "JobOutcome", "RetryPolicy", "SyncError", "SyncResult"]

log = logging.getLogger("tunelog")

DEFAULT_PROJECT = "OpenAI-Fine-Tune"
# init() arguments a sync passes on to each run; wandb-only ones are accepted and ignored.
_INIT_ARGS = frozenset({"name", "job_type", "tags", "notes", "group", "config", "dir", "mode"})
_IGNORED_ARGS = frozenset(
    {"resume", "reinit", "magic", "anonymous", "allow_val_change", "save_code", "settings",
     "sync_tensorboard", "monitor_gym", "config_exclude_keys", "config_include_keys", "tensorboard"}
)  # fmt: skip


@dataclass
class SyncResult:
    """What a sync did, job by job, with the runs and artifacts it wrote by reference.

    Iterating gives the :class:`JobOutcome` of each job; ``str()`` is one line per job.
    """

    jobs: list[JobOutcome] = field(default_factory=list)

    @property
    def synced(self) -> list[JobOutcome]:
        return [j for j in self.jobs if j.action == "synced"]

    @property
    def skipped(self) -> list[JobOutcome]:
        return [j for j in self.jobs if j.action == "skipped"]

    @property
    def errors(self) -> list[JobOutcome]:
        return [j for j in self.jobs if j.action == "error"]

    @property
    def runs(self) -> list[str]:
        """Paths (``entity/project/run_id``) of the runs written."""
        return [j.run for j in self.synced if j.run]

    @property
    def artifacts(self) -> list[str]:
        """``entity/project/name:vN`` of every artifact version logged or used."""
        return list(dict.fromkeys(a for j in self.synced for a in j.artifacts))

    @property
    def warnings(self) -> list[str]:
        return [w for j in self.jobs for w in j.warnings]

    @property
    def ok(self) -> bool:
        return not self.errors

    def __iter__(self) -> Any:
        return iter(self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    def __str__(self) -> str:
        if not self.jobs:
            return "No fine-tuning jobs to sync."
        return "\n".join(j.line() for j in self.jobs)


def _ids(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    ids = [value] if isinstance(value, str) else list(value)
    for i in ids:
        if not isinstance(i, str) or not i.strip():
            raise UsageError(
                f"Invalid fine-tune job id {i!r}: pass the id the API returned, such as 'ftjob-abc123'."
            )
    return list(dict.fromkeys(i.strip() for i in ids))


class FineTuneLogger:
    """Syncs fine-tuning jobs into tunelog. Everything is a class method: ``FineTuneLogger.sync()``."""

    @classmethod
    def sync(
        cls,
        fine_tune_job_id: str | Sequence[str] | None = None,
        openai_client: Any = None,
        num_fine_tunes: int | None = None,
        project: str = DEFAULT_PROJECT,
        entity: str | None = None,
        overwrite: bool = False,
        wait_for_job_success: bool = True,
        log_datasets: bool = True,
        model_artifact_name: str = "model-metadata",
        model_artifact_type: str = "model",
        *,
        poll_interval: float = 60.0,
        timeout: float | None = None,
        show_progress: bool | None = None,
        training_prices: Mapping[str, float] | None = None,
        retry: RetryPolicy | None = None,
        max_workers: int = 4,
        **kwargs: Any,
    ) -> SyncResult:
        """Turn fine-tuning jobs into runs: config, metrics, events, checkpoints, datasets, model.

        Args:
            fine_tune_job_id: a job id (or a list of them). None: every job of the account, newest
                first, except those already synced.
            openai_client: an ``openai.OpenAI`` or ``openai.AzureOpenAI``; default: one built from
                ``OPENAI_API_KEY``/``OPENAI_BASE_URL`` or ``AZURE_OPENAI_ENDPOINT``/
                ``AZURE_OPENAI_API_KEY``/``OPENAI_API_VERSION``.
            num_fine_tunes: without an id, only the N most recent jobs.
            project, entity: where the runs go (default project ``OpenAI-Fine-Tune``).
            overwrite: sync the selected jobs again even if already synced, replacing history and
                config (the model artifact gets a new version only if its content changed).
            wait_for_job_success: follow a job that is still running until it ends, logging its
                metrics live, every ``poll_interval`` seconds (and at most ``timeout`` seconds).
            log_datasets: log the training and validation files as dataset artifacts with tables.
            model_artifact_name, model_artifact_type: the model artifact (``model_metadata.json``).
            poll_interval: seconds between polls of a running job (default 60).
            timeout: stop following a job after this many seconds (it is recorded as it stands).
            show_progress: progress bars (default: when stderr is a terminal).
            training_prices: USD per 1M trained tokens by model, over the built-in table.
            retry: retry policy for transient API failures.
            max_workers: jobs synced at the same time.
            **kwargs: ``init`` arguments for each run (``tags``, ``notes``, ``group``, ``config``,
                ``name``, ``job_type``, ``dir``, ``mode``); and the older ``id``, ``n_fine_tunes``,
                ``force`` for ``fine_tune_job_id``, ``num_fine_tunes``, ``overwrite``.

        Returns:
            A :class:`SyncResult`: each job's outcome, its run and the artifacts it logged or used.

        Raises:
            SyncError: nothing could be synced (every requested job failed), the API rejected the
                key or could not be reached; the message says why, in one line.
            UsageError: invalid arguments.
        """
        if "id" in kwargs:
            if fine_tune_job_id is not None:
                raise UsageError("Pass the job id once: fine_tune_job_id= or its older name id=, not both.")
            fine_tune_job_id = kwargs.pop("id")
        if "n_fine_tunes" in kwargs:
            num_fine_tunes = kwargs.pop("n_fine_tunes") if num_fine_tunes is None else num_fine_tunes
        if "force" in kwargs:
            overwrite = bool(kwargs.pop("force")) or overwrite
        unknown = set(kwargs) - _INIT_ARGS - _IGNORED_ARGS
        if unknown:
            raise TypeError(f"FineTuneLogger.sync() got unexpected keyword argument(s) {sorted(unknown)}.")
        init = {k: v for k, v in kwargs.items() if k in _INIT_ARGS}
        ids = _ids(fine_tune_job_id)
        if num_fine_tunes is not None and (not isinstance(num_fine_tunes, int) or num_fine_tunes < 1):
            raise UsageError(f"num_fine_tunes must be a positive number of jobs, not {num_fine_tunes!r}.")
        if poll_interval <= 0 or (timeout is not None and timeout < 0):
            raise UsageError("poll_interval must be > 0 seconds and timeout >= 0 seconds (or None).")
        check_name(project, "project")
        check_name(model_artifact_name, "model artifact name")
        check_name(model_artifact_type, "model artifact type")
        settings = Settings.resolve(dir=init.get("dir"), entity=entity, mode=init.get("mode"))
        check_name(settings.entity, "entity")
        opts = SyncOptions(
            settings=settings,
            project=project,
            overwrite=bool(overwrite),
            wait=bool(wait_for_job_success),
            poll_interval=float(poll_interval),
            timeout=timeout,
            log_datasets=bool(log_datasets),
            model_artifact_name=model_artifact_name,
            model_artifact_type=model_artifact_type,
            init=init,
            training_prices=training_prices,
            reporter=reporter_for(show_progress),
        )
        api = FineTuneApi(openai_client if openai_client is not None else client_from_environment(), retry)
        return _run(api, opts, ids, num_fine_tunes, max_workers)


def _run(
    api: FineTuneApi, opts: SyncOptions, ids: list[str] | None, limit: int | None, workers: int
) -> SyncResult:
    result = SyncResult()
    reporter = opts.reporter
    reporter.start()
    try:
        jobs: list[Any] = []
        if ids is None:
            jobs = api.jobs(limit)
        else:
            for job_id in ids:
                try:
                    jobs.append(api.job(job_id))
                except FatalSyncError:
                    raise
                except SyncError as exc:
                    result.jobs.append(JobOutcome(job_id, "error", message=str(exc)))
        outcomes = _sync_all(api, opts, jobs, workers)
        result.jobs.extend(outcomes)
    finally:
        opts.scans.close()
        reporter.stop()
    for job in result.jobs:
        for w in job.warnings:
            log.warning("tunelog: %s", w)
        if job.action == "error":
            log.warning("tunelog: %s: %s", job.job_id, job.message)
    if result.jobs and not result.synced and not result.skipped:
        raise SyncError(" | ".join(f"{j.job_id}: {j.message}" for j in result.errors[:5]))
    return result


def _sync_one(api: FineTuneApi, opts: SyncOptions, job: Any) -> JobOutcome:
    try:
        outcome = JobSync(api, opts, job).sync()
    except FatalSyncError:
        opts.stop.set()
        raise
    except SyncError as exc:
        outcome = JobOutcome(job.id, "error", str(job.status), message=str(exc))
    opts.reporter.line(outcome.line())
    return outcome


def _sync_all(api: FineTuneApi, opts: SyncOptions, jobs: list[Any], workers: int) -> list[JobOutcome]:
    if len(jobs) <= 1 or workers <= 1:
        return [_sync_one(api, opts, job) for job in jobs]
    fatal: list[FatalSyncError] = []
    lock = threading.Lock()

    def one(job: Any) -> JobOutcome | None:
        if opts.stop.is_set():
            return JobOutcome(job.id, "skipped", str(job.status), message="sync was interrupted")
        try:
            return _sync_one(api, opts, job)
        except FatalSyncError as exc:
            with lock:
                fatal.append(exc)
            return None

    with ThreadPoolExecutor(max_workers=min(workers, len(jobs)), thread_name_prefix="tunelog-sync") as pool:
        try:
            outcomes = list(pool.map(one, jobs))
        except KeyboardInterrupt:
            opts.stop.set()  # followers record what they have and finish their runs
            raise
    if fatal:
        raise fatal[0]
    return [o for o in outcomes if o is not None]
