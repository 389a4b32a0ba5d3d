"""The Store Protocol: everything tunelog persists, behind one small typed interface.

``Run``, ``Artifact`` and ``Api`` speak only this Protocol, so an HTTP client (the team server) or
PostgreSQL can stand behind it without touching them. JSON columns travel as Python dicts/lists.
Every method that writes more than one row is one transaction.

Records are immutable: NamedTuples for what starting and logging a run needs (cheap to define at
import and to build), frozen dataclasses for spans (:mod:`tunelog.store.span_record`) and for
artifacts and the dashboard (:mod:`tunelog.store.records`). Those live in their own modules, which
this one re-exports on first use, so ``tunelog.init`` never pays to define them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from tunelog.filters import Filter, Order
    from tunelog.store.group_record import RunGroupPage
    from tunelog.store.records import CollectionRecord as CollectionRecord
    from tunelog.store.records import MetricKeyInfo as MetricKeyInfo
    from tunelog.store.records import MetricSeries as MetricSeries
    from tunelog.store.records import NewVersion as NewVersion
    from tunelog.store.records import ProjectStats as ProjectStats
    from tunelog.store.records import ReportRecord as ReportRecord
    from tunelog.store.records import RunPage as RunPage
    from tunelog.store.records import SavedView as SavedView
    from tunelog.store.records import SpanStat as SpanStat
    from tunelog.store.records import VersionRecord as VersionRecord
    from tunelog.store.span_record import SpanRecord as SpanRecord

# Re-exported lazily (PEP 562): the name → the module that defines it.
_ELSEWHERE = {
    "SpanRecord": "tunelog.store.span_record",
    **dict.fromkeys(
        (
            "CollectionRecord",
            "VersionRecord",
            "NewVersion",
            "ProjectStats",
            "RunPage",
            "MetricKeyInfo",
            "MetricSeries",
            "SpanStat",
            "SavedView",
            "ReportRecord",
        ),
        "tunelog.store.records",
    ),
}


def __getattr__(name: str) -> Any:
    module = _ELSEWHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(__import__(module, fromlist=[name]), name)  # importlib costs ~1 ms to import
    globals()[name] = value  # later lookups skip this function
    return value


RUN_STATES = ("running", "finished", "failed", "crashed")


class RunKey(NamedTuple):
    entity: str
    project: str
    run_id: str

    def __str__(self) -> str:
        return f"{self.entity}/{self.project}/{self.run_id}"


# The one empty mapping every RunRecord built without config/summary/meta shares: a NamedTuple
# default is a single object, so it must never be mutated (the fields are typed read-only Mapping).
_NO_VALUES: Mapping[str, Any] = {}


class RunRecord(NamedTuple):
    """A run as stored. Times are UNIX seconds (float). Copy with changes: ``record._replace(...)``."""

    key: RunKey
    name: str
    state: str = "running"
    job_type: str | None = None
    group: str | None = None
    notes: str | None = None
    tags: tuple[str, ...] = ()
    config: Mapping[str, Any] = _NO_VALUES
    summary: Mapping[str, Any] = _NO_VALUES
    meta: Mapping[str, Any] = _NO_VALUES  # git, command line, python, packages, host
    created_at: float = 0.0
    updated_at: float = 0.0
    finished_at: float | None = None
    heartbeat_at: float | None = None
    exit_code: int | None = None
    host: str | None = None
    pid: int | None = None
    pid_start: int | None = None  # the process's start tick, so a reused pid is not taken for alive
    last_step: int | None = None


# Fields a caller may change on an existing run (update_run validates against this set).
RUN_MUTABLE_FIELDS = frozenset(
    {
        "name",
        "state",
        "job_type",
        "group",
        "notes",
        "tags",
        "config",
        "summary",
        "meta",
        "finished_at",
        "heartbeat_at",
        "exit_code",
        "host",
        "pid",
        "pid_start",
        "updated_at",
    }
)


class HistoryRow(NamedTuple):
    """One metric point. ``value`` is a float for numbers and bools, else a JSON value (``None`` for
    a logged None/NaN is kept as JSON null). A tuple, not a dataclass: a million of them are made
    per million points logged, and a tuple costs a fifth of a frozen dataclass to build."""

    step: int
    key: str
    value: Any
    time: float


class RunEvent(NamedTuple):
    """Something that happened to a run, such as a fine-tuning job's event. ``id`` (the source's
    event id, when it has one) makes re-writing the same event idempotent."""

    time: float
    level: str
    message: str
    data: Mapping[str, Any] | None = None
    id: str | None = None


class SpanQuery(NamedTuple):
    """Which spans ``Store.list_spans`` returns, newest first, a page at a time.

    ``before`` is a keyset cursor ``(start_time, span_id)``: the page starts after it."""

    run: RunKey | None = None
    trace_id: str | None = None
    parent_id: str | None = None
    roots_only: bool = False
    model: str | None = None
    status: str | None = None
    text: str | None = None  # substring of inputs or outputs
    start_after: float | None = None
    start_before: float | None = None
    before: tuple[float, str] | None = None
    limit: int = 100


class WriteBatch:
    """What the background writer commits in one transaction, for any number of runs.

    A plain class (not a dataclass, whose creation at import costs a millisecond): every field
    starts empty unless given."""

    __slots__ = ("events", "history", "run_updates", "spans", "steps")

    def __init__(
        self,
        history: dict[RunKey, list[HistoryRow]] | None = None,
        steps: dict[RunKey, list[tuple[int, float, Mapping[str, Any]]]] | None = None,
        run_updates: dict[RunKey, dict[str, Any]] | None = None,
        events: dict[RunKey, list[RunEvent]] | None = None,
        spans: list[SpanRecord] | None = None,
    ) -> None:
        self.history: dict[RunKey, list[HistoryRow]] = {} if history is None else history
        # Whole steps as ``run.log`` queued them: ``(step, time, {key: value})``. The store flattens
        # them itself, which spares building a HistoryRow per point on the hot write path.
        self.steps: dict[RunKey, list[tuple[int, float, Mapping[str, Any]]]] = {} if steps is None else steps
        # Whole-value replacements of a run's JSON columns / fields, applied after the history rows.
        self.run_updates: dict[RunKey, dict[str, Any]] = {} if run_updates is None else run_updates
        self.events: dict[RunKey, list[RunEvent]] = {} if events is None else events
        self.spans: list[SpanRecord] = [] if spans is None else spans

    def __bool__(self) -> bool:
        return bool(self.history or self.steps or self.run_updates or self.events or self.spans)

    def extend(self, later: WriteBatch) -> None:
        """Add what ``later`` holds, as if it had been written after this batch (its updates win)."""
        for key, rows in later.history.items():
            self.history.setdefault(key, []).extend(rows)
        for key, steps in later.steps.items():
            self.steps.setdefault(key, []).extend(steps)
        for key, changes in later.run_updates.items():
            self.run_updates.setdefault(key, {}).update(changes)
        for key, events in later.events.items():
            self.events.setdefault(key, []).extend(events)
        self.spans.extend(later.spans)

    def __repr__(self) -> str:
        return (
            f"WriteBatch(history={self.history!r}, steps={self.steps!r}, run_updates={self.run_updates!r}, "
            f"events={self.events!r}, spans={self.spans!r})"
        )


class RunQuery(NamedTuple):
    filter: Filter | None = None
    order: Order | None = None
    limit: int | None = None
    offset: int = 0


class ManifestEntry(NamedTuple):
    """One file of an artifact version: its path inside the artifact, content hash and size."""

    path: str
    sha256: str
    size: int


class Store(Protocol):
    """The persistence interface. Implementations: ``store.sql.SQLStore`` (SQLite, later PostgreSQL)."""

    # -- runs -------------------------------------------------------------------------------------
    def create_run(self, record: RunRecord) -> None:
        """Insert a new run. Raises :class:`tunelog.errors.RunExistsError` if the key exists."""
        ...

    def get_run(self, key: RunKey) -> RunRecord | None: ...

    def update_run(self, key: RunKey, changes: Mapping[str, Any]) -> None:
        """Set fields (names in ``RUN_MUTABLE_FIELDS``) of a run; unknown names raise ValueError."""
        ...

    def list_runs(self, entity: str, project: str, query: RunQuery) -> list[RunRecord]: ...

    def count_runs(self, entity: str, project: str, filter: Filter | None) -> int: ...

    def list_projects(self, entity: str | None = None) -> list[tuple[str, str]]:
        """``(entity, project)`` pairs that hold runs or artifacts."""
        ...

    def delete_run(self, key: RunKey) -> None:
        """Delete a run, its history and usage edges. Artifacts it logged stay, unowned."""
        ...

    # -- history ----------------------------------------------------------------------------------
    def write(self, batch: WriteBatch) -> None:
        """Commit history rows (upserting on (run, step, key)) and run updates in one transaction.

        A span's ``inputs`` and ``outputs`` may arrive encoded (``json_columns.encoded``): a store
        writes such a field's JSON as it is, or reads it back with ``json_columns.plain``."""
        ...

    def read_history(
        self,
        key: RunKey,
        keys: Sequence[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        limit: int | None = None,
    ) -> list[HistoryRow]:
        """History rows ordered by (step, key), optionally only some keys and a step range."""
        ...

    def history_keys(self, key: RunKey) -> list[str]: ...

    def read_events(self, key: RunKey, limit: int | None = None, offset: int = 0) -> list[RunEvent]:
        """A run's events, oldest first."""
        ...

    # -- spans ------------------------------------------------------------------------------------
    def list_spans(self, entity: str, project: str, query: SpanQuery) -> list[SpanRecord]: ...

    def get_span(self, entity: str, project: str, span_id: str) -> SpanRecord | None: ...

    def count_spans(self, entity: str, project: str, query: SpanQuery) -> int: ...

    # -- artifacts --------------------------------------------------------------------------------
    def create_version(self, new: NewVersion) -> tuple[VersionRecord, bool]:
        """Add a version (``v<N+1>``) to a collection, creating it if needed, and move ``latest`` and
        the given aliases to it; if a version with the same digest exists, only add the aliases to it.
        Returns the version and whether it was created. Raises UsageError if the collection exists
        with another type."""
        ...

    def get_collection(self, entity: str, project: str, name: str) -> CollectionRecord | None: ...

    def list_collections(
        self, entity: str, project: str, type: str | None = None
    ) -> list[CollectionRecord]: ...

    def get_version(self, entity: str, project: str, name: str, selector: str) -> VersionRecord | None:
        """``selector`` is ``v<N>`` or an alias."""
        ...

    def get_version_by_id(self, version_id: int) -> VersionRecord | None: ...

    def list_versions(self, entity: str, project: str, name: str) -> list[VersionRecord]: ...

    def manifest(self, version_id: int) -> list[ManifestEntry]:
        """Files of a version (of the linked source version, for registry links), ordered by path."""
        ...

    def set_aliases(self, version_id: int, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        """Add (moving them from other versions of the collection) and remove aliases."""
        ...

    def update_version(
        self, version_id: int, metadata: Mapping[str, Any] | None = None, description: str | None = None
    ) -> None: ...

    def add_usage(self, version_id: int, run: RunKey) -> None:
        """Record that ``run`` used the version (idempotent)."""
        ...

    def version_users(self, version_id: int) -> list[RunKey]: ...

    def versions_used_by(self, run: RunKey) -> list[VersionRecord]: ...

    def versions_logged_by(self, run: RunKey) -> list[VersionRecord]: ...

    def link_version(
        self, version_id: int, entity: str, collection: str, aliases: Sequence[str]
    ) -> VersionRecord:
        """Link a version into the registry collection ``entity/registry/collection`` (idempotent)."""
        ...

    def delete_version(self, version_id: int) -> None: ...

    def delete_collection(self, entity: str, project: str, name: str) -> None: ...

    def referenced_blobs(self) -> set[str]:
        """Every sha256 still named by a manifest or a run (for blob garbage collection)."""
        ...

    def add_blob_refs(self, run: RunKey, shas: Iterable[str]) -> None:
        """Record blobs a run references outside artifacts (tables logged to history)."""
        ...

    # -- lifecycle --------------------------------------------------------------------------------
    def close(self) -> None: ...

    # -- dashboard ----------------------------------------------------------------------------------
    def project_stats(self, entity: str | None = None) -> list[ProjectStats]:
        """Every project (of ``entity``) with its run and artifact counts and last activity."""
        ...

    def project_keys(self, entity: str, project: str, limit: int = 500) -> list[str]:
        """The distinct leaf keys of the project's configs and summaries, as ``config.a.b`` /
        ``summary.x`` (config first, each sorted; at most ``limit``)."""
        ...

    def list_runs_page(
        self,
        entity: str,
        project: str,
        filter: Filter | None,
        order: Order,
        cursor: str | None = None,
        limit: int = 100,
    ) -> RunPage:
        """One page of runs after ``cursor`` (the previous page's ``next_cursor``), keyset-paged."""
        ...

    def group_runs(
        self,
        entity: str,
        project: str,
        filter: Filter | None,
        key: str,
        columns: Sequence[str] = (),
        order: Order | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> RunGroupPage:
        """The runs matching ``filter`` grouped by the value at ``key`` (a run field or a dotted
        ``config.``/``summary.``/``meta.`` path), over all of them: each group's count and the
        mean/min/max of each of ``columns``. Groups come by their mean of ``order`` when it is one of
        ``columns``, else by value (descending if ``order`` is ``key`` descending); missing last."""
        ...

    def metric_keys(self, key: RunKey) -> list[MetricKeyInfo]:
        """A run's history keys, each with its count of numeric points (and, if none, its last value)."""
        ...

    def read_metric(
        self,
        key: RunKey,
        metric: str,
        max_points: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> MetricSeries:
        """A metric's numeric points in step order, downsampled to at most ``max_points`` buckets."""
        ...

    def span_stats(
        self,
        entity: str,
        project: str,
        run: RunKey | None = None,
        start_after: float | None = None,
        start_before: float | None = None,
        buckets: int = 60,
    ) -> list[SpanStat]:
        """Calls, tokens, cost and errors per time bucket and model."""
        ...

    def save_view(self, entity: str, project: str, name: str, spec: Mapping[str, Any]) -> SavedView: ...

    def get_view(self, entity: str, project: str, name: str) -> SavedView | None: ...

    def list_views(self, entity: str, project: str) -> list[SavedView]: ...

    def delete_view(self, entity: str, project: str, name: str) -> None: ...

    def save_report(
        self, entity: str, project: str, title: str, body: Mapping[str, Any], report_id: int | None = None
    ) -> ReportRecord:
        """Create a report (``report_id=None``) or replace one's title and body."""
        ...

    def get_report(self, entity: str, project: str, report_id: int) -> ReportRecord | None: ...

    def list_reports(self, entity: str, project: str) -> list[ReportRecord]: ...

    def delete_report(self, entity: str, project: str, report_id: int) -> None: ...
