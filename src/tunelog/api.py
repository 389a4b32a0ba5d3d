"""The read side: ``Api().run(...)``, ``.runs(...)``, ``.artifact(...)`` — for users and the dashboard.

Also the deletes: runs, artifact versions and collections, a run's personal data (``purge``), and
garbage collection of blobs nothing references any more.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunelog.backend import Backend, backend_for
from tunelog.errors import ReferenceNotFound, UsageError
from tunelog.filters import And, Cond, parse_filter, parse_order, split_path
from tunelog.liveness import settle, settle_running
from tunelog.refs import parse_artifact_ref, parse_project_path, parse_run_path
from tunelog.settings import Settings
from tunelog.store.base import HistoryRow, RunEvent, RunKey, RunQuery, RunRecord, SpanQuery, SpanRecord

if TYPE_CHECKING:
    from tunelog.artifact import Artifact
    from tunelog.store.group_record import RunGroupPage
    from tunelog.table import Table


class HistoryRows(list[dict[str, Any]]):
    """Rows of a run's history: one dict per step with ``_step``, ``_timestamp`` and the values."""

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` of the rows (needs ``pip install pandas``)."""
        try:
            import pandas as pd
        except ImportError:
            raise UsageError("to_pandas() needs pandas: pip install 'tunelog[pandas]'.") from None
        return pd.DataFrame(list(self))


def _rows_by_step(rows: Sequence[HistoryRow]) -> Iterator[dict[str, Any]]:
    cur: dict[str, Any] | None = None
    for r in rows:
        if cur is None or cur["_step"] != r.step:
            if cur is not None:
                yield cur
            cur = {"_step": r.step, "_timestamp": r.time}
        cur[r.key] = r.value
        if r.time > cur["_timestamp"]:
            cur["_timestamp"] = r.time
    if cur is not None:
        yield cur


class ApiRun:
    """A stored run, as read back. Edit ``name``, ``tags``, ``notes``, ``group`` and call ``update()``."""

    def __init__(self, backend: Backend, record: RunRecord) -> None:
        self._backend = backend
        self._record = record
        self.name = record.name
        self.tags = list(record.tags)
        self.notes = record.notes
        self.group = record.group

    @classmethod
    def load(cls, backend: Backend, key: RunKey) -> ApiRun | None:
        rec = backend.store.get_run(key)
        return None if rec is None else cls(backend, settle(backend, rec))

    # -- fields ------------------------------------------------------------------------------------
    @property
    def key(self) -> RunKey:
        return self._record.key

    @property
    def id(self) -> str:
        return self._record.key.run_id

    @property
    def entity(self) -> str:
        return self._record.key.entity

    @property
    def project(self) -> str:
        return self._record.key.project

    @property
    def path(self) -> str:
        return str(self._record.key)

    @property
    def state(self) -> str:
        return self._record.state

    @property
    def job_type(self) -> str | None:
        return self._record.job_type

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._record.config)

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self._record.summary)

    @property
    def metadata(self) -> dict[str, Any]:
        """Where the run came from: git, command line, Python and package versions, host."""
        return dict(self._record.meta)

    @property
    def created_at(self) -> float:
        return self._record.created_at

    @property
    def updated_at(self) -> float:
        return self._record.updated_at

    @property
    def finished_at(self) -> float | None:
        return self._record.finished_at

    @property
    def heartbeat_at(self) -> float | None:
        return self._record.heartbeat_at

    @property
    def exit_code(self) -> int | None:
        return self._record.exit_code

    @property
    def last_step(self) -> int | None:
        return self._record.last_step

    @property
    def url(self) -> str:
        return self._backend.settings.run_url(self.entity, self.project, self.id)

    @property
    def record(self) -> RunRecord:
        return self._record

    def __repr__(self) -> str:
        return f"<tunelog.ApiRun {self.path} state={self.state}>"

    # -- history -----------------------------------------------------------------------------------
    def history(
        self,
        keys: Sequence[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        pandas: bool = False,
    ) -> Any:
        """All history rows (one dict per step); ``pandas=True`` returns a DataFrame."""
        rows = self._backend.store.read_history(self.key, keys=keys, min_step=min_step, max_step=max_step)
        out = HistoryRows(_rows_by_step(rows))
        return out.to_pandas() if pandas else out

    def scan_history(
        self,
        keys: Sequence[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Iterate history rows one page of steps at a time, without loading them all."""
        store, key = self._backend.store, self.key
        nkeys = max(1, len(keys) if keys else len(store.history_keys(key)))
        start = min_step
        while True:
            rows = store.read_history(
                key, keys=keys, min_step=start, max_step=max_step, limit=page_size * nkeys
            )
            if not rows:
                return
            last = rows[-1].step
            complete = len(rows) < page_size * nkeys
            if not complete:
                # The page may end inside a step: hold that step back for the next page.
                rows = [r for r in rows if r.step < last] or rows
                if rows[-1].step == last:
                    complete = True
            yield from _rows_by_step(rows)
            if complete:
                return
            start = rows[-1].step + 1

    def history_keys(self) -> list[str]:
        return self._backend.store.history_keys(self.key)

    def logged_table(self, key: str, step: int | None = None) -> Table:
        """A table logged with ``run.log({key: table})`` (the last one, or the one at ``step``)."""
        from tunelog.table import TableReader

        rows = [
            r
            for r in self._backend.store.read_history(self.key, keys=[key])
            if isinstance(r.value, dict) and r.value.get("_type") == "table-ref"
        ]
        if step is not None:
            rows = [r for r in rows if r.step == step]
        if not rows:
            raise ReferenceNotFound(
                f"Run {self.path} logged no table under {key!r}"
                + (f" at step {step}." if step is not None else ".")
            )
        return TableReader(self._backend.blobs, rows[-1].value["sha256"]).to_table()  # type: ignore[no-any-return]

    def events(self, limit: int | None = None, offset: int = 0) -> list[RunEvent]:
        """The run's events (for a fine-tune: the job's events), oldest first."""
        return self._backend.store.read_events(self.key, limit=limit, offset=offset)

    def spans(self, **query: Any) -> list[SpanRecord]:
        """The run's recorded calls, newest first; keywords as :class:`~tunelog.store.base.SpanQuery`."""
        return self._backend.store.list_spans(self.entity, self.project, SpanQuery(run=self.key, **query))

    # -- artifacts ---------------------------------------------------------------------------------
    def logged_artifacts(self) -> list[Artifact]:
        return [_bound(self._backend, v) for v in self._backend.store.versions_logged_by(self.key)]

    def used_artifacts(self) -> list[Artifact]:
        return [_bound(self._backend, v) for v in self._backend.store.versions_used_by(self.key)]

    # -- edits -------------------------------------------------------------------------------------
    def update(self) -> None:
        """Save changes made to ``name``, ``tags``, ``notes`` and ``group``."""
        self._backend.store.update_run(
            self.key,
            {
                "name": self.name,
                "tags": list(dict.fromkeys(self.tags)),
                "notes": self.notes,
                "group": self.group,
                "updated_at": time.time(),
            },
        )
        rec = self._backend.store.get_run(self.key)
        if rec is not None:
            self._record = rec

    def delete(self, purge: bool = False) -> None:
        """Delete the run and its history. ``purge=True`` also deletes the artifact versions it logged
        and collects blobs nothing references any more (personal data removal)."""
        store = self._backend.store
        if purge:
            for v in store.versions_logged_by(self.key):
                store.delete_version(v.id)
        store.delete_run(self.key)
        if purge:
            collect_garbage(self._backend)


def _bound(backend: Backend, version: Any) -> Artifact:
    from tunelog.artifact import Artifact

    art = Artifact.__new__(Artifact)
    Artifact.__init__(art, version.collection.name, version.collection.type)
    art._bind(backend, version)
    return art


@dataclass(frozen=True)
class GcReport:
    deleted: int
    freed_bytes: int
    kept: int


def collect_garbage(backend: Backend, grace_seconds: float = 0.0) -> GcReport:
    """Delete blobs that no artifact version or run references.

    Blobs touched in the last ``grace_seconds`` are spared: another process may have just stored
    (or re-found) one and not yet committed the row that references it."""
    keep = backend.store.referenced_blobs()
    deleted = freed = kept = 0
    now = time.time()
    for sha in list(backend.blobs.iter_shas()):
        if sha in keep:
            kept += 1
            continue
        local = backend.blobs.local_path(sha) if grace_seconds else None
        if local is not None and now - local.stat().st_mtime < grace_seconds:
            kept += 1
            continue
        try:
            size = backend.blobs.size(sha)
            backend.blobs.delete(sha)
        except FileNotFoundError:
            continue
        deleted += 1
        freed += size
    return GcReport(deleted, freed, kept)


class Api:
    """Read (and tidy) what tunelog stored.

    Args:
        dir: the data directory (default ``TUNELOG_DIR``, else the per-user default).
        entity: the default entity for paths that leave it out.
    """

    def __init__(
        self,
        dir: str | None = None,
        entity: str | None = None,
        *,
        settings: Settings | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        ov = dict(overrides or {})
        self.settings = settings or Settings.resolve(dir=dir, entity=entity or ov.get("entity"))
        self._backend = backend_for(self.settings)

    @property
    def default_entity(self) -> str:
        return self.settings.entity

    @property
    def backend(self) -> Backend:
        return self._backend

    def flush(self) -> None:
        self._backend.writer.flush()

    # -- runs --------------------------------------------------------------------------------------
    def run(self, path: str) -> ApiRun:
        """A run by ``[entity/]project/run_id``."""
        p = parse_run_path(path, entity=self.settings.entity)
        run = ApiRun.load(self._backend, RunKey(p.entity, p.project, p.run_id))
        if run is None:
            raise ReferenceNotFound(
                f"No run {p.run_id!r} in {p.entity}/{p.project}. List runs with "
                f"tunelog.Api().runs({f'{p.entity}/{p.project}'!r})."
            )
        return run

    def runs(
        self,
        path: str | None = None,
        filters: Mapping[str, Any] | None = None,
        order: str | None = "-created_at",
        per_page: int | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ApiRun]:
        """Runs of a project matching ``filters`` (see :mod:`tunelog.filters`), sorted by ``order``
        (``"-created_at"``, ``"+summary.loss"``, ``"config.lr"`` …)."""
        entity, project = parse_project_path(path, entity=self.settings.entity)
        q = RunQuery(filter=parse_filter(filters), order=parse_order(order), limit=limit, offset=offset)
        return [
            ApiRun(self._backend, settle(self._backend, r))
            for r in self._backend.store.list_runs(entity, project, q)
        ]

    def count_runs(self, path: str, filters: Mapping[str, Any] | None = None) -> int:
        entity, project = parse_project_path(path, entity=self.settings.entity)
        return self._backend.store.count_runs(entity, project, parse_filter(filters))

    # -- spans -------------------------------------------------------------------------------------
    def spans(self, path: str, run: str | None = None, **query: Any) -> list[SpanRecord]:
        """Recorded calls of a project (or of one run id in it), newest first. Keywords as
        :class:`~tunelog.store.base.SpanQuery`: ``trace_id``, ``model``, ``status``, ``text``,
        ``start_after``, ``start_before``, ``before`` (keyset cursor), ``limit``."""
        entity, project = parse_project_path(path, entity=self.settings.entity)
        key = RunKey(entity, project, run) if run else None
        return self._backend.store.list_spans(entity, project, SpanQuery(run=key, **query))

    def span(self, path: str, span_id: str) -> SpanRecord:
        entity, project = parse_project_path(path, entity=self.settings.entity)
        found = self._backend.store.get_span(entity, project, span_id)
        if found is None:
            raise ReferenceNotFound(f"No span {span_id!r} in {entity}/{project}.")
        return found

    def projects(self, entity: str | None = None) -> list[tuple[str, str]]:
        return self._backend.store.list_projects(entity)

    def delete_run(self, path: str, purge: bool = False) -> None:
        self.run(path).delete(purge=purge)

    # -- artifacts ---------------------------------------------------------------------------------
    def artifact(self, ref: str, type: str | None = None) -> Artifact:
        """An artifact version by ``[[entity/]project/]name[:alias_or_version]``."""
        from tunelog.artifact import resolve_artifact

        project = None
        if ref.count("/") == 0:
            raise UsageError(
                f"Api.artifact needs a project: write 'project/{ref}' or 'entity/project/{ref}'."
            )
        return resolve_artifact(self._backend, ref, entity=self.settings.entity, project=project, type=type)

    def artifact_versions(self, ref: str, type: str | None = None) -> list[Artifact]:
        """Every version of a collection ``[entity/]project/name``, oldest first."""
        r = parse_artifact_ref(ref.split(":")[0], entity=self.settings.entity, project=None)
        versions = self._backend.store.list_versions(r.entity, r.project, r.name)
        if not versions:
            raise ReferenceNotFound(f"No artifact named {r.name!r} in {r.entity}/{r.project}.")
        if type is not None and versions[0].collection.type != type:
            raise UsageError(f"Artifact {r.name!r} has type {versions[0].collection.type!r}, not {type!r}.")
        return [_bound(self._backend, v) for v in versions]

    def artifact_collections(self, path: str, type: str | None = None) -> list[Any]:
        entity, project = parse_project_path(path, entity=self.settings.entity)
        return self._backend.store.list_collections(entity, project, type)

    def delete_artifact(self, ref: str) -> None:
        """Delete one version (``project/name:v1``) or, without ``:``, the whole collection."""
        if ":" in ref:
            self.artifact(ref).delete()
            return
        r = parse_artifact_ref(ref, entity=self.settings.entity, project=None)
        if self._backend.store.get_collection(r.entity, r.project, r.name) is None:
            raise ReferenceNotFound(f"No artifact named {r.name!r} in {r.entity}/{r.project}.")
        self._backend.store.delete_collection(r.entity, r.project, r.name)

    def collect_garbage(self, grace_seconds: float = 0.0) -> GcReport:
        """Delete blobs no artifact version or run references any more (sparing those touched in
        the last ``grace_seconds``, when other processes may be logging at the same time)."""
        self._backend.writer.flush()
        return collect_garbage(self._backend, grace_seconds)

    # -- dashboard reads and records (used by tunelog.web; plain Python too) ------------------------
    def project_stats(self, entity: str | None = None) -> list[Any]:
        """Every project with its run and artifact counts and last activity (``ProjectStats``).

        A run counted as running whose process is gone is marked crashed first, as when it is read."""
        stats = self._backend.store.project_stats(entity)
        out = []
        for s in stats:
            gone = settle_running(self._backend, s.entity, s.project) if s.running else 0
            out.append(dataclasses.replace(s, running=s.running - gone) if gone else s)
        return out

    def runs_page(
        self,
        path: str,
        filters: Mapping[str, Any] | None = None,
        order: str | None = "-created_at",
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[ApiRun], str | None]:
        """One page of :meth:`runs` and the cursor of the next page (``None`` after the last)."""
        entity, project = parse_project_path(path, entity=self.settings.entity)
        if cursor is None:  # a dead process's run reads as crashed, to filters and sorts too
            settle_running(self._backend, entity, project)
        page = self._backend.store.list_runs_page(
            entity, project, parse_filter(filters), parse_order(order), cursor, limit
        )
        runs = [ApiRun(self._backend, settle(self._backend, r)) for r in page.runs]
        return runs, page.next_cursor

    def run_groups(
        self,
        path: str,
        group: str,
        filters: Mapping[str, Any] | None = None,
        columns: Sequence[str] = (),
        order: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> RunGroupPage:
        """Runs matching ``filters`` grouped by ``group`` (``job_type``, ``config.…`` …) over all of
        them, in the store: each group's value, run count and mean/min/max of each of ``columns``,
        sorted by their mean of ``order`` if it is one of ``columns``, else by value (``RunGroupPage``)."""
        entity, project = parse_project_path(path, entity=self.settings.entity)
        by = parse_order(order) if order else None
        f = parse_filter(filters)
        return self._backend.store.group_runs(entity, project, f, group, list(columns), by, limit, offset)

    def group_runs_page(
        self,
        path: str,
        group: str,
        value: Any,
        filters: Mapping[str, Any] | None = None,
        order: str | None = "-created_at",
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[ApiRun], str | None]:
        """One page of the runs of one group of :meth:`run_groups` (those whose ``group`` is
        ``value``; ``None``: those without it) and the cursor of the next page."""
        entity, project = parse_project_path(path, entity=self.settings.entity)
        field, key_path = split_path(group)
        if field == "tags":
            raise UsageError("Cannot group runs by tags (a run has several); filter with 'tags' instead.")
        member = Cond(field, key_path, "$eq", value)
        base = parse_filter(filters)
        both = member if base is None else And((base, member))
        page = self._backend.store.list_runs_page(entity, project, both, parse_order(order), cursor, limit)
        return [ApiRun(self._backend, settle(self._backend, r)) for r in page.runs], page.next_cursor

    def _run_key(self, path: str) -> RunKey:
        p = parse_run_path(path, entity=self.settings.entity)
        return RunKey(p.entity, p.project, p.run_id)

    def project_keys(self, path: str, limit: int = 500) -> list[str]:
        """Every config and summary key the project's runs have (``config.a.b``, ``summary.x``)."""
        entity, project = parse_project_path(path, entity=self.settings.entity)
        return self._backend.store.project_keys(entity, project, limit)

    def metric_keys(self, run_path: str) -> list[Any]:
        """A run's history keys with their numeric point counts (``MetricKeyInfo``)."""
        return self._backend.store.metric_keys(self._run_key(run_path))

    def metric(
        self,
        run_path: str,
        key: str,
        max_points: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Any:
        """A metric of a run for charting, downsampled to ``max_points`` buckets (``MetricSeries``)."""
        return self._backend.store.read_metric(self._run_key(run_path), key, max_points, min_step, max_step)

    def run_table(self, run_path: str, key: str, step: int | None = None) -> Any:
        """A paging reader (``columns``, ``nrows``, ``page``, ``search``) over a table a run logged."""
        from tunelog.table import TableReader

        rows = [
            r
            for r in self._backend.store.read_history(self._run_key(run_path), keys=[key])
            if isinstance(r.value, dict) and r.value.get("_type") == "table-ref"
        ]
        if step is not None:
            rows = [r for r in rows if r.step == step]
        if not rows:
            raise ReferenceNotFound(f"Run {run_path} logged no table under {key!r}.")
        return TableReader(self._backend.blobs, rows[-1].value["sha256"])

    def span_stats(
        self,
        path: str,
        run: str | None = None,
        start_after: float | None = None,
        start_before: float | None = None,
        buckets: int = 60,
    ) -> list[Any]:
        """Calls, tokens, cost and errors per time bucket and model (``SpanStat``)."""
        entity, project = parse_project_path(path, entity=self.settings.entity)
        key = RunKey(entity, project, run) if run else None
        return self._backend.store.span_stats(entity, project, key, start_after, start_before, buckets)

    def views(self, path: str) -> list[Any]:
        entity, project = parse_project_path(path, entity=self.settings.entity)
        return self._backend.store.list_views(entity, project)

    def view(self, path: str, name: str) -> Any:
        entity, project = parse_project_path(path, entity=self.settings.entity)
        found = self._backend.store.get_view(entity, project, name)
        if found is None:
            raise ReferenceNotFound(f"No saved view {name!r} in {entity}/{project}.")
        return found

    def save_view(self, path: str, name: str, spec: Mapping[str, Any]) -> Any:
        entity, project = parse_project_path(path, entity=self.settings.entity)
        if not name.strip():
            raise UsageError("A saved view needs a name.")
        return self._backend.store.save_view(entity, project, name.strip(), spec)

    def delete_view(self, path: str, name: str) -> None:
        entity, project = parse_project_path(path, entity=self.settings.entity)
        self._backend.store.delete_view(entity, project, name)

    def reports(self, path: str) -> list[Any]:
        entity, project = parse_project_path(path, entity=self.settings.entity)
        return self._backend.store.list_reports(entity, project)

    def report(self, path: str, report_id: int) -> Any:
        entity, project = parse_project_path(path, entity=self.settings.entity)
        found = self._backend.store.get_report(entity, project, report_id)
        if found is None:
            raise ReferenceNotFound(f"No report {report_id} in {entity}/{project}.")
        return found

    def save_report(
        self, path: str, title: str, body: Mapping[str, Any], report_id: int | None = None
    ) -> Any:
        """Create a report, or replace report ``report_id``'s title and body (``ReportRecord``)."""
        entity, project = parse_project_path(path, entity=self.settings.entity)
        return self._backend.store.save_report(
            entity, project, title.strip() or "Untitled report", body, report_id
        )

    def delete_report(self, path: str, report_id: int) -> None:
        entity, project = parse_project_path(path, entity=self.settings.entity)
        self._backend.store.delete_report(entity, project, report_id)
