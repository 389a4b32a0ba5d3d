"""What every route needs, passed down explicitly: the Api, the settings and the templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from tunelog.api import Api
from tunelog.settings import Settings


@dataclass
class Web:
    api: Api
    settings: Settings
    env: jinja2.Environment

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """A full page; ``entity``/``project`` (when given) fill the breadcrumb and project tabs."""
        context.setdefault("entity", request.path_params.get("entity"))
        context.setdefault("project", request.path_params.get("project"))
        context.setdefault("tab", "")
        context.setdefault("title", "tunelog")
        return HTMLResponse(self.render(template, request=request, **context), status_code=status)

    def fragment(self, template: str, **context: Any) -> HTMLResponse:
        """A piece of a page that scripts insert (rendered and escaped here, like a page)."""
        return HTMLResponse(self.render(template, **context))
