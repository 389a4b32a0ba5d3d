"""Templates and the small formatting helpers pages share (times, durations, numbers, JSON paths).

Every template is autoescaped; data for scripts goes into ``<script type="application/json">``
through Jinja's ``tojson`` (which escapes ``<``, ``>``, ``&`` and ``'``), so user content never
becomes markup or code.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import jinja2
from markupsafe import Markup


def when(ts: float | None) -> str:
    """A UNIX time as ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def ago(ts: float | None, now: float | None = None) -> str:
    """``"3 min ago"``: a short, relative time."""
    if ts is None:
        return "–"
    delta = max(0.0, (now if now is not None else time.time()) - ts)
    for limit, unit, size in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600), (86400 * 60, "d", 86400)):
        if delta < limit:
            return f"{int(delta // size)} {unit} ago"
    return when(ts)[:10]


def duration(seconds: float | None) -> str:
    """``"1h 02m"``, ``"3m 05s"``, ``"850 ms"``."""
    if seconds is None or seconds < 0 or math.isnan(seconds):
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m"


def num(value: Any) -> str:
    """Numbers to 4 significant digits (integers whole); anything else as short text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    if value is None:
        return "–"
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 80 else text[:79] + "…"
    return str(value)


def money(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0:
        return "$0"
    if abs(value) < 0.0001:  # one call of a small model: show the digits that carry the amount
        return f"${value:.10f}".rstrip("0") if abs(value) >= 1e-10 else "<$0.0000000001"
    return f"${value:.4f}" if abs(value) < 1 else f"${value:,.2f}"


def flatten(value: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``{"a": {"b": 1}}`` → ``("a.b", 1)``; lists and scalars are leaves; references to tables
    and media (dicts with ``_type``) are left out."""
    for k, v in value.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping) and "_type" in v:  # a table or media reference, not a value
            continue
        if isinstance(v, Mapping) and v:
            yield from flatten(v, path + ".")
        else:
            yield path, v


def lookup(value: Any, dotted: str) -> Any:
    """``lookup({"a": {"b": 1}}, "a.b")`` → 1; missing → None."""
    cur = value
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


def pretty_json(value: Any, limit: int = 200_000) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[:limit] + "\n… (truncated)"


def make_env() -> jinja2.Environment:
    """The template environment: autoescaped."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tunelog.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        ago=ago,
        duration=duration,
        num=num,
        money=money,
        pretty_json=pretty_json,
    )
    env.globals.update(lookup=lookup, Markup=Markup)
    return env
