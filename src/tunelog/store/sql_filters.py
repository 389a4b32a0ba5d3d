"""Compile the run filter tree (:mod:`tunelog.filters`) and an :class:`~tunelog.filters.Order` to SQL.

Values are always bound parameters; column names come only from the fixed maps below; JSON paths
(``config.a.b`` → ``$."a"."b"``) are bound too. Semantics, for the runs table:

- Run fields compare their column; ``config``/``summary``/``meta`` paths compare ``json_extract``
  (a JSON ``true`` is 1, a missing key and a JSON ``null`` are both NULL).
- ``$gt``/``$gte``/``$lt``/``$lte`` compare numbers with numbers and strings with strings only, so
  ``{"$gt": 3}`` never matches the string ``"abc"``.
- ``$ne`` and ``$nin`` match a missing value; ``$not`` of a condition matches where it does not hold,
  missing values included.
- ``$contains``: a substring of a string; for a JSON array, has this element.
- ``tags``: ``"x"``, ``{"$contains": "x"}`` and ``{"$eq": "x"}`` mean has tag x; ``{"$in": [...]}``
  has any of them; ``{"$nin": [...]}`` has none; ``{"$eq": [...]}`` has all of them; ``$exists``
  means has at least one tag; ``$regex`` means some tag matches.
"""

from __future__ import annotations

import re
from typing import Any, TypeAlias

from tunelog.errors import UsageError
from tunelog.filters import And, Cond, Filter, Not, Or, Order
from tunelog.store.sql_common import dumps

RUN_COLUMNS = {
    "id": "run_id",
    "name": "name",
    "state": "state",
    "job_type": "job_type",
    "group": "group_name",
    "notes": "notes",
    "tags": "tags",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "finished_at": "finished_at",
    "heartbeat_at": "heartbeat_at",
    "exit_code": "exit_code",
}
JSON_COLUMNS = {"config": "config", "summary": "summary", "meta": "meta"}
_COMPARE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_SCALARS = (str, int, float, bool, type(None))
_Expr: TypeAlias = tuple[str, tuple[Any, ...]]  # SQL text and the parameters its "?" take


def json_path(path: tuple[str, ...]) -> str:
    """``("a", "b")`` → ``$."a"."b"`` (each key quoted, so dots/brackets in keys are literal)."""
    for part in path:
        if '"' in part:
            raise UsageError(
                f"Cannot filter or sort on the key {part!r}: keys containing '\"' are not supported in "
                "paths. Rename the key, or filter those runs in Python."
            )
    return "$" + "".join(f'."{part}"' for part in path)


def _json_text(value: Any) -> str:
    # The compact form SQLite's json_extract returns for arrays and objects (and that we store).
    return dumps(value)


class _Compiler:
    def __init__(self) -> None:
        self.params: list[Any] = []

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def use(self, expr: _Expr) -> str:
        """Emit an expression, binding its parameters again (f-strings evaluate left to right, so
        parameters are bound in the order their ``?`` appear)."""
        self.params.extend(expr[1])
        return expr[0]

    def node(self, f: Filter) -> str:
        if isinstance(f, Cond):
            return self.cond(f)
        if isinstance(f, And | Or):
            if not f.items:
                return "1" if isinstance(f, And) else "0"
            joiner = " AND " if isinstance(f, And) else " OR "
            return "(" + joiner.join(self.node(i) for i in f.items) + ")"
        if isinstance(f, Not):
            # A NULL (unknown: a missing value) inside counts as false, so NOT matches it.
            return f"(NOT coalesce({self.node(f.item)}, 0))"
        raise UsageError(f"Not a filter node: {f!r}. Build filters with tunelog.filters.parse_filter.")

    def cond(self, c: Cond) -> str:
        if c.field == "tags":
            return self.tags(c)
        if c.field in JSON_COLUMNS:
            return self.json_cond(c, JSON_COLUMNS[c.field])
        column = RUN_COLUMNS.get(c.field)
        if column is None:
            raise UsageError(f"Unknown run field {c.field!r} in a filter.")
        return self.scalar_cond(c, (column, ()), json_operands=False)

    def json_cond(self, c: Cond, column: str) -> str:
        path = json_path(c.path)
        if c.op == "$exists":
            return f"(json_type({column}, {self.bind(path)}) IS {'NOT ' if c.value else ''}NULL)"
        if c.op == "$contains":
            return (
                f"(CASE json_type({column}, {self.bind(path)}) "
                f"WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each({column}, {self.bind(path)}) "
                f"WHERE json_each.value = {self.bind(c.value)}) "
                f"WHEN 'text' THEN "
                f"instr(json_extract({column}, {self.bind(path)}), {self.bind(c.value)}) > 0 "
                "ELSE 0 END)"
            )
        return self.scalar_cond(c, (f"json_extract({column}, ?)", (path,)), json_operands=True)

    def operand(self, c: Cond, value: Any, json_operands: bool) -> str:
        if isinstance(value, _SCALARS):
            return self.bind(value)
        if json_operands and isinstance(value, list | tuple | dict):
            return self.bind(_json_text(list(value) if isinstance(value, tuple) else value))
        raise UsageError(
            f"Cannot compare {c.field} with {value!r} ({type(value).__name__}): use a string, number, "
            "bool or None."
        )

    def scalar_cond(self, c: Cond, expr: _Expr, json_operands: bool) -> str:
        op, value = c.op, c.value
        if op == "$eq":
            if value is None:
                return f"({self.use(expr)} IS NULL)"
            return f"({self.use(expr)} = {self.operand(c, value, json_operands)})"
        if op == "$ne":
            return f"({self.use(expr)} IS NOT {self.operand(c, value, json_operands)})"
        if op in _COMPARE:
            if isinstance(value, bool | int | float):
                kinds = "('integer', 'real')"
            elif isinstance(value, str):
                kinds = "('text')"
            else:
                raise UsageError(f"'{op}' on {c.field!r} takes a number or a string, got {value!r}.")
            typed = f"typeof({self.use(expr)}) IN {kinds}"
            return f"({typed} AND {self.use(expr)} {_COMPARE[op]} {self.bind(value)})"
        if op in ("$in", "$nin"):
            inside = self.in_list(c, expr, list(value), json_operands)
            return inside if op == "$in" else f"(NOT {inside})"
        if op == "$exists":
            return f"({self.use(expr)} IS {'NOT ' if value else ''}NULL)"
        if op == "$regex":
            check_regex(c.field, value)
            return f"coalesce({self.use(expr)} REGEXP {self.bind(value)}, 0)"
        if op == "$contains":
            return f"coalesce(instr({self.use(expr)}, {self.bind(value)}) > 0, 0)"
        raise UsageError(f"Unknown operator {op!r} for {c.field!r}.")

    def in_list(self, c: Cond, expr: _Expr, values: list[Any], json_operands: bool) -> str:
        """``expr IN values``, never NULL (a NULL in ``values`` matches a missing value)."""
        with_null = any(v is None for v in values)
        rest = [v for v in values if v is not None]
        if not rest:
            return f"({self.use(expr)} IS NULL)" if with_null else "(0)"
        null_test = f"{self.use(expr)} IS NULL OR" if with_null else f"{self.use(expr)} IS NOT NULL AND"
        inside = f"{self.use(expr)} IN ("
        marks = ", ".join(self.operand(c, v, json_operands) for v in rest)
        return f"({null_test} {inside}{marks}))"

    def tags(self, c: Cond) -> str:
        op, value = c.op, c.value
        has = "EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE json_each.value {})"
        if op in ("$eq", "$contains", "$ne") and isinstance(value, str):
            sql = has.format(f"= {self.bind(value)}")
            return f"(NOT {sql})" if op == "$ne" else sql
        if op == "$eq" and isinstance(value, list | tuple):
            if not value:
                return "(json_array_length(runs.tags) = 0)"
            return "(" + " AND ".join(has.format(f"= {self.bind(self.tag(c, v))}") for v in value) + ")"
        if op == "$eq" and value is None:
            return "(json_array_length(runs.tags) = 0)"
        if op in ("$in", "$nin"):
            if not value:
                return "(0)" if op == "$in" else "(1)"
            marks = ", ".join(self.bind(self.tag(c, v)) for v in value)
            sql = has.format(f"IN ({marks})")
            return sql if op == "$in" else f"(NOT {sql})"
        if op == "$exists":
            return f"(json_array_length(runs.tags) {'>' if value else '='} 0)"
        if op == "$regex":
            check_regex("tags", value)
            return has.format(f"REGEXP {self.bind(value)}")
        raise UsageError(
            f"Cannot filter tags with {op!r} {value!r}. Use 'tags': 'x' (has tag x), "
            "{'$in': [...]} (has any), {'$nin': [...]} (has none), {'$eq': [...]} (has all), "
            "'$regex' or '$exists'."
        )

    @staticmethod
    def tag(c: Cond, value: Any) -> str:
        if not isinstance(value, str):
            raise UsageError(f"Tags are strings; {c.op!r} on tags got {value!r}.")
        return value


def check_regex(field: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise UsageError(
            f"Invalid regular expression {pattern!r} for {field!r}: {exc}. Write a Python 're' pattern."
        ) from exc


def compile_filter(f: Filter | None) -> tuple[str, list[Any]]:
    """SQL for a WHERE clause over ``runs`` and its parameters; ``None`` → always true."""
    if f is None:
        return "1", []
    compiler = _Compiler()
    return compiler.node(f), compiler.params


def compile_order(order: Order) -> tuple[str, list[Any]]:
    """An ORDER BY clause (nulls last, then the run's row id as a stable tiebreak) and its parameters."""
    direction = "DESC" if order.descending else "ASC"
    if order.field in JSON_COLUMNS:
        column = JSON_COLUMNS[order.field]
        path = json_path(order.path)
        expr, params = f"json_extract({column}, ?)", [path, path]
    else:
        column_name = RUN_COLUMNS.get(order.field)
        if column_name is None:
            raise UsageError(f"Cannot sort runs by {order.field!r}.")
        expr, params = column_name, []
    return f"({expr}) IS NULL, {expr} {direction}, pk {direction}", params
