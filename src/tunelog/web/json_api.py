"""The JSON API the dashboard's pages use — the same one a later server mode exposes.

Every endpoint is declared once in :func:`endpoints` (method, path, summary, parameters, body and
response schema) and both the Starlette routes and the OpenAPI 3.1 document served at
``/api/openapi.json`` come from those declarations, so the document cannot drift from the routes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tunelog.errors import UsageError
from tunelog.web import serialize as ser
from tunelog.web.context import Web
from tunelog.web.expr import ExprError, parse_expression
from tunelog.web.workspace import ViewSpec, build_filter

PREFIX = "/api/v1"
MAX_BODY = 5 * 1024 * 1024


@dataclass
class Endpoint:
    method: str
    path: str  # below PREFIX, Starlette syntax
    handler: Callable[[Request], Any]
    summary: str
    query: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # name → (type, description)
    body: str | None = None  # schema name
    response: str = "Object"
    status: int = 200


def _int(request: Request, name: str, default: int, lo: int = 0, hi: int = 100_000) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return max(lo, min(hi, int(raw)))
    except ValueError:
        raise UsageError(f"Query parameter {name!r} must be an integer, got {raw!r}.") from None


int_param = _int  # for the endpoint modules under web/routes


def _float(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise UsageError(f"Query parameter {name!r} must be a number (UNIX seconds), got {raw!r}.") from None


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise UsageError(f"The request body is over {MAX_BODY // 1024 // 1024} MiB; send less.")
    try:
        data = json.loads(raw or b"{}")
    except ValueError as exc:
        raise UsageError(f"The request body is not valid JSON ({exc}). Send a JSON object.") from None
    if not isinstance(data, dict):
        raise UsageError("The request body must be a JSON object.")
    return data


def endpoints(web: Web) -> list[Endpoint]:
    from tunelog.web.routes import groups  # it builds on Endpoint and int_param from here

    api = web.api

    def pp(r: Request) -> str:
        return f"{r.path_params['entity']}/{r.path_params['project']}"

    def rp(r: Request) -> str:
        return f"{pp(r)}/{r.path_params['run_id']}"

    # -- projects and runs -------------------------------------------------------------------------
    def projects(r: Request) -> Any:
        return [ser.project(s) for s in api.project_stats()]

    def list_runs(r: Request) -> Any:
        spec = ViewSpec.from_mapping({"q": r.query_params.get("filter"), "text": r.query_params.get("text")})
        runs, nxt = api.runs_page(
            pp(r),
            build_filter(spec),
            order=r.query_params.get("order") or "-created_at",
            cursor=r.query_params.get("cursor") or None,
            limit=_int(r, "limit", 50, 1, 1000),
        )
        return {"runs": [ser.run(x) for x in runs], "next": nxt}

    def get_run(r: Request) -> Any:
        return ser.run(api.run(rp(r)))

    async def patch_run(r: Request) -> Any:
        body = await _body(r)
        run = api.run(rp(r))
        unknown = set(body) - {"name", "notes", "tags", "group"}
        if unknown:
            raise UsageError(f"Cannot change {', '.join(sorted(unknown))}: only name, notes, tags and group.")
        if "name" in body:
            name = str(body["name"]).strip()
            if not name:
                raise UsageError("A run's name cannot be empty.")
            run.name = name[:500]
        if "notes" in body:
            run.notes = None if body["notes"] is None else str(body["notes"])
        if "group" in body:
            run.group = None if not body["group"] else str(body["group"])
        if "tags" in body:
            tags = body["tags"]
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise UsageError('"tags" must be a list of strings, such as ["baseline", "v2"].')
            run.tags = [t.strip() for t in tags if t.strip()]
        run.update()
        return ser.run(run)

    def delete_run(r: Request) -> Any:
        api.delete_run(rp(r))
        return {"deleted": rp(r)}

    def run_metrics(r: Request) -> Any:
        return [{"key": k.name, "points": k.points} for k in api.metric_keys(rp(r)) if k.points > 0]

    def run_metric(r: Request) -> Any:
        series = api.metric(
            rp(r),
            r.path_params["key"],
            max_points=_int(r, "max_points", 1000, 2, 20_000),
            min_step=_int(r, "min_step", -1, -(2**62), 2**62) if r.query_params.get("min_step") else None,
            max_step=_int(r, "max_step", -1, -(2**62), 2**62) if r.query_params.get("max_step") else None,
        )
        return ser.series(series, r.path_params["run_id"])

    def compare(r: Request) -> Any:
        ids = [x for x in (r.query_params.get("runs") or "").split(",") if x][:50]
        key = r.query_params.get("key") or ""
        if not ids or not key:
            raise UsageError("Pass runs=<id>,<id>… and key=<metric>.")
        out = []
        for rid in ids:
            run = api.run(f"{pp(r)}/{rid}")
            s = api.metric(f"{pp(r)}/{rid}", key, max_points=_int(r, "max_points", 1000, 2, 20_000))
            out.append(ser.series(s, rid) | {"name": run.name})
        return out

    def run_events(r: Request) -> Any:
        run = api.run(rp(r))
        return [
            ser.event(e)
            for e in run.events(limit=_int(r, "limit", 1000, 1, 100_000), offset=_int(r, "offset", 0))
        ]

    def run_table(r: Request) -> Any:
        reader = api.run_table(rp(r), r.path_params["key"])
        return ser.table_page(
            reader, r.query_params.get("q") or "", _int(r, "offset", 0), _int(r, "limit", 50, 1, 1000)
        )

    def parse_filter_expr(r: Request) -> Any:
        text = r.query_params.get("q") or ""
        try:
            return {"ok": True, "filter": parse_expression(text)}
        except ExprError as exc:
            return {"ok": False, "error": exc.reason, "position": exc.position, "message": str(exc)}

    # -- spans -------------------------------------------------------------------------------------
    def list_spans(r: Request) -> Any:
        q = r.query_params
        before = None
        if q.get("before"):
            t, _, sid = q["before"].partition(",")
            try:
                before = (float(t), sid)
            except ValueError:
                raise UsageError(
                    "'before' is the cursor 'start_time,span_id' of the previous page's last span."
                ) from None
        spans = api.spans(
            pp(r),
            run=q.get("run") or None,
            trace_id=q.get("trace_id") or None,
            model=q.get("model") or None,
            status=q.get("status") or None,
            text=q.get("text") or None,
            start_after=_float(r, "start_after"),
            start_before=_float(r, "start_before"),
            roots_only=q.get("roots") == "1",
            before=before,
            limit=_int(r, "limit", 50, 1, 1000),
        )
        nxt = f"{spans[-1].start_time!r},{spans[-1].span_id}" if spans else None
        return {"spans": [ser.span(s) for s in spans], "next": nxt}

    def get_span(r: Request) -> Any:
        return ser.span(api.span(pp(r), r.path_params["span_id"]), full=True)

    def span_stats(r: Request) -> Any:
        stats = api.span_stats(
            pp(r),
            run=r.query_params.get("run") or None,
            start_after=_float(r, "start_after"),
            start_before=_float(r, "start_before"),
            buckets=_int(r, "buckets", 60, 1, 500),
        )
        return [ser.span_stat(s) for s in stats]

    # -- artifacts ---------------------------------------------------------------------------------
    def collections(r: Request) -> Any:
        return [
            ser.collection(c) for c in api.artifact_collections(pp(r), r.query_params.get("type") or None)
        ]

    def versions(r: Request) -> Any:
        return [ser.artifact(a) for a in api.artifact_versions(f"{pp(r)}/{r.path_params['name']}")]

    def version(r: Request) -> Any:
        art = api.artifact(f"{pp(r)}/{r.path_params['name']}:{r.path_params['version']}")
        return ser.artifact(art, files=True)

    def artifact_table(r: Request) -> Any:
        art = api.artifact(f"{pp(r)}/{r.path_params['name']}:{r.path_params['version']}")
        reader = art.table_reader(r.path_params["table"])
        return ser.table_page(
            reader, r.query_params.get("q") or "", _int(r, "offset", 0), _int(r, "limit", 50, 1, 1000)
        )

    def lineage(r: Request) -> Any:
        from tunelog.web.lineage import build_lineage

        art = api.artifact(f"{pp(r)}/{r.path_params['name']}:{r.path_params['version']}")
        return build_lineage(api, art).to_dict()

    # -- views and reports -------------------------------------------------------------------------
    def list_views(r: Request) -> Any:
        return [ser.view(v) for v in api.views(pp(r))]

    async def save_view(r: Request) -> Any:
        body = await _body(r)
        spec = ViewSpec.from_mapping(body.get("spec") or {})
        return ser.view(api.save_view(pp(r), str(body.get("name") or ""), spec.to_dict()))

    def delete_view(r: Request) -> Any:
        api.delete_view(pp(r), r.path_params["name"])
        return {"deleted": r.path_params["name"]}

    def list_reports(r: Request) -> Any:
        return [ser.report(x, body=False) for x in api.reports(pp(r))]

    async def create_report(r: Request) -> Any:
        from tunelog.web.report_model import clean_body

        body = await _body(r)
        return ser.report(
            api.save_report(pp(r), str(body.get("title") or ""), clean_body(body.get("body") or {}))
        )

    def get_report(r: Request) -> Any:
        return ser.report(api.report(pp(r), r.path_params["report_id"]))

    async def put_report(r: Request) -> Any:
        from tunelog.web.report_model import clean_body

        body = await _body(r)
        rid = r.path_params["report_id"]
        api.report(pp(r), rid)
        return ser.report(
            api.save_report(pp(r), str(body.get("title") or ""), clean_body(body.get("body") or {}), rid)
        )

    def delete_report(r: Request) -> Any:
        api.delete_report(pp(r), r.path_params["report_id"])
        return {"deleted": r.path_params["report_id"]}

    P = "/{entity}/{project}"
    R = P + "/runs/{run_id}"
    A = P + "/artifacts/{name}"
    page_q = {
        "offset": ("integer", "first row"),
        "limit": ("integer", "rows per page"),
        "q": ("string", "search text"),
    }
    return [
        Endpoint(
            "GET", "/projects", projects, "Projects with run counts and last activity", response="ProjectList"
        ),
        Endpoint(
            "GET",
            P + "/runs",
            list_runs,
            "A page of runs (keyset-paged)",
            {
                "filter": ("string", 'filter expression, e.g. config.n_epochs >= 3 and state = "finished"'),
                "text": ("string", "quick search over name, id, notes, group and tags"),
                "order": ("string", "sort key, '-' for descending: -created_at, summary.loss"),
                "cursor": ("string", "the 'next' value of the previous page"),
                "limit": ("integer", "runs per page (max 1000)"),
            },
            response="RunPage",
        ),
        Endpoint(
            "GET",
            "/filter/parse",
            parse_filter_expr,
            "Compile a filter expression",
            {"q": ("string", "the expression")},
            response="FilterParse",
        ),
        Endpoint("GET", R, get_run, "One run", response="Run"),
        Endpoint(
            "PATCH",
            R,
            patch_run,
            "Rename a run, edit its notes, tags or group",
            body="RunEdit",
            response="Run",
        ),
        Endpoint("DELETE", R, delete_run, "Delete a run and its history", response="Deleted"),
        Endpoint("GET", R + "/metrics", run_metrics, "A run's numeric metrics", response="MetricKeys"),
        Endpoint(
            "GET",
            R + "/metrics/{key:path}",
            run_metric,
            "A metric series, downsampled on the server",
            {
                "max_points": ("integer", "at most this many points"),
                "min_step": ("integer", "first step"),
                "max_step": ("integer", "last step"),
            },
            response="Series",
        ),
        Endpoint(
            "GET",
            P + "/compare",
            compare,
            "One metric of several runs",
            {
                "runs": ("string", "comma-separated run ids"),
                "key": ("string", "metric"),
                "max_points": ("integer", "points per run"),
            },
            response="SeriesList",
        ),
        Endpoint(
            "GET",
            R + "/events",
            run_events,
            "A run's events (fine-tuning job events)",
            {"limit": ("integer", "max events"), "offset": ("integer", "skip")},
            response="EventList",
        ),
        Endpoint(
            "GET",
            R + "/tables/{key:path}",
            run_table,
            "A page of a table the run logged",
            page_q,
            response="TablePage",
        ),
        Endpoint(
            "GET",
            P + "/spans",
            list_spans,
            "Recorded calls, newest first (keyset-paged)",
            {
                "run": ("string", "run id"),
                "trace_id": ("string", "trace id"),
                "model": ("string", "model"),
                "status": ("string", "ok, error or incomplete"),
                "text": ("string", "substring of inputs or outputs"),
                "start_after": ("number", "UNIX seconds"),
                "start_before": ("number", "UNIX seconds"),
                "roots": ("string", "1: only root spans"),
                "before": ("string", "cursor: the 'next' value of the previous page"),
                "limit": ("integer", "spans per page"),
            },
            response="SpanPage",
        ),
        Endpoint(
            "GET", P + "/spans/{span_id}", get_span, "One span, with inputs and outputs", response="Span"
        ),
        Endpoint(
            "GET",
            P + "/span-stats",
            span_stats,
            "Calls, tokens, cost and errors over time by model",
            {
                "run": ("string", "run id"),
                "start_after": ("number", "UNIX seconds"),
                "start_before": ("number", "UNIX seconds"),
                "buckets": ("integer", "time buckets"),
            },
            response="SpanStats",
        ),
        Endpoint(
            "GET",
            P + "/artifacts",
            collections,
            "Artifact collections",
            {"type": ("string", "artifact type")},
            response="CollectionList",
        ),
        Endpoint("GET", A + "/versions", versions, "Versions of a collection", response="ArtifactList"),
        Endpoint(
            "GET", A + "/versions/{version}", version, "One version with its files", response="Artifact"
        ),
        Endpoint(
            "GET",
            A + "/versions/{version}/tables/{table:path}",
            artifact_table,
            "A page of an artifact's table",
            page_q,
            response="TablePage",
        ),
        Endpoint(
            "GET",
            A + "/versions/{version}/lineage",
            lineage,
            "The lineage graph around a version",
            response="Lineage",
        ),
        Endpoint("GET", P + "/views", list_views, "Saved views", response="ViewList"),
        Endpoint(
            "POST",
            P + "/views",
            save_view,
            "Save (or replace) a named view",
            body="ViewSave",
            response="View",
        ),
        Endpoint("DELETE", P + "/views/{name}", delete_view, "Delete a saved view", response="Deleted"),
        Endpoint("GET", P + "/reports", list_reports, "Reports", response="ReportList"),
        Endpoint(
            "POST", P + "/reports", create_report, "Create a report", body="ReportSave", response="Report"
        ),
        Endpoint("GET", P + "/reports/{report_id:int}", get_report, "One report", response="Report"),
        Endpoint(
            "PUT",
            P + "/reports/{report_id:int}",
            put_report,
            "Replace a report's title and blocks",
            body="ReportSave",
            response="Report",
        ),
        Endpoint(
            "DELETE", P + "/reports/{report_id:int}", delete_report, "Delete a report", response="Deleted"
        ),
        *groups.endpoints(web),
    ]


def routes(web: Web) -> list[Route]:
    eps = endpoints(web)

    def wrap(ep: Endpoint) -> Callable[[Request], Any]:
        import inspect

        if inspect.iscoroutinefunction(ep.handler):

            async def run_async(request: Request) -> Response:
                return JSONResponse(await ep.handler(request), status_code=ep.status)

            return run_async

        def run_sync(request: Request) -> Response:
            return JSONResponse(ep.handler(request), status_code=ep.status)

        return run_sync

    doc = openapi(eps)

    def openapi_json(request: Request) -> Response:
        return JSONResponse(doc)

    out = [Route(PREFIX + ep.path, wrap(ep), methods=[ep.method]) for ep in eps]
    out.append(Route("/api/openapi.json", openapi_json, methods=["GET"]))
    return out


def _openapi_path(path: str) -> str:
    import re

    return re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", PREFIX + path)


def openapi(eps: list[Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``eps``."""
    import re

    from tunelog.web.api_schemas import SCHEMAS

    paths: dict[str, dict[str, Any]] = {}
    for ep in eps:
        params: list[dict[str, Any]] = []
        for name, conv in re.findall(r"\{(\w+)(:\w+)?\}", ep.path):
            params.append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer" if conv == ":int" else "string"},
                }
            )
        for name, (typ, desc) in ep.query.items():
            params.append(
                {"name": name, "in": "query", "required": False, "description": desc, "schema": {"type": typ}}
            )
        op: dict[str, Any] = {
            "summary": ep.summary,
            "operationId": ep.method.lower()
            + "_"
            + re.sub(r"[^a-z0-9]+", "_", _openapi_path(ep.path).lower()).strip("_"),
            "parameters": params,
            "responses": {
                str(ep.status): {
                    "description": "OK",
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{ep.response}"}}
                    },
                },
                "400": {
                    "description": "Bad request",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
                "404": {
                    "description": "Not found",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        if ep.body:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ep.body}"}}},
            }
        paths.setdefault(_openapi_path(ep.path), {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tunelog dashboard API",
            "version": "1",
            "description": "The JSON API behind `tunelog ui`. Changing requests must come from the "
            "dashboard's "
            "own origin (browsers) or carry no Origin header (scripts).",
        },
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
