"""Reports: the list, the editor (blocks of charts, run tables, tables and notes) and the export to
one self-contained HTML file that opens offline (plotly.js, styles, script and data inlined)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tunelog.web import chat, report_model
from tunelog.web.app_assets import inline_script
from tunelog.web.context import Web


def routes(web: Web) -> list[Route]:
    api = web.api

    def reports(request: Request) -> Response:
        e, p = request.path_params["entity"], request.path_params["project"]
        return web.page(
            request,
            "reports.html",
            title=f"{p} · reports · tunelog",
            tab="reports",
            reports=api.reports(f"{e}/{p}"),
        )

    async def create(request: Request) -> Response:
        e, p = request.path_params["entity"], request.path_params["project"]
        form = await request.form()
        title = str(form.get("title") or "Untitled report")
        rec = api.save_report(f"{e}/{p}", title, {"blocks": [{"type": "note", "text": ""}]})
        return RedirectResponse(
            request.url_for("report", entity=e, project=p, report_id=rec.id), status_code=303
        )

    def report(request: Request) -> Response:
        e, p, rid = (request.path_params[k] for k in ("entity", "project", "report_id"))
        rec = api.report(f"{e}/{p}", rid)
        metrics = sorted(
            {k.name for r in api.runs(f"{e}/{p}", limit=30) for k in api.metric_keys(r.path) if k.points}
        )
        runs = api.runs(f"{e}/{p}", limit=200)
        return web.page(
            request,
            "report.html",
            title=f"{rec.title} · reports · tunelog",
            tab="reports",
            report=rec,
            blocks=report_model.resolve(api, f"{e}/{p}", rec.body),
            metrics=metrics,
            runs=runs,
            as_chat=chat.as_chat,
        )

    def export(request: Request) -> Response:
        e, p, rid = (request.path_params[k] for k in ("entity", "project", "report_id"))
        rec = api.report(f"{e}/{p}", rid)
        html = web.render(
            "report_export.html",
            report=rec,
            entity=e,
            project=p,
            blocks=report_model.resolve(api, f"{e}/{p}", rec.body),
            css=inline_script("app.css"),
            plotly=inline_script("plotly"),
            script=inline_script("report.js"),
            as_chat=chat.as_chat,
        )
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in rec.title)[:60] or "report"
        return Response(
            html,
            media_type="text/html; charset=utf-8",
            headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(safe)}.html"},
        )

    R = "/{entity}/{project}/reports"
    return [
        Route(R, reports, name="reports"),
        Route(R + "/new", create, methods=["POST"], name="report_new"),
        Route(R + "/{report_id:int}", report, name="report"),
        Route(R + "/{report_id:int}/export", export, name="report_export"),
    ]
