"""``SpanRecord``, the one span record: a frozen dataclass, so that users' redact hooks may return
``dataclasses.replace(span, ...)``.

Apart from :mod:`tunelog.store.base` (which re-exports it) so that the ``dataclasses`` import (~5 ms,
it pulls in :mod:`inspect`) is paid only by modules that use spans at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunelog.store.base import RunKey


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One recorded call or user step (see SPEC.md: span). Times are UNIX seconds with sub-ms
    precision; ``inputs``/``outputs``/``attributes`` are JSON values (between an autologged call's
    building and its commit, ``inputs`` and ``outputs`` are held encoded: see ``json_columns``)."""

    span_id: str
    trace_id: str
    parent_id: str | None
    run: RunKey
    name: str
    kind: str  # "llm", "embedding", "moderation", "image", "chain", "tool", ...
    start_time: float
    end_time: float | None
    status: str  # "ok", "error", "incomplete"
    model: str | None = None
    inputs: Any = None
    outputs: Any = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    usage: Mapping[str, Any] | None = None  # prompt_tokens, completion_tokens, total_tokens, ...
    cost_usd: float | None = None
    error: Mapping[str, Any] | None = None  # type, message, status_code
