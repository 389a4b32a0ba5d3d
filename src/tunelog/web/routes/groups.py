"""The JSON endpoints of the workspace's "group by": the groups of a project's runs, counted and
aggregated in the store over every run the filter matches, and each group's runs a page at a time.

Declared as :class:`~tunelog.web.json_api.Endpoint` s, so they are served and documented in the
OpenAPI schema like the other JSON endpoints (:func:`tunelog.web.json_api.endpoints` adds them).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from tunelog.errors import UsageError
from tunelog.web import serialize as ser
from tunelog.web.context import Web
from tunelog.web.json_api import Endpoint, int_param
from tunelog.web.workspace import ViewSpec, build_filter

_COMMON = {
    "by": ("string", "the group key (required): state, job_type, group, config.base_model, summary.x …"),
    "filter": ("string", 'filter expression, e.g. config.n_epochs >= 3 and state = "finished"'),
    "text": ("string", "quick search over name, id, notes, group and tags"),
}


def group_key(r: Request) -> str:
    by = (r.query_params.get("by") or "").strip()
    if not by:
        raise UsageError("Pass by=<key> to group runs by, such as by=config.base_model or by=job_type.")
    return by


def group_value(r: Request) -> Any:
    """The ``value`` parameter: a group's value as JSON (as the groups endpoint returns it)."""
    raw = r.query_params.get("value")
    if raw is None:
        raise UsageError(
            'Pass value=<the group\'s value as JSON>, such as value="gpt-4.1", value=3 or value=null.'
        )
    try:
        value = json.loads(raw)
    except ValueError:
        raise UsageError(
            f'value={raw!r} is not JSON. Quote strings: value="gpt-4.1"; numbers and null as they are.'
        ) from None
    if not (value is None or isinstance(value, str | int | float | bool)):
        raise UsageError(f"value={raw!r} is not a group value: pass a string, number, boolean or null.")
    return value


def run_filter(r: Request) -> dict[str, Any]:
    spec = ViewSpec.from_mapping({"q": r.query_params.get("filter"), "text": r.query_params.get("text")})
    return build_filter(spec)


def endpoints(web: Web) -> list[Endpoint]:
    api = web.api

    def pp(r: Request) -> str:
        return f"{r.path_params['entity']}/{r.path_params['project']}"

    def list_groups(r: Request) -> Any:
        cols = [c for c in (r.query_params.get("cols") or "").split(",") if c.strip()]
        page = api.run_groups(
            pp(r),
            group_key(r),
            run_filter(r),
            columns=[c.strip() for c in cols],
            order=r.query_params.get("order") or None,
            limit=int_param(r, "limit", 100, 1, 1000),
            offset=int_param(r, "offset", 0),
        )
        return ser.group_page(page)

    def group_runs(r: Request) -> Any:
        runs, nxt = api.group_runs_page(
            pp(r),
            group_key(r),
            group_value(r),
            run_filter(r),
            order=r.query_params.get("order") or "-created_at",
            cursor=r.query_params.get("cursor") or None,
            limit=int_param(r, "limit", 50, 1, 1000),
        )
        return {"runs": [ser.run(x) for x in runs], "next": nxt}

    p = "/{entity}/{project}/groups"
    return [
        Endpoint(
            "GET",
            p,
            list_groups,
            "Runs grouped by a key: each group's value, run count and column statistics, over all "
            "matching runs",
            {
                **_COMMON,
                "cols": ("string", "comma-separated columns to aggregate (mean, min, max): summary.loss,…"),
                "order": (
                    "string",
                    "'-summary.loss': groups by their mean of a column in cols; the key: by value",
                ),
                "limit": ("integer", "groups per page (max 1000)"),
                "offset": ("integer", "groups to skip"),
            },
            response="GroupPage",
        ),
        Endpoint(
            "GET",
            p + "/runs",
            group_runs,
            "A page of one group's runs (keyset-paged)",
            {
                **_COMMON,
                "value": ("string", 'the group\'s value as JSON: "gpt-4.1", 3, null (runs without the key)'),
                "order": ("string", "sort key, '-' for descending: -created_at, summary.loss"),
                "cursor": ("string", "the 'next' value of the previous page"),
                "limit": ("integer", "runs per page (max 1000)"),
            },
            response="RunPage",
        ),
    ]
