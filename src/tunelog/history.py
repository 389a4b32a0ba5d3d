"""Flattening and classifying logged values, on the caller's thread: no I/O, as little work as can be.

``run.log({"train": {"loss": 0.1}})`` becomes the key ``train/loss``. Numbers and bools become
floats (NaN and None become ``None``); tables become references written by the caller; anything else
must be JSON, else it is stored as its ``repr`` with one warning.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from tunelog.errors import warn

_SCALARS = (int, float, bool)


def flatten(data: Mapping[str, Any], sep: str = "/") -> dict[str, Any]:
    """Flatten nested mappings into ``a/b`` keys. Returns ``data`` itself when nothing is nested."""
    for v in data.values():
        if isinstance(v, Mapping):
            break
    else:
        return data if isinstance(data, dict) else dict(data)
    out: dict[str, Any] = {}
    _flatten_into(out, data, "", sep)
    return out


def _flatten_into(out: dict[str, Any], data: Mapping[str, Any], prefix: str, sep: str) -> None:
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v and not _is_special(v):
            _flatten_into(out, v, key + sep, sep)
        else:
            out[key] = v


def _is_special(v: Mapping[str, Any]) -> bool:
    return "_type" in v


def scalar(value: Any) -> tuple[bool, Any]:
    """``(True, float_or_None)`` for a number-like value, else ``(False, value)``."""
    if isinstance(value, _SCALARS):
        f = float(value)
        return True, (None if math.isnan(f) else f)
    if value is None:
        return True, None
    item = getattr(value, "item", None)  # numpy / torch scalars, without importing them
    if item is not None and getattr(value, "ndim", 1) == 0:
        try:
            return scalar(item())
        except (TypeError, ValueError):
            return False, value
    return False, value


def json_safe(value: Any, *, what: str, warned: set[str]) -> Any:
    """``value`` if it serialises as JSON, else its ``repr`` with one warning per ``what``."""
    try:
        json.dumps(value, allow_nan=True)
        return value
    except (TypeError, ValueError):
        if what not in warned:
            warned.add(what)
            warn(
                "tunelog: %s is not JSON-serialisable (%s); storing its repr instead. "
                "Convert it to str, int, float, bool, list or dict to keep its value.",
                what,
                type(value).__name__,
            )
        return _repr_tree(value)


def _repr_tree(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _repr_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_repr_tree(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)
