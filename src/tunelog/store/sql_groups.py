"""Runs grouped by a key, in SQL, over every run a filter matches (``Store.group_runs``).

One statement: a ``MATERIALIZED`` CTE extracts the group key and each column once per run (without
it SQLite's flattener would re-run ``json_extract`` — a JSON parse — for every aggregate that uses
it), then ``GROUP BY`` counts and aggregates, and window functions give the number of groups and runs
before ``LIMIT``. Keys and column paths are bound parameters (``json_extract(config, ?)``); run
fields come only from the fixed map in :mod:`tunelog.store.sql_filters`, so no key reaches SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tunelog.errors import UsageError
from tunelog.filters import Filter, Order, split_path
from tunelog.store.group_record import ColumnStats, RunGroup, RunGroupPage
from tunelog.store.sql_filters import JSON_COLUMNS, RUN_COLUMNS, compile_filter, json_path

MAX_COLUMNS = 50
MAX_GROUPS = 1000
# Grouping by tags would put a run in one group per tag list; the filter 'tags contains' is the way.
_UNGROUPABLE = frozenset({"tags"})


def _value_expr(dotted: str, what: str) -> tuple[str, list[Any]]:
    """The SQL expression over ``runs`` for a dotted key and the parameters it binds."""
    field, path = split_path(dotted)
    if field in JSON_COLUMNS:
        return f"json_extract({JSON_COLUMNS[field]}, ?)", [json_path(path)]
    if field in _UNGROUPABLE or field not in RUN_COLUMNS:
        raise UsageError(
            f"Cannot {what} {dotted!r}. Use a run field such as state, job_type or group, or a "
            "'config.<key>' / 'summary.<key>' path."
        )
    return RUN_COLUMNS[field], []


def _same(order: Order, dotted: str) -> bool:
    field, path = split_path(dotted)
    return order.field == field and tuple(order.path) == path


def group_sql(
    entity: str,
    project: str,
    filter: Filter | None,
    key: str,
    columns: Sequence[str],
    order: Order | None,
    limit: int,
    offset: int,
) -> tuple[str, list[Any]]:
    """The grouping statement and its parameters. Its rows: value, count, groups in all, runs in
    all, then mean, min, max of each column."""
    if len(columns) > MAX_COLUMNS:
        raise UsageError(f"Cannot aggregate {len(columns)} columns at once; pass at most {MAX_COLUMNS}.")
    key_sql, args = _value_expr(key, "group runs by")
    selects = [f"{key_sql} AS g"]
    for i, col in enumerate(columns):
        col_sql, col_args = _value_expr(col, "aggregate the column")
        selects.append(f"{col_sql} AS c{i}")
        args += col_args
    where, params = compile_filter(filter)
    args += [entity, project, *params]
    aggregates = ["g", "count(*)", "count(*) OVER ()", "sum(count(*)) OVER ()"]
    for i in range(len(columns)):
        # Only numbers count: avg() would read the text "abc" as 0. A JSON true is 1, as in filters.
        num = f"(CASE WHEN typeof(c{i}) IN ('integer', 'real') THEN c{i} END)"
        aggregates += [f"avg({num})", f"min({num})", f"max({num})"]
    direction, by = "ASC", "g"
    if order is not None:
        if _same(order, key):
            direction = "DESC" if order.descending else "ASC"
        else:
            for i, col in enumerate(columns):
                if _same(order, col):
                    by = f"avg(CASE WHEN typeof(c{i}) IN ('integer', 'real') THEN c{i} END)"
                    direction = "DESC" if order.descending else "ASC"
                    break
    sql = (
        f"WITH t AS MATERIALIZED (SELECT {', '.join(selects)} FROM runs "
        f"WHERE entity = ? AND project = ? AND ({where})) "
        f"SELECT {', '.join(aggregates)} FROM t GROUP BY g "
        f"ORDER BY ({by}) IS NULL, {by} {direction}, g IS NULL, g LIMIT ? OFFSET ?"
    )
    return sql, [*args, limit, offset]


def group_page(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> RunGroupPage:
    groups = []
    for row in rows:
        stats = {
            col: ColumnStats(row[4 + 3 * i], row[5 + 3 * i], row[6 + 3 * i]) for i, col in enumerate(columns)
        }
        groups.append(RunGroup(row[0], int(row[1]), stats))
    total_groups = int(rows[0][2]) if rows else 0
    total_runs = int(rows[0][3]) if rows else 0
    return RunGroupPage(groups, total_groups, total_runs)
