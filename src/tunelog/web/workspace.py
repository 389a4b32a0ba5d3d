"""The project workspace's view model: what the runs table shows for a request's view spec.

A view spec is what a saved view stores and what the page's query string carries::

    {"q": "config.hyperparameters.n_epochs >= 3", "text": "ft-", "sort": "-summary.loss",
     "cols": ["config.base_model", "summary.loss"], "group": "config.base_model", "charts": ["loss"]}
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tunelog.api import Api, ApiRun
from tunelog.errors import UsageError
from tunelog.filters import split_path
from tunelog.store.group_record import ColumnStats
from tunelog.web.expr import ExprError, parse_expression, text_filter
from tunelog.web.render import flatten, lookup

BUILTIN_SORTS = ("name", "state", "job_type", "created_at", "updated_at", "group")
PAGE_SIZE = 50
GROUPS_PAGE = 100  # groups a workspace page shows; "More groups" pages on with an offset
GROUP_RUNS_PAGE = 20  # runs an expanded group loads at a time (through the JSON API)
_PREFERRED_CONFIG = (
    "base_model",
    "model",
    "hyperparameters.n_epochs",
    "hyperparameters.learning_rate_multiplier",
    "hyperparameters.batch_size",
    "training_file",
)


@dataclass
class ViewSpec:
    q: str = ""
    text: str = ""
    sort: str = "-created_at"
    cols: list[str] = field(default_factory=list)
    group: str = ""
    charts: list[str] = field(default_factory=list)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> ViewSpec:
        def listish(v: Any) -> list[str]:
            if isinstance(v, str):
                return [s.strip() for s in v.split(",") if s.strip()]
            if isinstance(v, list | tuple):
                return [str(s) for s in v if str(s).strip()]
            return []

        return cls(
            q=str(raw.get("q") or ""),
            text=str(raw.get("text") or ""),
            sort=str(raw.get("sort") or "-created_at"),
            cols=listish(raw.get("cols")),
            group=str(raw.get("group") or ""),
            charts=listish(raw.get("charts")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "q": self.q,
            "text": self.text,
            "sort": self.sort,
            "cols": list(self.cols),
            "group": self.group,
            "charts": list(self.charts),
        }

    def query(self, **changes: Any) -> str:
        """This spec as a query string, with ``changes`` applied."""
        from urllib.parse import urlencode

        d = self.to_dict() | changes
        items = [(k, ",".join(v) if isinstance(v, list) else v) for k, v in d.items()]
        return urlencode([(k, v) for k, v in items if v])


@dataclass
class Column:
    key: str  # "config.x", "summary.y"
    label: str
    numeric: bool


@dataclass
class Group:
    """One group: counted and aggregated in the store over every run the filter matches; its runs
    are loaded a page at a time when it is expanded."""

    value: Any
    count: int
    stats: dict[str, ColumnStats]


@dataclass
class Workspace:
    spec: ViewSpec
    runs: list[ApiRun]
    total: int
    next_cursor: str | None
    columns: list[Column]
    available: list[str]
    groups: list[Group] | None
    error: ExprError | UsageError | None
    total_groups: int = 0
    group_offset: int = 0


def build_filter(spec: ViewSpec) -> dict[str, Any]:
    """The filter mapping of the spec's expression and quick-search text (raises ExprError)."""
    parts: list[dict[str, Any]] = []
    if spec.q.strip():
        compiled = parse_expression(spec.q)
        if compiled:
            parts.append(compiled)
    if spec.text.strip():
        parts.append(text_filter(spec.text))
    if not parts:
        return {}
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _check_key(key: str) -> str | None:
    try:
        split_path(key.lstrip("+-"))
    except UsageError:
        return None
    return key


def available_columns(runs: Sequence[ApiRun]) -> list[str]:
    seen: dict[str, None] = {}
    for run in runs:
        for k, _v in flatten(run.config):
            if not k.startswith("_"):
                seen.setdefault("config." + k, None)
        for k, _v in flatten(run.summary):
            if "_type" in k or k.startswith("_"):
                continue
            seen.setdefault("summary." + k, None)
    config = sorted(k for k in seen if k.startswith("config."))
    summary = sorted(k for k in seen if k.startswith("summary."))
    return config + summary


def default_columns(available: Sequence[str], runs: Sequence[ApiRun]) -> list[str]:
    cols = [f"config.{k}" for k in _PREFERRED_CONFIG if f"config.{k}" in available][:4]
    if not cols:
        cols = [k for k in available if k.startswith("config.")][:3]
    numeric_summary = [
        k
        for k in available
        if k.startswith("summary.")
        and any(isinstance(lookup(r.summary, k[8:]), int | float) for r in runs[:50])
    ]
    return cols + numeric_summary[:4]


def cell(run: ApiRun, key: str) -> Any:
    field_, _, rest = key.partition(".")
    if field_ == "config":
        return lookup(run.config, rest)
    if field_ == "summary":
        return lookup(run.summary, rest)
    return getattr(run, field_, None)


def load(api: Api, path: str, spec: ViewSpec, cursor: str | None = None, group_offset: int = 0) -> Workspace:
    """The workspace for ``spec``: one page of runs, or, grouped, a page of groups (with counts and
    column statistics over all matching runs; each group's runs load when it is expanded)."""
    error: ExprError | UsageError | None = None
    try:
        filters = build_filter(spec)
    except ExprError as exc:
        filters, error = {}, exc
    sort = _check_key(spec.sort) or "-created_at"
    # Column choices: every config/summary key of the project, from one SQL pass over all its runs'
    # JSON (most of this page's time at 10,000 runs), so it runs on a thread of its own (its own
    # SQLite connection) while the runs or groups are read. The default columns come from the
    # newest runs' keys, so the groups need not wait for it.
    keys = _pool().submit(api.project_keys, path)
    recent = api.runs(path, limit=50)
    cols = [c for c in spec.cols if _check_key(c)] or default_columns(available_columns(recent), recent)
    runs: list[ApiRun] = []
    nxt: str | None = None
    groups: list[Group] | None = None
    total_groups = 0
    try:
        if spec.group:
            page = api.run_groups(
                path, spec.group, filters, cols, order=sort, limit=GROUPS_PAGE, offset=group_offset
            )
            groups = [Group(g.value, g.runs, dict(g.stats)) for g in page.groups]
            total, total_groups = page.total_runs, page.total_groups
        else:
            total = api.count_runs(path, filters)
            runs, nxt = api.runs_page(path, filters, order=sort, cursor=cursor, limit=PAGE_SIZE)
    except UsageError as exc:  # e.g. a regex SQLite rejects, a key with a quote, grouping by tags
        error, total, runs, nxt, groups = exc, 0, [], None, None
    columns = [Column(c, c.split(".", 1)[1] if "." in c else c, _numeric(c, runs, groups)) for c in cols]
    available = keys.result()
    return Workspace(
        spec, runs, total, nxt, columns, available, groups, error, total_groups, max(0, group_offset)
    )


@functools.cache
def _pool() -> ThreadPoolExecutor:
    # Long-lived threads, so each keeps its SQLite connection from one page to the next.
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="tunelog-workspace")


def _numeric(key: str, runs: Sequence[ApiRun], groups: Sequence[Group] | None) -> bool:
    if groups is not None:
        return any(g.stats[key].mean is not None for g in groups if key in g.stats)
    return any(isinstance(cell(r, key), int | float) for r in runs)


def _label(key: str) -> str:
    """A short header: the last two parts of a dotted key (``hyperparameters.n_epochs``)."""
    parts = key.split(".")[1:] or [key]
    return ".".join(parts[-2:]) if len(parts) > 1 and len(parts[-1]) < 12 else parts[-1]
