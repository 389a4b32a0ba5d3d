"""The project workspace (the runs table) and the run page, with its table fragments."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tunelog.errors import ReferenceNotFound
from tunelog.refs import REGISTRY_PROJECT
from tunelog.web import chat, workspace
from tunelog.web.context import Web
from tunelog.web.render import flatten

TABLE_PAGE = 20


def _is_table_ref(value: Any) -> bool:
    return isinstance(value, dict) and value.get("_type") == "table-ref"


def run_facts(run: Any) -> dict[str, Any]:
    end = run.finished_at or run.heartbeat_at or run.updated_at
    return {
        "duration": (end - run.created_at) if end else None,
        "config": list(flatten(run.config)),
        "summary": [(k, v) for k, v in flatten(run.summary) if "_type" not in k and not k.startswith("_")],
    }


def routes(web: Web) -> list[Route]:
    api = web.api

    def project_page(request: Request) -> Response:
        e, p = request.path_params["entity"], request.path_params["project"]
        if p == REGISTRY_PROJECT:
            return RedirectResponse(request.url_for("artifacts", entity=e, project=p), status_code=302)
        params = dict(request.query_params)
        views = api.views(f"{e}/{p}")
        if "view" in params and set(params) <= {"view"}:
            spec = workspace.ViewSpec.from_mapping(api.view(f"{e}/{p}", params["view"]).spec)
        else:
            spec = workspace.ViewSpec.from_mapping(params)
        ws = workspace.load(
            api,
            f"{e}/{p}",
            spec,
            cursor=params.get("cursor") or None,
            group_offset=int(params["goffset"]) if params.get("goffset", "").isdigit() else 0,
        )
        if (
            ws.total == 0
            and not spec.q
            and not spec.text
            and not any(s.project == p for s in api.project_stats(e))
        ):
            raise ReferenceNotFound(f"There is no project {e}/{p}. Pick one on the projects page.")
        return web.page(
            request,
            "workspace.html",
            title=f"{p} · runs · tunelog",
            tab="runs",
            ws=ws,
            views=views,
            current_view=params.get("view", ""),
            cell=workspace.cell,
            facts=run_facts,
            groups_page=workspace.GROUPS_PAGE,
            group_runs_page=workspace.GROUP_RUNS_PAGE,
        )

    def run_page(request: Request) -> Response:
        e, p, rid = (request.path_params[k] for k in ("entity", "project", "run_id"))
        path = f"{e}/{p}/{rid}"
        run = api.run(path)
        keys = api.metric_keys(path)
        metrics = [k.name for k in keys if k.points > 0]
        tables = [k.name for k in keys if k.points == 0 and _is_table_ref(k.last_value)]
        events = run.events(limit=1000)
        spans = api.spans(f"{e}/{p}", run=rid, limit=200)
        used = run.used_artifacts()
        datasets = [(a, t) for a in used for t in a.tables()]
        return web.page(
            request,
            "run.html",
            title=f"{run.name} · {p} · tunelog",
            tab="runs",
            run=run,
            facts=run_facts(run),
            metrics=metrics,
            tables=tables,
            events=events,
            checkpoints="checkpoints" in tables,
            used=used,
            datasets=datasets,
            logged=run.logged_artifacts(),
            spans=spans,
            gantt=gantt_rows(spans),
            chat=chat,
        )

    def run_table(request: Request) -> Response:
        e, p, rid, key = (request.path_params[k] for k in ("entity", "project", "run_id", "key"))
        reader = api.run_table(f"{e}/{p}/{rid}", key)
        return web.fragment("table_page.html", **table_page(reader, request.query_params, request.url.path))

    return [
        Route("/{entity}/{project}", project_page, name="workspace"),
        Route("/{entity}/{project}/runs/{run_id}", run_page, name="run"),
        Route("/{entity}/{project}/runs/{run_id}/tables/{key:path}", run_table, name="run_table"),
    ]


def table_page(reader: Any, query: Any, base: str) -> dict[str, Any]:
    """One page (or one page of search hits) of a stored table, for ``table_page.html``."""
    q = (query.get("q") or "").strip()
    try:
        offset = max(0, int(query.get("offset") or 0))
    except ValueError:
        offset = 0
    try:
        size = min(max(1, int(query.get("limit") or TABLE_PAGE)), 100)
    except ValueError:
        size = TABLE_PAGE
    if q:
        hits = reader.search(q, limit=size, start=offset)
        rows = [(i, r) for i, r in hits]
        nxt = rows[-1][0] + 1 if len(rows) == size else None
    else:
        rows = list(enumerate(reader.page(offset, size), start=offset))
        nxt = offset + size if offset + size < reader.nrows else None
    columns = list(reader.columns)
    keep = _shown_columns(columns, [r for _, r in rows])
    return {
        "columns": [columns[i] for i in keep],
        "rows": [(i, [r[j] if j < len(r) else None for j in keep]) for i, r in rows],
        "nrows": reader.nrows,
        "offset": offset,
        "next": nxt,
        "prev": max(0, offset - size) if offset and not q else None,
        "q": q,
        "base": base,
        "as_chat": chat.as_chat,
    }


#: Columns of an ``openai-dataset`` table that repeat what its ``messages`` conversation shows.
_SHOWN_IN_MESSAGES = frozenset({"system", "prompt", "completion"})


def _empty(v: Any) -> bool:
    return v is None or v == "" or v == [] or v == {}


def _shown_columns(columns: list[str], rows: list[Any]) -> list[int]:
    """The columns worth a place on this page: not empty in every row, and (for chat datasets) not
    a repeat of the conversation already rendered from ``messages``."""
    if not rows:
        return list(range(len(columns)))
    filled = [any(not _empty(r[i] if i < len(r) else None) for r in rows) for i in range(len(columns))]
    chats = "messages" in columns and all(
        chat.as_chat(r[columns.index("messages")]) for r in rows if len(r) > columns.index("messages")
    )
    return [i for i, c in enumerate(columns) if filled[i] and not (chats and c in _SHOWN_IN_MESSAGES)]


def gantt_rows(spans: list[Any]) -> dict[str, Any]:
    """Bars for a timeline: each span's offset and width in percent of the whole, and its depth."""
    if not spans:
        return {"rows": [], "total": 0.0, "start": None}
    start = min(s.start_time for s in spans)
    end = max((s.end_time or s.start_time) for s in spans)
    total = max(end - start, 1e-6)
    by_id = {s.span_id: s for s in spans}

    def depth(s: Any) -> int:
        d, seen = 0, set()
        while s.parent_id and s.parent_id in by_id and s.parent_id not in seen:
            seen.add(s.parent_id)
            s = by_id[s.parent_id]
            d += 1
        return d

    ordered = sorted(spans, key=lambda s: (s.start_time, s.span_id))
    rows = [
        {
            "span": s,
            "depth": depth(s),
            "left": 100 * (s.start_time - start) / total,
            "width": max(0.3, 100 * ((s.end_time or s.start_time) - s.start_time) / total),
            "latency": (s.end_time - s.start_time) if s.end_time else None,
        }
        for s in ordered
    ]
    return {"rows": rows, "total": total, "start": start}
