"""The dashboard's reads and records for :class:`~tunelog.store.sql.SQLStore`.

- Project statistics (run counts, last activity) in one grouped query.
- Runs a page at a time with a **keyset cursor**: the page after ``(sort value, run id)``, so paging a
  10,000-run project never skips rows with ``OFFSET`` and rows inserted meanwhile never shift a page.
- Metric series **downsampled in SQL**: a 100,000-point metric comes back as at most ``max_points``
  buckets of equal step width, each with its mean, min and max (spikes stay visible as a band).
- Span statistics (calls, tokens, cost, errors per time bucket and model) for the traces page, from
  the per-minute rollup (:mod:`tunelog.store.span_rollup`), so a million spans cost a few thousand rows.
- Saved views and reports (migration 0003): JSON documents the dashboard owns.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunelog.errors import ReferenceNotFound, UsageError
from tunelog.filters import Filter, Order
from tunelog.store import span_rollup
from tunelog.store.base import RunKey, RunRecord
from tunelog.store.sql_common import dumps, run_pk
from tunelog.store.sql_filters import JSON_COLUMNS, RUN_COLUMNS, compile_filter, json_path
from tunelog.store.sqlite_conn import Connections

if TYPE_CHECKING:
    # The records are imported where built: this module loads with every store, including the one
    # a starting run opens, and their dataclasses cost ~10 ms to define.
    from tunelog.store.group_record import RunGroupPage
    from tunelog.store.records import (
        MetricKeyInfo,
        MetricSeries,
        ProjectStats,
        ReportRecord,
        RunPage,
        SavedView,
        SpanStat,
    )

_MAX_PAGE = 1000


def _order_expr(order: Order) -> tuple[str, list[Any]]:
    """The sort expression over ``runs`` and the parameters each use of it binds."""
    if order.field in JSON_COLUMNS:
        return f"json_extract({JSON_COLUMNS[order.field]}, ?)", [json_path(order.path)]
    column = RUN_COLUMNS.get(order.field)
    if column is None:
        raise UsageError(f"Cannot sort runs by {order.field!r}.")
    return column, []


def encode_cursor(value: Any, run_id: str) -> str:
    return json.dumps([value is None, value, run_id], separators=(",", ":"))


def decode_cursor(cursor: str) -> tuple[bool, Any, str]:
    try:
        is_null, value, run_id = json.loads(cursor)
        if not isinstance(is_null, bool) or not isinstance(run_id, str):
            raise ValueError(cursor)
        if not (value is None or isinstance(value, str | int | float)):
            raise ValueError(cursor)
    except (ValueError, TypeError):
        raise UsageError(
            f"Invalid runs page cursor {cursor!r}: pass back the 'next' value of the previous page unchanged."
        ) from None
    return is_null, value, run_id


class DashboardTables:
    """The ``# -- dashboard`` methods of the Store Protocol."""

    _conns: Connections

    # -- projects ---------------------------------------------------------------------------------
    def project_stats(self, entity: str | None = None) -> list[ProjectStats]:
        from tunelog.store.records import ProjectStats

        where, args = ("WHERE entity = ?", [entity]) if entity is not None else ("", [])

        def tx(conn: sqlite3.Connection) -> list[ProjectStats]:
            found: dict[tuple[str, str], list[Any]] = {}
            for e, p, n, running, last in conn.execute(
                "SELECT entity, project, count(*), sum(state = 'running'), "
                f"max(max(updated_at, coalesce(heartbeat_at, 0))) FROM runs {where} GROUP BY entity, project",
                args,
            ):
                found[(e, p)] = [n, running or 0, last, 0]
            for e, p, n, last in conn.execute(
                f"SELECT entity, project, count(*), max(created_at) FROM collections {where} "
                "GROUP BY entity, project",
                args,
            ):
                row = found.setdefault((e, p), [0, 0, None, 0])
                row[3] = n
                row[2] = last if row[2] is None else max(row[2], last)
            return [
                ProjectStats(e, p, runs=v[0], running=v[1], last_activity=v[2], artifacts=v[3])
                for (e, p), v in sorted(found.items())
            ]

        return self._conns.read(tx, "reading project statistics")

    # -- runs, a page at a time -------------------------------------------------------------------
    def list_runs_page(
        self,
        entity: str,
        project: str,
        filter: Filter | None,
        order: Order,
        cursor: str | None = None,
        limit: int = 100,
    ) -> RunPage:
        from tunelog.store.records import RunPage
        from tunelog.store.sql import _RUN_COLUMNS, run_from_row

        limit = max(1, min(int(limit), _MAX_PAGE))
        where, params = compile_filter(filter)
        expr, eparams = _order_expr(order)
        direction, cmp = ("DESC", "<") if order.descending else ("ASC", ">")
        clauses = [f"entity = ? AND project = ? AND ({where})"]
        args: list[Any] = [entity, project, *params]
        if cursor is not None:
            is_null, value, run_id = decode_cursor(cursor)
            if is_null:
                clauses.append(f"(({expr}) IS NULL AND run_id {cmp} ?)")
                args += [*eparams, run_id]
            else:
                clauses.append(f"(({expr}) IS NULL OR ({expr}) {cmp} ? OR (({expr}) = ? AND run_id {cmp} ?))")
                args += [*eparams, *eparams, value, *eparams, value, run_id]
        sql = (
            f"SELECT {_RUN_COLUMNS}, {expr} FROM runs WHERE {' AND '.join(clauses)} "
            f"ORDER BY ({expr}) IS NULL, {expr} {direction}, run_id {direction} LIMIT ?"
        )
        args = [*eparams, *args, *eparams, *eparams, limit + 1]

        def tx(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(sql, args).fetchall()

        rows = self._conns.read(tx, f"listing runs of {entity}/{project}")
        more = len(rows) > limit
        rows = rows[:limit]
        runs: list[RunRecord] = [run_from_row(r) for r in rows]
        nxt = encode_cursor(rows[-1][-1], rows[-1][2]) if more and rows else None
        return RunPage(runs=runs, next_cursor=nxt)

    # -- runs grouped by a key --------------------------------------------------------------------
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
        from tunelog.store import sql_groups

        limit = max(1, min(int(limit), sql_groups.MAX_GROUPS))
        offset = max(0, int(offset))
        sql, args = sql_groups.group_sql(entity, project, filter, key, columns, order, limit, offset)

        def tx(conn: sqlite3.Connection) -> RunGroupPage:
            rows = conn.execute(sql, args).fetchall()
            page = sql_groups.group_page(rows, columns)
            if not rows and offset > 0:  # past the last group: the totals still come from the first
                first = conn.execute(sql, [*args[:-2], 1, 0]).fetchall()
                page = page._replace(
                    total_groups=len(first) and first[0][2], total_runs=len(first) and first[0][3]
                )
            return page

        return self._conns.read(tx, f"grouping the runs of {entity}/{project} by {key!r}")

    # -- history for charts -----------------------------------------------------------------------
    def metric_keys(self, key: RunKey) -> list[MetricKeyInfo]:
        from tunelog.store.records import MetricKeyInfo

        def tx(conn: sqlite3.Connection) -> list[MetricKeyInfo]:
            pk = run_pk(conn, key)
            if pk is None:
                return []
            out = []
            keys = conn.execute("SELECT id, name FROM history_keys WHERE run_pk = ? ORDER BY name", (pk,))
            for kid, name in keys.fetchall():
                n = conn.execute(
                    "SELECT count(*) FROM history WHERE key_id = ? AND num IS NOT NULL", (kid,)
                ).fetchone()[0]
                last: Any = None
                if n == 0:
                    row = conn.execute(
                        "SELECT val FROM history WHERE key_id = ? AND val IS NOT NULL "
                        "ORDER BY step DESC LIMIT 1",
                        (kid,),
                    ).fetchone()
                    last = None if row is None else json.loads(row[0])
                out.append(MetricKeyInfo(name=name, points=int(n), last_value=last))
            return out

        return self._conns.read(tx, f"listing the metrics of run {key}")

    def read_metric(
        self,
        key: RunKey,
        metric: str,
        max_points: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> MetricSeries:
        from tunelog.store.records import MetricSeries

        max_points = max(2, min(int(max_points), 20_000))

        def tx(conn: sqlite3.Connection) -> MetricSeries:
            empty = MetricSeries(metric, [], [], [], [], [], 0, False)
            pk = run_pk(conn, key)
            if pk is None:
                return empty
            row = conn.execute("SELECT id FROM history_keys WHERE run_pk = ? AND name = ?", (pk, metric))
            found = row.fetchone()
            if found is None:
                return empty
            where, args = ["key_id = ?", "num IS NOT NULL"], [int(found[0])]
            if min_step is not None:
                where.append("step >= ?")
                args.append(int(min_step))
            if max_step is not None:
                where.append("step <= ?")
                args.append(int(max_step))
            cond = " AND ".join(where)
            lo, hi, n = conn.execute(
                f"SELECT min(step), max(step), count(*) FROM history WHERE {cond}", args
            ).fetchone()
            if not n:
                return empty
            if n <= max_points:
                rows = conn.execute(f"SELECT step, num, time FROM history WHERE {cond} ORDER BY step", args)
                steps, values, times = [], [], []
                for s, v, t in rows:
                    steps.append(float(s))
                    values.append(v)
                    times.append(t)
                return MetricSeries(metric, steps, values, values, values, times, int(n), False)
            width = hi - lo + 1
            rows = conn.execute(
                "SELECT avg(step), avg(num), min(num), max(num), max(time) FROM history "
                f"WHERE {cond} GROUP BY (step - ?) * ? / ? ORDER BY 1",
                [*args, lo, max_points, width],
            )
            s_, v_, mn, mx, t_ = [], [], [], [], []
            for s, v, lo_v, hi_v, t in rows:
                s_.append(float(s))
                v_.append(v)
                mn.append(lo_v)
                mx.append(hi_v)
                t_.append(t)
            return MetricSeries(metric, s_, v_, mn, mx, t_, int(n), True)

        return self._conns.read(tx, f"reading metric {metric!r} of run {key}")

    def project_keys(self, entity: str, project: str, limit: int = 500) -> list[str]:
        limit = max(1, min(int(limit), 5000))

        def tx(conn: sqlite3.Connection) -> list[str]:
            out: list[str] = []
            for column in ("config", "summary"):
                # Leaves only (objects are walked into; lists are one value); keys starting with an
                # underscore are tunelog's own, and summary entries with a ``_type`` are media/tables.
                rows = conn.execute(
                    "SELECT DISTINCT replace(substr(j.fullkey, 3), '\"', '') "
                    f"FROM runs, json_tree(runs.{column}) AS j "
                    "WHERE runs.entity = ? AND runs.project = ? AND j.type NOT IN ('object', 'array') "
                    "AND instr(j.fullkey, '[') = 0 "
                    "AND j.key <> '_type' ORDER BY 1 LIMIT ?",
                    (entity, project, limit - len(out)),
                ).fetchall()
                out += [f"{column}.{k}" for (k,) in rows if k and not k.startswith("_") and "._" not in k]
                if len(out) >= limit:
                    break
            return out

        return self._conns.read(tx, f"listing the config and summary keys of {entity}/{project}")

    # -- spans ------------------------------------------------------------------------------------
    def span_stats(
        self,
        entity: str,
        project: str,
        run: RunKey | None = None,
        start_after: float | None = None,
        start_before: float | None = None,
        buckets: int = 60,
    ) -> list[SpanStat]:
        buckets = max(1, min(int(buckets), 500))
        if self._conns.read(span_rollup.behind, "checking the span rollup"):
            self._conns.write(span_rollup.catch_up, "bringing the span rollup up to date")

        def tx(conn: sqlite3.Connection) -> list[SpanStat]:
            pk = None
            if run is not None:
                pk = run_pk(conn, run)
                if pk is None:
                    return []
            return span_rollup.read_stats(conn, entity, project, pk, start_after, start_before, buckets)

        return self._conns.read(tx, f"summarising spans of {entity}/{project}")

    # -- saved views ------------------------------------------------------------------------------
    def save_view(self, entity: str, project: str, name: str, spec: Mapping[str, Any]) -> SavedView:
        now = time.time()

        def tx(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO saved_views (entity, project, name, spec, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (entity, project, name) DO UPDATE SET "
                "spec = excluded.spec, updated_at = excluded.updated_at",
                (entity, project, name, dumps(dict(spec)), now, now),
            )

        self._conns.write(tx, f"saving view {name!r} of {entity}/{project}")
        found = self.get_view(entity, project, name)
        assert found is not None  # just written in this process
        return found

    def get_view(self, entity: str, project: str, name: str) -> SavedView | None:
        from tunelog.store.records import SavedView

        def tx(conn: sqlite3.Connection) -> SavedView | None:
            r = conn.execute(
                "SELECT entity, project, name, spec, created_at, updated_at FROM saved_views "
                "WHERE entity = ? AND project = ? AND name = ?",
                (entity, project, name),
            ).fetchone()
            return None if r is None else SavedView(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5])

        return self._conns.read(tx, f"reading view {name!r} of {entity}/{project}")

    def list_views(self, entity: str, project: str) -> list[SavedView]:
        from tunelog.store.records import SavedView

        def tx(conn: sqlite3.Connection) -> list[SavedView]:
            rows = conn.execute(
                "SELECT entity, project, name, spec, created_at, updated_at FROM saved_views "
                "WHERE entity = ? AND project = ? ORDER BY name",
                (entity, project),
            )
            return [SavedView(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

        return self._conns.read(tx, f"listing views of {entity}/{project}")

    def delete_view(self, entity: str, project: str, name: str) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM saved_views WHERE entity = ? AND project = ? AND name = ?",
                (entity, project, name),
            )

        self._conns.write(tx, f"deleting view {name!r} of {entity}/{project}")

    # -- reports ----------------------------------------------------------------------------------
    def save_report(
        self, entity: str, project: str, title: str, body: Mapping[str, Any], report_id: int | None = None
    ) -> ReportRecord:
        now = time.time()

        def tx(conn: sqlite3.Connection) -> int:
            if report_id is None:
                cur = conn.execute(
                    "INSERT INTO reports (entity, project, title, body, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (entity, project, title, dumps(dict(body)), now, now),
                )
                return int(cur.lastrowid or 0)
            cur = conn.execute(
                "UPDATE reports SET title = ?, body = ?, updated_at = ? "
                "WHERE id = ? AND entity = ? AND project = ?",
                (title, dumps(dict(body)), now, report_id, entity, project),
            )
            if cur.rowcount == 0:
                raise ReferenceNotFound(f"No report {report_id} in {entity}/{project}.")
            return report_id

        rid = self._conns.write(tx, f"saving a report of {entity}/{project}")
        found = self.get_report(entity, project, rid)
        assert found is not None  # just written in this process
        return found

    def get_report(self, entity: str, project: str, report_id: int) -> ReportRecord | None:
        def tx(conn: sqlite3.Connection) -> ReportRecord | None:
            r = conn.execute(
                "SELECT id, entity, project, title, body, created_at, updated_at FROM reports "
                "WHERE id = ? AND entity = ? AND project = ?",
                (int(report_id), entity, project),
            ).fetchone()
            return None if r is None else _report(r)

        return self._conns.read(tx, f"reading report {report_id} of {entity}/{project}")

    def list_reports(self, entity: str, project: str) -> list[ReportRecord]:
        def tx(conn: sqlite3.Connection) -> list[ReportRecord]:
            rows = conn.execute(
                "SELECT id, entity, project, title, body, created_at, updated_at FROM reports "
                "WHERE entity = ? AND project = ? ORDER BY updated_at DESC",
                (entity, project),
            )
            return [_report(r) for r in rows]

        return self._conns.read(tx, f"listing reports of {entity}/{project}")

    def delete_report(self, entity: str, project: str, report_id: int) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM reports WHERE id = ? AND entity = ? AND project = ?",
                (int(report_id), entity, project),
            )

        self._conns.write(tx, f"deleting report {report_id} of {entity}/{project}")


def _report(r: Sequence[Any]) -> ReportRecord:
    from tunelog.store.records import ReportRecord

    return ReportRecord(
        id=r[0],
        entity=r[1],
        project=r[2],
        title=r[3],
        body=json.loads(r[4]),
        created_at=r[5],
        updated_at=r[6],
    )
