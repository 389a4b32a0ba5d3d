"""One fine-tuning job → one run: config, history, summary, events, checkpoints, dataset and model artifacts.

The order of work keeps the store clean: for a job that has ended, everything is read from the API
first (result file, events, files), and only then is the run opened and written, so a job whose
result file is missing or unreadable leaves nothing behind. A large dataset file is scanned by a
worker process (:mod:`.scan_pool`) while the run's history is written; its artifact, and the run's
``n_train``/``n_valid``, come last. A job still running is followed live
(metric events into the history under the result file's column names), and at the end the result
file is written over those steps with ``run.rewrite``, so no step appears twice.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from tunelog import liveness
from tunelog.artifact import Artifact
from tunelog.backend import Backend, backend_for
from tunelog.errors import RunExistsError
from tunelog.integration.openai import datasets, results, training_prices
from tunelog.integration.openai.openai_client import FineTuneApi, SyncError
from tunelog.integration.openai.progress import Reporter, Silent
from tunelog.integration.openai.scan_pool import PendingScan, ScanPool
from tunelog.runs import Run
from tunelog.settings import Settings
from tunelog.store.base import RunKey, VersionRecord
from tunelog.table import Table

log = logging.getLogger("tunelog")

TERMINAL = ("succeeded", "failed", "cancelled")
FAILED = ("failed", "cancelled")
_TIME_FIELDS = ("created_at", "finished_at", "estimated_finish")
_WARNINGS_PER_FILE = 5


@dataclass
class SyncOptions:
    """How jobs are synced (see ``FineTuneLogger.sync`` for each)."""

    settings: Settings
    project: str
    overwrite: bool = False
    wait: bool = True
    poll_interval: float = 60.0
    timeout: float | None = None
    log_datasets: bool = True
    model_artifact_name: str = "model-metadata"
    model_artifact_type: str = "model"
    init: dict[str, Any] = field(default_factory=dict)  # name, job_type, tags, notes, group, config
    training_prices: Mapping[str, float] | None = None
    reporter: Reporter = field(default_factory=Silent)
    stop: threading.Event = field(default_factory=threading.Event)
    scans: ScanPool = field(default_factory=ScanPool)


@dataclass
class JobOutcome:
    """What happened to one job: ``action`` is ``synced``, ``skipped`` or ``error``."""

    job_id: str
    action: str
    status: str | None = None
    run: str | None = None
    url: str | None = None
    artifacts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    message: str | None = None
    complete: bool = False

    def line(self) -> str:
        head = {"synced": "synced ", "skipped": "skipped", "error": "FAILED "}.get(self.action, self.action)
        where = f" → {self.url}" if self.url and self.action == "synced" else ""
        status = f" [{self.status}]" if self.status else ""
        why = f": {self.message}" if self.message else ""
        return f"{head} {self.job_id}{status}{where}{why}"


@dataclass
class _Dataset:
    role: str  # "train" or "valid"
    file_id: str
    filename: str | None
    existing: VersionRecord | None = None
    path: Path | None = None
    stats: datasets.DatasetStats | None = None
    pending: PendingScan | None = None  # being scanned by the worker process
    info: dict[str, Any] | None = None
    size: int | None = None
    in_worker: bool = False  # scanned by the worker process (else as it downloads)
    used: bool = False

    @property
    def name(self) -> str:
        return f"{self.role}-{self.file_id}"

    @property
    def type(self) -> str:
        return "training_files" if self.role == "train" else "validation_files"

    @property
    def examples(self) -> int | None:
        if self.stats is not None:
            return self.stats.examples
        meta = self.existing.metadata if self.existing is not None else {}
        n = meta.get("examples")
        return int(n) if isinstance(n, int) else None


def iso(ts: Any) -> str | None:
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def job_dict(job: Any) -> dict[str, Any]:
    """The job as plain JSON, every field kept (``model_dump`` of the SDK object)."""
    data = job.model_dump(mode="json") if hasattr(job, "model_dump") else dict(job)
    clean: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return clean


def _method_type(data: Mapping[str, Any]) -> str:
    method = data.get("method")
    if isinstance(method, dict) and isinstance(method.get("type"), str):
        return str(method["type"])
    return "supervised"


def _checkpoint_metrics(checkpoint: Any) -> dict[str, Any]:
    """A checkpoint's metrics under the result file's column names (``train_mean_token_accuracy`` is
    ``train_accuracy``, as in the history), so the table and the charts name each series once."""
    m = checkpoint.metrics.model_dump(exclude_none=True) if checkpoint.metrics else {}
    return {results.EVENT_TO_COLUMN.get(k, k): v for k, v in m.items() if k != "step"}


def _safe_filename(name: str | None, file_id: str) -> str:
    base = PurePosixPath(str(name or "").replace("\\", "/")).name
    base = "".join(c if c.isalnum() or c in "._-" else "-" for c in base).strip(".-")
    return base or f"{file_id}.jsonl"


class _InUse(Exception):
    """Another process opened the job's run first: the job is skipped, as when it was open before."""


class JobSync:
    """Syncs one job; :meth:`sync` returns its :class:`JobOutcome` (SyncError for what failed)."""

    def __init__(self, api: FineTuneApi, opts: SyncOptions, job: Any) -> None:
        self.api = api
        self.opts = opts
        self.job = job
        self.data = job_dict(job)
        settings = opts.settings
        self.key = RunKey(settings.entity, opts.project, job.id)
        self.backend: Backend = backend_for(settings)
        self.warnings: list[str] = []
        self.artifacts: list[str] = []
        self.seen_events: set[str] = set()
        self.step: int | None = None
        self.total: int | None = None
        self.loss: float | None = None
        self._tmp: Path | None = None

    @property
    def status(self) -> str:
        return str(self.job.status)

    # -- the whole job ------------------------------------------------------------------------------
    def sync(self) -> JobOutcome:
        skip = self._skip_reason()
        if skip is not None:
            return JobOutcome(self.job.id, "skipped", self.status, str(self.key), None, message=skip)
        try:
            return self._sync()
        except _InUse as busy:  # another sync opened the run between our check and our open
            return JobOutcome(self.job.id, "skipped", self.status, str(self.key), None, message=str(busy))
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)

    def _sync(self) -> JobOutcome:
        ended = self.status in TERMINAL
        files = {fid: self.api.file_info(fid) for fid in self._file_ids()}
        sets = self._plan_datasets(files)  # starts the scan worker early if a large file is coming
        result = self._read_result() if ended else None
        for ds in sets:
            if ds.existing is None and self.opts.log_datasets:
                self._download(ds)
        events = self.api.events(self.job.id)
        run, owned = self._open_run()
        error: SyncError | None = None
        complete = False
        try:
            self._write_config(run, files, sets)
            self._log_events(run, events)
            if not ended and self.opts.wait:
                self._use_datasets(run, sets)  # visible while the job trains
                self._follow(run)
                ended = self.status in TERMINAL
                if ended:
                    try:
                        result = self._read_result()
                    except SyncError as exc:
                        error = exc
            if result is not None:
                for step, values in result.rows:
                    run.rewrite(step, values)
            self._log_checkpoints(run, result)
            self._write_summary(run, result)
            self._log_model(run)
            self._use_datasets(run, sets)  # waits for the scans of large files, done meanwhile
            run.config.update(self._example_counts(sets))
            complete = ended and error is None
            run.summary["sync"] = {
                "complete": complete,
                "synced_at": iso(time.time()),
                "error": None if error is None else str(error),
            }
        finally:
            if owned:
                run.finish(exit_code=1 if self.status in FAILED else None)
        if error is not None:
            raise error
        if not ended:
            self.warnings.append(
                f"{self.job.id} is still {self.status}: recorded as it stands; "
                "run sync again to bring it up to date"
            )
        return JobOutcome(
            self.job.id,
            "synced",
            self.status,
            run.path,
            run.url,
            self.artifacts,
            self.warnings,
            complete=complete,
        )

    # -- before the run -----------------------------------------------------------------------------
    def _skip_reason(self) -> str | None:
        from tunelog.session import process

        rec = self.backend.store.get_run(self.key)
        if rec is None or self.key in process().live:
            return None
        if rec.state == "running" and not liveness.is_crashed(
            rec.state, rec.host, rec.pid, rec.pid_start, rec.heartbeat_at
        ):
            return (
                f"its run {self.key} is open in another process (pid {rec.pid} on {rec.host}), which "
                "is syncing or using it; run sync again when that process ends"
            )
        done = rec.summary.get("sync")
        if not self.opts.overwrite and isinstance(done, dict) and done.get("complete"):
            return "already synced; pass overwrite=True (--overwrite) to sync it again"
        return None

    def _file_ids(self) -> list[str]:
        return [f for f in (self.job.training_file, self.job.validation_file) if isinstance(f, str) and f]

    def _read_result(self) -> results.ResultFile | None:
        ids = [f for f in (self.job.result_files or []) if f]
        if not ids:
            return None
        fid = ids[0]
        what = f"downloading result file {fid} of job {self.job.id}"
        content = self.api.content(fid, what)
        try:
            return results.parse(content)
        except results.ResultFileError as exc:
            raise SyncError(
                f"Result file {fid} of job {self.job.id} cannot be read: {exc}. Nothing was synced for this "
                "job; run sync again later, and if it persists report the job to OpenAI (sync with "
                "wait_for_job_success=False records its events meanwhile)."
            ) from None

    def _plan_datasets(self, files: Mapping[str, Any]) -> list[_Dataset]:
        """The job's datasets, each with its artifact if an earlier sync logged the file already.

        With ``log_datasets=False`` only those earlier artifacts are looked up (for ``n_train`` and
        ``n_valid``): nothing is downloaded.
        """
        out: list[_Dataset] = []
        pairs = (("train", self.job.training_file), ("valid", self.job.validation_file))
        for role, fid in pairs:
            if not fid or any(d.file_id == fid and d.role == role for d in out):
                continue
            info = files.get(fid)
            filename = getattr(info, "filename", None)
            ds = _Dataset(role, fid, filename)
            ds.existing = self.backend.store.get_version(self.key.entity, self.key.project, ds.name, fid)
            if ds.existing is None and self.opts.log_datasets:
                if info is None:
                    self.warnings.append(
                        f"{self.job.id}: {role} file {fid} no longer exists at the API; "
                        "its dataset is not logged"
                    )
                    continue
                ds.info = job_dict(info)
                size = ds.info.get("bytes")
                ds.size = size if isinstance(size, int) else None
            out.append(ds)
        new = [d for d in out if d.info is not None]
        if any(self.opts.scans.wants(d.size) for d in new):
            # all of the job's files then, so the main process never loads a tokenizer (80 MB)
            self.opts.scans.warm(self.job.model)
            for d in new:
                d.in_worker = True
        return out

    def _label(self, ds: _Dataset) -> str:
        word = "training" if ds.role == "train" else "validation"
        return f"{self.job.id}: {word} file {ds.file_id} ({ds.filename or 'unnamed'})"

    def _download(self, ds: _Dataset) -> None:
        """Store the file as a blob; scan it as it downloads, or (a large one) in the worker after."""
        label = self._label(ds)
        blobs = self.backend.blobs
        method = _method_type(self.data)
        in_worker = ds.in_worker

        def consume(chunks: Iterator[bytes]) -> tuple[str, datasets.DatasetStats | None]:
            if in_worker:
                return blobs.put_stream(chunks)[0], None
            scanner = datasets.DatasetScanner(self.job.model, method, label)

            def tee() -> Iterator[bytes]:
                for chunk in chunks:
                    scanner.feed(chunk)
                    yield chunk

            sha, _size = blobs.put_stream(tee())
            return sha, scanner.finish()

        sha, stats = self.api.download(ds.file_id, f"downloading the {label}", consume)
        local = blobs.local_path(sha)
        if local is None:  # a blob store without local files: hand the artifact a temporary copy
            self._tmp = self._tmp or Path(tempfile.mkdtemp(prefix="tunelog-sync-"))
            local = self._tmp / f"{ds.file_id}.jsonl"
            with blobs.open(sha) as src, open(local, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        ds.path = local
        if stats is None:
            ds.pending = self.opts.scans.scan(local, self.job.model, method, label)
        else:
            self._scanned(ds, stats)

    def _scanned(self, ds: _Dataset, stats: datasets.DatasetStats) -> None:
        ds.stats, ds.pending = stats, None
        shown = stats.warnings[:_WARNINGS_PER_FILE]
        self.warnings.extend(shown)
        if stats.warning_count > len(shown):
            self.warnings.append(
                f"{self._label(ds)}: {stats.warning_count - len(shown)} more warning(s) in the metadata "
                f"of artifact {ds.name}"
            )

    # -- the run ------------------------------------------------------------------------------------
    def _open_run(self) -> tuple[Run, bool]:
        """The run to write: the user's own open run with this id (never finished here), else ours."""
        from tunelog.session import init as start_run
        from tunelog.session import process

        mine = process().live.get(self.key)
        if mine is not None and not mine.finished:
            return mine, False
        opts = self.opts.init
        existed = self.backend.store.get_run(self.key) is not None
        settings = self.opts.settings
        try:
            run = start_run(
                project=self.opts.project,
                entity=settings.entity,
                name=opts.get("name") or (None if existed else self.job.id),
                id=self.job.id,
                job_type=opts.get("job_type") or (None if existed else "fine-tune"),
                tags=opts.get("tags"),
                notes=opts.get("notes"),
                group=opts.get("group"),
                resume="allow",
                dir=str(settings.dir),
                mode=settings.mode,
                reinit="create_new",
            )
        except RunExistsError:
            raise _InUse(
                f"its run {self.key} was opened by another process while this sync prepared it; "
                "run sync again when that process ends"
            ) from None
        return run, True

    def _example_counts(self, sets: list[_Dataset]) -> dict[str, int | None]:
        """``n_train``/``n_valid``: from this sync's scans, or the artifact of an earlier sync (None
        with ``log_datasets=False`` for a file never logged: counting would mean downloading it)."""
        by_role = {d.role: d for d in sets}
        train, valid = by_role.get("train"), by_role.get("valid")
        return {"n_train": train.examples if train else None, "n_valid": valid.examples if valid else None}

    def _write_config(self, run: Run, files: Mapping[str, Any], sets: list[_Dataset]) -> None:
        cfg = dict(self.data)
        for name in _TIME_FIELDS:
            if name in cfg:
                cfg[name] = iso(cfg[name])
        cfg.update(
            method_type=_method_type(self.data),
            base_model=self.job.model,
            training_file_name=getattr(files.get(self.job.training_file or ""), "filename", None),
            validation_file_name=getattr(files.get(self.job.validation_file or ""), "filename", None),
            **self._example_counts(sets),  # a large file's counts come once its scan is done
        )
        cfg.update(self.opts.init.get("config") or {})
        if self.opts.overwrite:
            for stale in [k for k in run.config if k not in cfg]:
                del run.config[stale]
        run.config.update(cfg)

    def _use_datasets(self, run: Run, sets: list[_Dataset]) -> None:
        if not self.opts.log_datasets:
            return
        for ds in sets:
            if ds.used:
                continue
            ds.used = True
            if ds.existing is not None:
                art = run.use_artifact(f"{ds.name}:{ds.file_id}")
            else:
                if ds.pending is not None:
                    self._scanned(ds, ds.pending.result())
                assert ds.path is not None and ds.stats is not None  # set by _download
                fname = _safe_filename(ds.filename, ds.file_id)
                info = ds.info or {}
                meta = {
                    "file_id": ds.file_id,
                    "filename": ds.filename,
                    "purpose": info.get("purpose"),
                    "created_at": iso(info.get("created_at")),
                    "base_model": self.job.model,
                    **ds.stats.metadata(),
                }
                art = Artifact(ds.name, ds.type, f"{ds.type.replace('_', ' ')} {ds.file_id}", meta)
                art.add_file(ds.path, name=fname)
                art.add_source_table(
                    datasets.TABLE_NAME, fname, datasets.table_columns(self.job.model), datasets.TRANSFORM
                )
                run.use_artifact(art, aliases=["latest", ds.file_id])
                if not art.is_logged:
                    raise SyncError(
                        f"Could not store the dataset of file {ds.file_id} (job {self.job.id}); see the "
                        "warning above (is the data directory writable, with free space?)."
                    )
            self.artifacts.append(art.qualified_name)

    def _log_events(self, run: Run, events: list[Any]) -> None:
        for ev in events:
            if ev.id in self.seen_events:
                continue
            self.seen_events.add(ev.id)
            data = ev.data.model_dump() if hasattr(ev.data, "model_dump") else ev.data
            data = data if isinstance(data, dict) else ({"value": data} if data is not None else {})
            kind = getattr(ev, "type", None) or "message"
            run.log_event(
                ev.message,
                level=str(ev.level),
                time=float(ev.created_at),
                data={"type": kind, **data},
                id=ev.id,
            )
            if kind == "metrics":
                step, total, metrics = results.event_metrics(data)
                if step is not None and metrics:
                    run.rewrite(step, metrics)
                    self.step, self.total = step, total or self.total
                    self.loss = metrics.get("train_loss", self.loss)

    def _follow(self, run: Run) -> None:
        """Poll the job until it ends (or the timeout, or an interrupt), logging as it goes."""
        started = time.monotonic()
        reporter = self.opts.reporter
        while True:
            reporter.job(self.job.id, self.status, self.step, self.total, self.loss)
            if self.status in TERMINAL:
                return
            if self.opts.timeout is not None and time.monotonic() - started >= self.opts.timeout:
                self.warnings.append(
                    f"{self.job.id}: stopped following after the {self.opts.timeout:g} s timeout"
                )
                return
            if self.opts.stop.wait(self.opts.poll_interval):
                return
            self.job = self.api.job(self.job.id)
            self.data = job_dict(self.job)
            self._log_events(run, self.api.events(self.job.id, self.seen_events))
            run.summary["status"] = self.status

    def _log_checkpoints(self, run: Run, result: results.ResultFile | None) -> None:
        items = self.api.checkpoints(self.job.id)
        if not items:
            return
        rows = [_checkpoint_metrics(c) for c in items]
        names = sorted({k for m in rows for k in m})
        table = Table(
            columns=["step", "checkpoint_model", "created_at", "id", *names], allow_mixed_types=True
        )
        for c, m in zip(items, rows, strict=True):
            table.add_data(
                c.step_number,
                c.fine_tuned_model_checkpoint,
                iso(c.created_at),
                c.id,
                *(m.get(n) for n in names),
            )
        at = max(result.last_step or 0 if result else 0, self.step or 0, items[-1].step_number)
        run.rewrite(at, {"checkpoints": table})
        run.summary["checkpoints"] = [c.fine_tuned_model_checkpoint for c in items]

    def _write_summary(self, run: Run, result: results.ResultFile | None) -> None:
        job = self.job
        cost = training_prices.estimate(
            job.model, job.trained_tokens, _method_type(self.data), self.opts.training_prices
        )
        created, finished = job.created_at, job.finished_at
        error = self.data.get("error")
        run.summary.update(
            status=self.status,
            fine_tuned_model=job.fine_tuned_model,
            trained_tokens=job.trained_tokens,
            steps=(result.last_step if result else None) or self.total or self.step,
            created_at=iso(created),
            finished_at=iso(finished),
            duration_seconds=(finished - created) if finished and created else None,
            estimated_cost_usd=cost.usd,
            training_price_usd_per_1m_tokens=cost.usd_per_1m_tokens,
            cost_note=cost.note,
            error=error if isinstance(error, dict) and (error.get("code") or error.get("message")) else None,
            result_file=(job.result_files or [None])[0],
        )

    def _log_model(self, run: Run) -> None:
        if not self.job.fine_tuned_model:
            return
        meta = self.data
        art = Artifact(
            self.opts.model_artifact_name,
            self.opts.model_artifact_type,
            f"Fine-tuned model {self.job.fine_tuned_model} (job {self.job.id})",
            meta,
        )
        with art.new_file("model_metadata.json", "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
        run.log_artifact(art, aliases=["latest", self.job.id])
        if not art.is_logged:
            raise SyncError(
                f"Could not store the model artifact of job {self.job.id}; see the warning above (is "
                "the data directory writable, with free space?)."
            )
        self.artifacts.append(art.qualified_name)
