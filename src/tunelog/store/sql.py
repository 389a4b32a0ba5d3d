"""``SQLStore``: the :class:`~tunelog.store.base.Store` on SQLite (stdlib ``sqlite3``).

The SQL for runs and history lives here; artifacts in :mod:`tunelog.store.sql_artifacts`, events
and spans in :mod:`tunelog.store.sql_spans`, filters in :mod:`tunelog.store.sql_filters`. Plain
``sqlite3`` rather than SQLAlchemy keeps ``import tunelog`` fast; the SQL stays close to what
PostgreSQL also accepts (``ON CONFLICT``, ``json_extract`` behind one function) so a second dialect
can follow.

Storage choices:

- History rows are keyed by (run, key, step) and upserted, so a later write of a step replaces it.
  Numbers and bools are stored as REAL in ``num``; any other value as JSON text in ``val``
  (``None`` → ``'null'``; a NaN becomes NULL in SQLite and reads back as ``None``).
- Each run keeps ``last_step`` (the highest step written) so a resumed run continues after it.
- JSON columns are encoded by :func:`~tunelog.store.sql_common.dumps` (no NaN: SQLite rejects it).

Concurrency (threads and processes): see :mod:`tunelog.store.sqlite_conn`.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from tunelog.errors import RunExistsError, StoreError, warn
from tunelog.filters import Filter, Order
from tunelog.store.base import (
    RUN_MUTABLE_FIELDS,
    RUN_STATES,
    HistoryRow,
    RunKey,
    RunQuery,
    RunRecord,
    WriteBatch,
)
from tunelog.store.migrations import migrate
from tunelog.store.sql_artifacts import ArtifactTables
from tunelog.store.sql_common import chunks, dumps, insert_rows, marks, require_run, run_pk
from tunelog.store.sql_filters import compile_filter, compile_order
from tunelog.store.sql_spans import EventSpanTables, delete_run_events_and_spans, write_events, write_spans
from tunelog.store.sql_ui import DashboardTables
from tunelog.store.sqlite_conn import Connections, begin_immediate, retry_locked

_RUN_COLUMNS = (
    "entity, project, run_id, name, state, job_type, group_name, notes, tags, config, summary, meta, "
    "created_at, updated_at, finished_at, heartbeat_at, exit_code, host, pid, pid_start, last_step"
)
# RunRecord/update_run field → column. Keys are the only names ever put into SQL text.
_FIELD_COLUMNS = {
    "name": "name",
    "state": "state",
    "job_type": "job_type",
    "group": "group_name",
    "notes": "notes",
    "tags": "tags",
    "config": "config",
    "summary": "summary",
    "meta": "meta",
    "finished_at": "finished_at",
    "heartbeat_at": "heartbeat_at",
    "exit_code": "exit_code",
    "host": "host",
    "pid": "pid",
    "pid_start": "pid_start",
    "updated_at": "updated_at",
}
_JSON_FIELDS = frozenset({"config", "summary", "meta"})
_DEFAULT_ORDER = Order("created_at", (), True)
# Every column is replaced on conflict, so REPLACE means the same as an upsert here, and costs
# less per row when (as almost always) there is no conflict.
_UPSERT_HISTORY = "INSERT OR REPLACE INTO history (key_id, step, num, val, time) VALUES (?, ?, ?, ?, ?)"
_INSERT_HISTORY = "INSERT OR REPLACE INTO history (key_id, step, num, val, time)"


def _encode_value(value: Any) -> tuple[float | None, str | None]:
    """A history value → (num, val) columns."""
    if value is None:
        return None, "null"
    if isinstance(value, bool | int | float):  # incl. subclasses (IntEnum, numpy.float64)
        try:
            return float(value), None
        except OverflowError:  # an int beyond float range: keep it exactly, as JSON
            return None, json.dumps(int(value))
    return None, dumps(value)


def run_from_row(row: Sequence[Any]) -> RunRecord:
    return RunRecord(
        key=RunKey(row[0], row[1], row[2]),
        name=row[3],
        state=row[4],
        job_type=row[5],
        group=row[6],
        notes=row[7],
        tags=tuple(json.loads(row[8])),
        config=json.loads(row[9]),
        summary=json.loads(row[10]),
        meta=json.loads(row[11]),
        created_at=row[12],
        updated_at=row[13],
        finished_at=row[14],
        heartbeat_at=row[15],
        exit_code=row[16],
        host=row[17],
        pid=row[18],
        pid_start=row[19],
        last_step=row[20],
    )


def _encode_field(field: str, value: Any) -> Any:
    if field == "tags":
        return dumps([str(t) for t in (value or ())])
    if field in _JSON_FIELDS:
        return dumps(dict(value or {}))
    if field == "state" and value not in RUN_STATES:
        raise ValueError(f"Invalid run state {value!r}: use one of {', '.join(RUN_STATES)}.")
    return value


def encode_changes(changes: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """``SET`` clause and values for an update of run fields; unknown fields raise ValueError."""
    unknown = sorted(set(changes) - RUN_MUTABLE_FIELDS)
    if unknown:
        raise ValueError(
            f"Cannot update run field(s) {', '.join(map(repr, unknown))}: only "
            f"{', '.join(sorted(RUN_MUTABLE_FIELDS))} can change after a run is created."
        )
    sets = ", ".join(f"{_FIELD_COLUMNS[f]} = ?" for f in changes)
    return sets, [_encode_field(f, v) for f, v in changes.items()]


class SQLStore(ArtifactTables, EventSpanTables, DashboardTables):
    """The store on one SQLite file (or an in-memory database when ``path`` is None).

    Opening runs pending schema migrations (see :mod:`tunelog.store.migrations`). Safe to use from
    several threads (each gets its own connection) and several processes at once.

    Raises:
        SchemaTooNewError: the file was written by a newer tunelog.
        StoreError: the file cannot be opened as a tunelog store.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.location = str(path) if path is not None else ":memory:"
        self._dropped_rows = 0
        conns = Connections(self.location, shared=path is None)
        try:
            with conns.lease() as conn:
                if path is not None:
                    self._enable_wal(conn)
                migrate(conn, where=self.location, begin=begin_immediate)
        except sqlite3.Error as exc:
            conns.close()
            raise StoreError(
                f"Cannot open the tunelog store at {self.location}: {exc}. Check that the path is a "
                "tunelog database (or a new file) on a local disk you can write to."
            ) from exc
        except BaseException:
            conns.close()
            raise
        super().__init__(conns)

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        mode = retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0], "enabling WAL")
        if str(mode).lower() != "wal":
            warn(
                "tunelog: the store at %s could not use WAL mode (got %r); concurrent readers and "
                "writers will wait for each other. Keep TUNELOG_DIR on a local disk.",
                self.location,
                mode,
            )

    def __repr__(self) -> str:
        return f"SQLStore({self.location!r})"

    # -- runs -------------------------------------------------------------------------------------
    def create_run(self, record: RunRecord) -> None:
        k = record.key
        values = (
            k.entity, k.project, k.run_id, record.name, _encode_field("state", record.state),
            record.job_type, record.group, record.notes, _encode_field("tags", record.tags),
            dumps(dict(record.config)), dumps(dict(record.summary)), dumps(dict(record.meta)),
            record.created_at, record.updated_at, record.finished_at, record.heartbeat_at,
            record.exit_code, record.host, record.pid, record.pid_start, record.last_step,
        )  # fmt: skip

        def tx(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({marks(len(values))}) "
                "ON CONFLICT (entity, project, run_id) DO NOTHING",
                values,
            )
            return cur.rowcount

        if self._conns.write(tx, f"creating run {k}") == 0:
            raise RunExistsError(
                f"A run with id {k.run_id!r} already exists in {k.entity}/{k.project}. Resume it with "
                "tunelog.init(id=..., resume='allow'), or choose another id."
            )

    def get_run(self, key: RunKey) -> RunRecord | None:
        def tx(conn: sqlite3.Connection) -> RunRecord | None:
            row = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE entity = ? AND project = ? AND run_id = ?",
                (key.entity, key.project, key.run_id),
            ).fetchone()
            return None if row is None else run_from_row(row)

        return self._conns.read(tx, f"reading run {key}")

    def update_run(self, key: RunKey, changes: Mapping[str, Any]) -> None:
        sets, values = encode_changes(changes)
        if not changes:
            return

        def tx(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                f"UPDATE runs SET {sets} WHERE entity = ? AND project = ? AND run_id = ?",
                (*values, key.entity, key.project, key.run_id),
            )
            if cur.rowcount == 0:
                require_run(conn, key)

        self._conns.write(tx, f"updating run {key}")

    def list_runs(self, entity: str, project: str, query: RunQuery) -> list[RunRecord]:
        where, params = compile_filter(query.filter)
        order, order_params = compile_order(query.order or _DEFAULT_ORDER)
        limit = -1 if query.limit is None else max(0, int(query.limit))
        sql = (
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE entity = ? AND project = ? AND ({where}) "
            f"ORDER BY {order} LIMIT ? OFFSET ?"
        )
        args = [entity, project, *params, *order_params, limit, max(0, int(query.offset))]

        def tx(conn: sqlite3.Connection) -> list[RunRecord]:
            return [run_from_row(r) for r in conn.execute(sql, args)]

        return self._conns.read(tx, f"listing runs of {entity}/{project}")

    def count_runs(self, entity: str, project: str, filter: Filter | None) -> int:
        where, params = compile_filter(filter)
        sql = f"SELECT count(*) FROM runs WHERE entity = ? AND project = ? AND ({where})"

        def tx(conn: sqlite3.Connection) -> int:
            return int(conn.execute(sql, [entity, project, *params]).fetchone()[0])

        return self._conns.read(tx, f"counting runs of {entity}/{project}")

    def list_projects(self, entity: str | None = None) -> list[tuple[str, str]]:
        if entity is None:
            sql, args = "SELECT entity, project FROM runs UNION SELECT entity, project FROM collections", []
        else:
            sql = (
                "SELECT entity, project FROM runs WHERE entity = ? "
                "UNION SELECT entity, project FROM collections WHERE entity = ?"
            )
            args = [entity, entity]

        def tx(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            return [(r[0], r[1]) for r in conn.execute(sql + " ORDER BY 1, 2", args)]

        return self._conns.read(tx, "listing projects")

    def delete_run(self, key: RunKey) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            pk = require_run(conn, key)
            conn.execute(
                "DELETE FROM history WHERE key_id IN (SELECT id FROM history_keys WHERE run_pk = ?)", (pk,)
            )
            conn.execute("DELETE FROM history_keys WHERE run_pk = ?", (pk,))
            conn.execute("DELETE FROM blob_refs WHERE run_pk = ?", (pk,))
            conn.execute("DELETE FROM artifact_usage WHERE run_pk = ?", (pk,))
            delete_run_events_and_spans(conn, pk)
            conn.execute("UPDATE versions SET logged_by = NULL WHERE logged_by = ?", (pk,))
            conn.execute("DELETE FROM runs WHERE pk = ?", (pk,))

        self._conns.write(tx, f"deleting run {key}")

    # -- history ----------------------------------------------------------------------------------
    def write(self, batch: WriteBatch) -> None:
        if not batch:
            return
        updates = [(key, *encode_changes(changes)) for key, changes in batch.run_updates.items() if changes]

        def tx(conn: sqlite3.Connection) -> int:
            pks: dict[RunKey, int | None] = {}

            def pk_of(key: RunKey) -> int | None:
                if key not in pks:
                    pks[key] = run_pk(conn, key)
                return pks[key]

            dropped = 0
            for key, rows in batch.history.items():
                if not rows:
                    continue
                pk = pk_of(key)
                if pk is None:  # deleted while it was logging
                    dropped += len(rows)
                    continue
                ids = _key_ids(conn, pk, {r.key for r in rows})
                params = _history_params(ids, rows)
                conn.executemany(_UPSERT_HISTORY, params)
                top = max(p[1] for p in params)
                conn.execute(
                    "UPDATE runs SET last_step = max(coalesce(last_step, ?), ?) WHERE pk = ?", (top, top, pk)
                )
            for key, steps in batch.steps.items():
                pk = pk_of(key)
                if pk is None:
                    dropped += sum(len(v) for _, _, v in steps)
                    continue
                names: set[str] = set()
                for _, _, step_values in steps:
                    names.update(step_values)
                if not names:
                    continue
                params = _step_params(_key_ids(conn, pk, names), steps)
                insert_rows(conn, _INSERT_HISTORY, params)  # many rows a statement (see insert_rows)
                top = max(s[0] for s in steps)
                conn.execute(
                    "UPDATE runs SET last_step = max(coalesce(last_step, ?), ?) WHERE pk = ?", (top, top, pk)
                )
            dropped += write_events(conn, pk_of, batch.events)
            dropped += write_spans(conn, pk_of, batch.spans)
            for key, sets, values in updates:
                conn.execute(
                    f"UPDATE runs SET {sets} WHERE entity = ? AND project = ? AND run_id = ?",
                    (*values, key.entity, key.project, key.run_id),
                )
            return dropped

        dropped = self._conns.write(tx, "writing history, events and spans")
        # The writer thread only appends: what it wrote is not worth keeping in its page cache.
        self._conns.release_memory()
        if dropped:
            if not self._dropped_rows:
                warn(
                    "tunelog: dropped %d history rows, events or spans of runs that no longer exist in "
                    "%s (deleted while logging); further drops are counted silently.",
                    dropped,
                    self.location,
                )
            self._dropped_rows += dropped

    def read_history(
        self,
        key: RunKey,
        keys: Sequence[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        limit: int | None = None,
    ) -> list[HistoryRow]:
        # One range scan per key (each already in step order, the key's name bound into its rows),
        # merged by (step, name): reads only as many rows per key as the result can use.
        cond, bounds = "", []
        if min_step is not None:
            cond += " AND step >= ?"
            bounds.append(int(min_step))
        if max_step is not None:
            cond += " AND step <= ?"
            bounds.append(int(max_step))
        cap = -1 if limit is None else max(0, int(limit))
        sql = f"SELECT step, ?, num, val, time FROM history WHERE key_id = ?{cond} ORDER BY step LIMIT ?"

        def tx(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            pk = run_pk(conn, key)
            if pk is None or cap == 0:
                return []
            if keys is None:
                named = conn.execute("SELECT name, id FROM history_keys WHERE run_pk = ?", (pk,)).fetchall()
            else:
                named = list(_existing_key_ids(conn, pk, list(dict.fromkeys(keys))).items())
            scans = [conn.execute(sql, (name, key_id, *bounds, cap)) for name, key_id in named]
            # (step, name) is unique across the scans, so tuples never compare beyond it.
            merged = scans[0] if len(scans) == 1 else _merge(scans)
            return list(merged if limit is None else itertools.islice(merged, cap))

        rows = self._conns.read(tx, f"reading the history of run {key}")
        return [HistoryRow(r[0], r[1], r[2] if r[3] is None else json.loads(r[3]), r[4]) for r in rows]

    def history_keys(self, key: RunKey) -> list[str]:
        def tx(conn: sqlite3.Connection) -> list[str]:
            pk = run_pk(conn, key)
            if pk is None:
                return []
            return [
                r[0]
                for r in conn.execute("SELECT name FROM history_keys WHERE run_pk = ? ORDER BY name", (pk,))
            ]

        return self._conns.read(tx, f"reading the history keys of run {key}")

    def add_blob_refs(self, run: RunKey, shas: Iterable[str]) -> None:
        unique = sorted(set(shas))
        if not unique:
            return

        def tx(conn: sqlite3.Connection) -> None:
            pk = require_run(conn, run)
            conn.executemany(
                "INSERT INTO blob_refs (run_pk, sha256) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(pk, sha) for sha in unique],
            )

        self._conns.write(tx, f"recording blobs of run {run}")

    def referenced_blobs(self) -> set[str]:
        def tx(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute("SELECT sha256 FROM manifest UNION SELECT sha256 FROM blob_refs")
            return {r[0] for r in rows}

        return self._conns.read(tx, "listing referenced blobs")

    # -- lifecycle --------------------------------------------------------------------------------
    def close(self) -> None:
        self._conns.close()


def _existing_key_ids(conn: sqlite3.Connection, pk: int, names: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(names):
        found.update(
            conn.execute(
                f"SELECT name, id FROM history_keys WHERE run_pk = ? AND name IN ({marks(len(chunk))})",
                (pk, *chunk),
            ).fetchall()
        )
    return found


def _key_ids(conn: sqlite3.Connection, pk: int, names: set[str]) -> dict[str, int]:
    """Ids of a run's history keys, creating the missing ones."""
    wanted = sorted(names)
    ids = _existing_key_ids(conn, pk, wanted)
    missing = [n for n in wanted if n not in ids]
    if missing:
        conn.executemany("INSERT INTO history_keys (run_pk, name) VALUES (?, ?)", [(pk, n) for n in missing])
        ids.update(_existing_key_ids(conn, pk, missing))
    return ids


def _history_params(ids: Mapping[str, int], rows: Sequence[HistoryRow]) -> list[tuple[Any, ...]]:
    # The hot loop of a 1M-point log: floats and bools go straight in, the rest through _encode_value.
    out: list[tuple[Any, ...]] = []
    append = out.append
    for r in rows:
        v = r.value
        if type(v) is float or type(v) is bool:
            append((ids[r.key], r.step, v, None, r.time))
        else:
            num, text = _encode_value(v)
            append((ids[r.key], r.step, num, text, r.time))
    return out


def _step_params(
    ids: Mapping[str, int], steps: Sequence[tuple[int, float, Mapping[str, Any]]]
) -> list[tuple[Any, ...]]:
    # The hottest loop of a 1M-point log: exact floats go straight in (NaN binds as NULL).
    out: list[tuple[Any, ...]] = []
    append = out.append
    for step, t, values in steps:
        for k, v in values.items():
            if type(v) is float:
                append((ids[k], step, v, None, t))
            elif type(v) is int and -1e300 < v < 1e300:  # token counts and the like: as floats, fast
                append((ids[k], step, float(v), None, t))
            else:
                num, text = _encode_value(v.item() if _is_array_scalar(v) else v)
                append((ids[k], step, num, text, t))
    if len(ids) > 1:
        # Key by key, steps in order within each (a stable sort: a step written twice keeps its
        # last value last): each key's rows then go to the end of its own range of the table, page
        # after page, instead of every row to another page (~30 % less insert time).
        out.sort(key=_KEY_ID)
    return out


_KEY_ID = itemgetter(0)


def _is_array_scalar(v: Any) -> bool:
    """numpy/torch 0-d values (not subclasses of float/int) become their Python value."""
    return not isinstance(v, bool | int | float | str) and getattr(v, "ndim", None) == 0


def _merge(scans: Sequence[sqlite3.Cursor]) -> Iterator[Any]:
    import heapq  # here, not at the top: only reads of several keys merge, never a starting run

    return heapq.merge(*scans)
