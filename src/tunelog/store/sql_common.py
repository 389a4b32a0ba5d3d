"""What both halves of :class:`~tunelog.store.sql.SQLStore` share: encoding JSON columns, finding
a run's row, and building ``IN (...)`` lists in chunks."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from itertools import chain
from typing import Any, TypeVar

from tunelog.errors import ReferenceNotFound
from tunelog.store.base import RunKey

T = TypeVar("T")
IN_CHUNK = 500  # values per "IN (...)", well under SQLite's parameter limit


def dumps(value: Any) -> str:
    """JSON text that SQLite's JSON functions accept.

    ``NaN``/``Infinity`` are not JSON and SQLite rejects them (one such value would break filtering
    a whole project), so non-finite floats become ``null``; objects JSON cannot encode become their
    ``repr`` (the layer above warns about those before they get here). Text stays UTF-8, not
    ``\\u`` escapes: SQLite matches JSON path keys against the raw key text, so an escaped
    ``"température"`` could never be filtered on.
    """
    try:
        text = _dumps(value)
    except ValueError:  # a non-finite float somewhere, or a reference cycle
        try:
            text = _dumps(_finite(value))
        except (ValueError, RecursionError):
            text = _dumps(repr(value))
    return storable(text)


def storable(text: str) -> str:
    """JSON ``text`` as SQLite can store it: a lone surrogate (not UTF-8) only in escaped form."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(json.loads(text), separators=(",", ":"))
    return text


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=repr, ensure_ascii=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def run_pk(conn: sqlite3.Connection, key: RunKey) -> int | None:
    row = conn.execute(
        "SELECT pk FROM runs WHERE entity = ? AND project = ? AND run_id = ?",
        (key.entity, key.project, key.run_id),
    ).fetchone()
    return None if row is None else int(row[0])


def require_run(conn: sqlite3.Connection, key: RunKey) -> int:
    """The run's row id; :class:`ReferenceNotFound` if there is no such run."""
    pk = run_pk(conn, key)
    if pk is None:
        raise ReferenceNotFound(
            f"Run {key} does not exist. List the project's runs with "
            f"tunelog.Api().runs('{key.entity}/{key.project}')."
        )
    return pk


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(n: int) -> str:
    """``?, ?, ?`` for ``n`` parameters."""
    return ", ".join("?" * n)


_ROWS_PER_STATEMENT = 64


def insert_rows(conn: sqlite3.Connection, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """``head VALUES (?, …), (?, …) … tail`` for every row, many rows per statement.

    Like ``executemany``, but one statement (one ``sqlite3_step``) per 64 rows: executemany lets go
    of the GIL for every row, and a busy thread that takes it each time leaves the writer waiting a
    whole switch interval (5 ms) per row to get it back. Statement sizes are powers of two, so few
    distinct statements are prepared (and cached by the connection)."""
    if not rows:
        return
    width = len(rows[0])
    i, n = 0, len(rows)
    while i < n:
        size = min(_ROWS_PER_STATEMENT, 1 << ((n - i).bit_length() - 1))
        part = rows[i : i + size]
        conn.execute(_values_sql(head, tail, width, size), list(chain.from_iterable(part)))
        i += size


_SQL: dict[tuple[str, str, int, int], str] = {}


def _values_sql(head: str, tail: str, width: int, size: int) -> str:
    key = (head, tail, width, size)
    sql = _SQL.get(key)
    if sql is None:
        one = "(" + ", ".join("?" * width) + ")"
        sql = _SQL[key] = f"{head} VALUES {', '.join([one] * size)} {tail}"
    return sql
