"""Run events and spans for :class:`~tunelog.store.sql.SQLStore`: written inside ``write``'s
transaction (:func:`write_events`, :func:`write_spans`), read by :class:`EventSpanTables`.

Spans list newest first with a keyset cursor ``before=(start_time, span_id)``, so paging a
project's calls never counts past rows; ``count_spans`` takes the same filters but ignores the
cursor and the limit (it answers "how many in all").
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunelog.store.base import RunEvent, RunKey, SpanQuery
from tunelog.store.json_columns import default, fast_dumps
from tunelog.store.sql_common import dumps, insert_rows, run_pk, storable
from tunelog.store.sqlite_conn import Connections

if TYPE_CHECKING:  # imported where spans are read: the dataclass module costs every init() ms
    from tunelog.store.span_record import SpanRecord

_SPAN_COLUMNS = (
    "s.span_id, s.trace_id, s.parent_id, r.entity, r.project, r.run_id, s.name, s.kind, s.start_time, "
    "s.end_time, s.status, s.model, s.inputs, s.outputs, s.attributes, s.usage, s.cost_usd, s.error"
)
_INSERT_SPAN = (
    "INSERT INTO spans (run_pk, entity, project, span_id, trace_id, parent_id, name, kind, start_time, "
    "end_time, status, model, inputs, outputs, attributes, usage, cost_usd, error)"
)
_ON_CONFLICT_SPAN = (
    "ON CONFLICT (entity, project, span_id) DO UPDATE SET run_pk = excluded.run_pk, "
    "trace_id = excluded.trace_id, parent_id = excluded.parent_id, name = excluded.name, "
    "kind = excluded.kind, start_time = excluded.start_time, end_time = excluded.end_time, "
    "status = excluded.status, model = excluded.model, inputs = excluded.inputs, "
    "outputs = excluded.outputs, attributes = excluded.attributes, usage = excluded.usage, "
    "cost_usd = excluded.cost_usd, error = excluded.error"
)
_UPSERT_EVENT = (
    "INSERT INTO run_events (run_pk, event_id, time, level, message, data) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_pk, event_id) WHERE event_id IS NOT NULL DO UPDATE SET time = excluded.time, "
    "level = excluded.level, message = excluded.message, data = excluded.data"
)

RunPks = Callable[[RunKey], "int | None"]


# One encoder for every span column (``json.dumps`` with options builds a new one per call, which
# costs as much as encoding a small span); the same options as ``dumps``, which handles the rare
# value this one rejects (a non-finite float, a cycle). orjson's, when installed, comes first
# (json_columns.fast_dumps).
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=default, ensure_ascii=False).encode


def _json_or_null(value: Any) -> str | None:
    if value is None:
        return None
    fast = fast_dumps()
    if fast is not None:
        try:
            return fast(value).decode()
        except TypeError:  # an integer past 64 bits, a lone surrogate, a cycle: json's way below
            pass
    try:
        return storable(_encode(value))
    except ValueError:
        return dumps(value)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def write_events(conn: sqlite3.Connection, pk_of: RunPks, events: Mapping[RunKey, Sequence[RunEvent]]) -> int:
    """Insert (or, for a known source id, replace) events; return how many had no run to go to."""
    dropped = 0
    for key, items in events.items():
        pk = pk_of(key)
        if pk is None:
            dropped += len(items)
            continue
        conn.executemany(
            _UPSERT_EVENT,
            [(pk, e.id, e.time, e.level, e.message, _json_or_null(e.data)) for e in items],
        )
    return dropped


def write_spans(conn: sqlite3.Connection, pk_of: RunPks, spans: Sequence[SpanRecord]) -> int:
    """Insert (or replace, by span id) spans; return how many had no run to go to."""
    rows, dropped = [], 0
    enc = _json_or_null
    fast = fast_dumps()
    for s in spans:
        pk = pk_of(s.run)
        if pk is None:
            dropped += 1
            continue
        attrs = s.attributes
        if type(attrs) is not dict:
            attrs = dict(attrs or {})
        usage, error = s.usage, s.error
        columns: tuple[str | None, ...] | None = None
        if fast is not None:
            try:  # the usual span, encoded without a call per column (~1.5 µs of a recorded call's commit)
                columns = (
                    fast(s.inputs).decode() if s.inputs is not None else None,
                    fast(s.outputs).decode() if s.outputs is not None else None,
                    fast(attrs).decode(),
                    fast(usage).decode() if usage is not None else None,
                    fast(error).decode() if error is not None else None,
                )
            except TypeError:  # what orjson refuses: column by column, json's way (see _json_or_null)
                pass
        if columns is None:
            columns = (enc(s.inputs), enc(s.outputs), enc(attrs), enc(usage), enc(error))
        rows.append((
            pk, s.run.entity, s.run.project, s.span_id, s.trace_id, s.parent_id, s.name, s.kind,
            s.start_time, s.end_time, s.status, s.model, columns[0], columns[1], columns[2],
            columns[3], s.cost_usd, columns[4],
        ))  # fmt: skip
    if len({r[3] for r in rows}) < len(rows):  # one span twice in a batch: the later one wins, in order
        for r in rows:
            insert_rows(conn, _INSERT_SPAN, [r], _ON_CONFLICT_SPAN)
    else:
        insert_rows(conn, _INSERT_SPAN, rows, _ON_CONFLICT_SPAN)
    return dropped


def delete_run_events_and_spans(conn: sqlite3.Connection, pk: int) -> None:
    conn.execute("DELETE FROM run_events WHERE run_pk = ?", (pk,))
    conn.execute("DELETE FROM spans WHERE run_pk = ?", (pk,))


def _span(row: Sequence[Any]) -> SpanRecord:
    from tunelog.store.span_record import SpanRecord

    return SpanRecord(
        span_id=row[0],
        trace_id=row[1],
        parent_id=row[2],
        run=RunKey(row[3], row[4], row[5]),
        name=row[6],
        kind=row[7],
        start_time=row[8],
        end_time=row[9],
        status=row[10],
        model=row[11],
        inputs=_loads(row[12]),
        outputs=_loads(row[13]),
        attributes=json.loads(row[14]),
        usage=_loads(row[15]),
        cost_usd=row[16],
        error=_loads(row[17]),
    )


def _span_where(entity: str, project: str, q: SpanQuery, *, paged: bool) -> tuple[str, list[Any]]:
    where, args = ["s.entity = ?", "s.project = ?"], [entity, project]

    def add(clause: str, *values: Any) -> None:
        where.append(clause)
        args.extend(values)

    if q.run is not None:
        add("s.run_pk = (SELECT pk FROM runs WHERE entity = ? AND project = ? AND run_id = ?)",
            q.run.entity, q.run.project, q.run.run_id)  # fmt: skip
    if q.trace_id is not None:
        add("s.trace_id = ?", q.trace_id)
    if q.parent_id is not None:
        add("s.parent_id = ?", q.parent_id)
    if q.roots_only:
        add("s.parent_id IS NULL")
    if q.model is not None:
        add("s.model = ?", q.model)
    if q.status is not None:
        add("s.status = ?", q.status)
    if q.text:
        add("(instr(s.inputs, ?) > 0 OR instr(s.outputs, ?) > 0)", q.text, q.text)
    if q.start_after is not None:
        add("s.start_time > ?", q.start_after)
    if q.start_before is not None:
        add("s.start_time < ?", q.start_before)
    if paged and q.before is not None:
        t, sid = q.before
        add("(s.start_time < ? OR (s.start_time = ? AND s.span_id < ?))", t, t, sid)
    return " AND ".join(where), args


class EventSpanTables:
    """Read methods of the Store Protocol for run events and spans."""

    _conns: Connections

    def read_events(self, key: RunKey, limit: int | None = None, offset: int = 0) -> list[RunEvent]:
        def tx(conn: sqlite3.Connection) -> list[RunEvent]:
            pk = run_pk(conn, key)
            if pk is None:
                return []
            rows = conn.execute(
                "SELECT time, level, message, data, event_id FROM run_events WHERE run_pk = ? "
                "ORDER BY time, id LIMIT ? OFFSET ?",
                (pk, -1 if limit is None else max(0, int(limit)), max(0, int(offset))),
            )
            return [RunEvent(r[0], r[1], r[2], _loads(r[3]), r[4]) for r in rows]

        return self._conns.read(tx, f"reading the events of run {key}")

    def list_spans(self, entity: str, project: str, query: SpanQuery) -> list[SpanRecord]:
        where, args = _span_where(entity, project, query, paged=True)
        sql = (
            f"SELECT {_SPAN_COLUMNS} FROM spans s JOIN runs r ON r.pk = s.run_pk WHERE {where} "
            "ORDER BY s.start_time DESC, s.span_id DESC LIMIT ?"
        )

        def tx(conn: sqlite3.Connection) -> list[SpanRecord]:
            return [_span(r) for r in conn.execute(sql, [*args, max(0, int(query.limit))])]

        return self._conns.read(tx, f"listing spans of {entity}/{project}")

    def get_span(self, entity: str, project: str, span_id: str) -> SpanRecord | None:
        sql = (
            f"SELECT {_SPAN_COLUMNS} FROM spans s JOIN runs r ON r.pk = s.run_pk "
            "WHERE s.entity = ? AND s.project = ? AND s.span_id = ?"
        )

        def tx(conn: sqlite3.Connection) -> SpanRecord | None:
            row = conn.execute(sql, (entity, project, span_id)).fetchone()
            return None if row is None else _span(row)

        return self._conns.read(tx, f"reading span {span_id} of {entity}/{project}")

    def count_spans(self, entity: str, project: str, query: SpanQuery) -> int:
        where, args = _span_where(entity, project, query, paged=False)

        def tx(conn: sqlite3.Connection) -> int:
            return int(conn.execute(f"SELECT count(*) FROM spans s WHERE {where}", args).fetchone()[0])

        return self._conns.read(tx, f"counting spans of {entity}/{project}")
