"""The records of grouped runs (``Store.group_runs``): what the workspace shows for "group by a key".

Apart from :mod:`tunelog.store.base` so that defining them costs ``tunelog.init`` nothing; they are
NamedTuples, cheap to build a few hundred at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class ColumnStats(NamedTuple):
    """The mean, min and max of a column's numeric values in a group (``None``: it has none)."""

    mean: float | None
    min: float | None
    max: float | None


class RunGroup(NamedTuple):
    """The runs sharing one value of the group key: that value (``None`` for runs without it), how
    many there are, and the statistics of each requested column, by its dotted key."""

    value: Any
    runs: int
    stats: Mapping[str, ColumnStats]


class RunGroupPage(NamedTuple):
    """A page of groups, and how many groups and runs the filter matches in all."""

    groups: list[RunGroup]
    total_groups: int
    total_runs: int
