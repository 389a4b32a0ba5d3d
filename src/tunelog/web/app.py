"""``create_app(api, settings)``: the dashboard as one Starlette ASGI app, with no module globals.

Pages are rendered on the server (Jinja2, autoescaped); small scripts of our own (``static/``) add
charts, paging and editing through the JSON API (:mod:`tunelog.web.json_api`). The chart library is
plotly.js, served from the installed ``plotly`` Python package (never copied into the repository).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tunelog.api import Api
from tunelog.errors import ReferenceNotFound, UsageError
from tunelog.settings import Settings
from tunelog.web import json_api
from tunelog.web.app_assets import STATIC_DIR, plotly_js
from tunelog.web.context import Web
from tunelog.web.render import make_env
from tunelog.web.routes import artifacts, projects, reports, runs, traces
from tunelog.web.security import LOOPBACK_NAMES, SecurityMiddleware


def create_app(api: Api, settings: Settings, *, allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """Build the dashboard app.

    Args:
        api: where the data comes from.
        settings: the resolved settings (data directory, default entity).
        allowed_hosts: host names the app answers to (default: the loopback names). Pass the
            server's name when serving beyond loopback (``tunelog ui --allow-remote``).
    """
    web = Web(api=api, settings=settings, env=make_env())
    cache: dict[str, bytes] = {}

    def vendor_plotly(request: Request) -> Response:
        if "plotly" not in cache:
            cache["plotly"] = plotly_js()
        return Response(
            cache["plotly"],
            media_type="text/javascript",
            headers={"cache-control": "public, max-age=86400"},
        )

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def error_page(request: Request, status: int, title: str, message: str) -> Response:
        if is_api(request):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return web.page(
            request, "error.html", status=status, title=title, message=message, status_code=status
        )

    def not_found(request: Request, exc: Exception) -> Response:
        message = str(exc) if isinstance(exc, ReferenceNotFound) else "There is no page at this address."
        return error_page(request, 404, "Not found", message)

    def bad_request(request: Request, exc: Exception) -> Response:
        return error_page(request, 400, "Cannot do that", str(exc))

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return not_found(request, exc)
        return error_page(request, exc.status_code, "Error", str(exc.detail))

    routes: list[Any] = [
        Route("/vendor/plotly.min.js", vendor_plotly, name="plotly"),
        Route("/favicon.ico", lambda r: PlainTextResponse("", status_code=204)),
        Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
        *json_api.routes(web),
        *projects.routes(web),
        *traces.routes(web),
        *artifacts.routes(web),
        *reports.routes(web),
        *runs.routes(web),
    ]
    hosts = list(allowed_hosts) if allowed_hosts is not None else list(LOOPBACK_NAMES)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityMiddleware, allowed_hosts=hosts)],
        exception_handlers={
            ReferenceNotFound: not_found,
            UsageError: bad_request,
            HTTPException: http_error,
        },
    )
    app.state.web = web
    return app
