"""One filter structure for runs, shared by ``Api.runs`` and the dashboard's filter expressions.

A filter is a MongoDB-style mapping, the shape wandb's public API takes::

    {"config.hyperparameters.n_epochs": {"$gte": 3},
     "state": "finished",
     "tags": {"$in": ["baseline"]},
     "$or": [{"summary.loss": {"$lt": 0.2}}, {"name": {"$regex": "^ft-"}}]}

:func:`parse_filter` validates it into a small tree (:class:`Cond`, :class:`And`, :class:`Or`,
:class:`Not`) that stores compile to their query language. Paths are dotted: the first part is a run
field (``id``, ``name``, ``state``, ``job_type``, ``group``, ``notes``, ``tags``, ``created_at``,
``updated_at``, ``finished_at``) or ``config``/``summary``/``meta`` followed by a path inside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, TypeAlias

from tunelog.errors import UsageError

RUN_FIELDS = frozenset(
    {
        "id",
        "name",
        "state",
        "job_type",
        "group",
        "notes",
        "tags",
        "created_at",
        "updated_at",
        "finished_at",
        "heartbeat_at",
        "exit_code",
    }
)
JSON_FIELDS = frozenset({"config", "summary", "meta"})
OPERATORS = frozenset(
    {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex", "$contains"}
)


class Cond(NamedTuple):
    """``field`` (a run column) or ``field.path...`` (inside a JSON column) ``op`` ``value``."""

    field: str
    path: tuple[str, ...]
    op: str
    value: Any


class And(NamedTuple):
    items: tuple[Filter, ...]


class Or(NamedTuple):
    items: tuple[Filter, ...]


class Not(NamedTuple):
    item: Filter


Filter: TypeAlias = Cond | And | Or | Not


def split_path(dotted: str) -> tuple[str, tuple[str, ...]]:
    """``"config.a.b"`` → ``("config", ("a", "b"))``; validates the field."""
    field, *rest = dotted.split(".")
    if field in RUN_FIELDS and not rest:
        return field, ()
    if field in JSON_FIELDS and rest and all(rest):
        return field, tuple(rest)
    raise UsageError(
        f"Unknown filter path {dotted!r}. Use a run field ({', '.join(sorted(RUN_FIELDS))}) or "
        "'config.<key>', 'summary.<key>', 'meta.<key>' (dotted for nested keys)."
    )


def parse_filter(spec: Mapping[str, Any] | None) -> Filter | None:
    """Validate a filter mapping into a tree; ``None`` or ``{}`` means no filter."""
    if not spec:
        return None
    if not isinstance(spec, Mapping):
        raise UsageError(
            f"A filter must be a dict such as {{'state': 'finished'}}, not {type(spec).__name__}."
        )
    items: list[Filter] = []
    for key, value in spec.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list | tuple) or not value:
                raise UsageError(f"'{key}' takes a non-empty list of filters, got {value!r}.")
            subs = tuple(f for f in (parse_filter(v) for v in value) if f is not None)
            items.append(And(subs) if key == "$and" else Or(subs))
        elif key == "$not":
            sub = parse_filter(value)
            if sub is not None:
                items.append(Not(sub))
        elif key.startswith("$"):
            raise UsageError(
                f"Unknown filter operator {key!r} at the top level; use '$and', '$or' or '$not'."
            )
        else:
            field, path = split_path(key)
            if isinstance(value, Mapping) and value and all(str(k).startswith("$") for k in value):
                for op, operand in value.items():
                    items.append(_cond(key, field, path, op, operand))
            else:
                items.append(Cond(field, path, "$eq", value))
    return items[0] if len(items) == 1 else And(tuple(items))


def _cond(key: str, field: str, path: tuple[str, ...], op: str, operand: Any) -> Cond:
    if op not in OPERATORS:
        raise UsageError(f"Unknown operator {op!r} for {key!r}. Use one of {', '.join(sorted(OPERATORS))}.")
    if op in ("$in", "$nin") and not isinstance(operand, list | tuple):
        raise UsageError(f"'{op}' for {key!r} takes a list, got {operand!r}.")
    if op in ("$regex", "$contains") and not isinstance(operand, str):
        raise UsageError(f"'{op}' for {key!r} takes a string, got {operand!r}.")
    if op == "$exists" and not isinstance(operand, bool):
        raise UsageError(f"'$exists' for {key!r} takes true or false, got {operand!r}.")
    return Cond(field, path, op, tuple(operand) if op in ("$in", "$nin") else operand)


class Order(NamedTuple):
    field: str
    path: tuple[str, ...]
    descending: bool


def parse_order(order: str | None) -> Order:
    """``"-created_at"`` / ``"+summary.loss"`` / ``"config.lr"`` → :class:`Order` (default newest first)."""
    if not order:
        return Order("created_at", (), True)
    desc = order.startswith("-")
    field, path = split_path(order.lstrip("+-"))
    return Order(field, path, desc)
