"""The records of artifacts and of the dashboard: frozen dataclasses that starting a run never needs.

They live apart from :mod:`tunelog.store.base` (which re-exports them) so that ``tunelog.init`` does
not pay to define them: each dataclass costs about a millisecond to create at import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunelog.store.base import ManifestEntry, RunKey, RunRecord


@dataclass(frozen=True, slots=True)
class CollectionRecord:
    id: int
    entity: str
    project: str
    name: str
    type: str
    description: str | None
    created_at: float
    version_count: int = 0


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """An artifact version. ``source_id`` is set for a registry link: the version it links to."""

    id: int
    collection: CollectionRecord
    index: int
    digest: str
    metadata: Mapping[str, Any]
    description: str | None
    size: int
    file_count: int
    created_at: float
    aliases: tuple[str, ...]
    logged_by: RunKey | None
    source_id: int | None = None

    @property
    def version(self) -> str:
        return f"v{self.index}"


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What ``Store.create_version`` needs to add a version to ``(entity, project, name)``."""

    entity: str
    project: str
    name: str
    type: str
    digest: str
    files: Sequence[ManifestEntry]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    aliases: Sequence[str] = ()
    logged_by: RunKey | None = None


# -- dashboard records --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ProjectStats:
    entity: str
    project: str
    runs: int
    running: int
    last_activity: float | None
    artifacts: int


@dataclass(frozen=True, slots=True)
class RunPage:
    """A page of runs; pass ``next_cursor`` back for the next page (``None``: this was the last)."""

    runs: list[RunRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class MetricKeyInfo:
    name: str
    points: int  # numeric points; 0 for keys that hold tables, media or text
    last_value: Any = None  # the last non-numeric value, when there are no numeric points


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """A metric for a chart. When ``downsampled``, each point is a bucket of equal step width:
    ``steps`` its mean step, ``values`` its mean, ``mins``/``maxs`` its range, ``times`` its last time."""

    key: str
    steps: list[float]
    values: list[float]
    mins: list[float]
    maxs: list[float]
    times: list[float]
    total: int
    downsampled: bool


@dataclass(frozen=True, slots=True)
class SpanStat:
    start: float
    width: float
    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    errors: int
    mean_latency: float | None


@dataclass(frozen=True, slots=True)
class SavedView:
    entity: str
    project: str
    name: str
    spec: Mapping[str, Any]
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class ReportRecord:
    id: int
    entity: str
    project: str
    title: str
    body: Mapping[str, Any]
    created_at: float
    updated_at: float
