"""The projects page: every entity's projects with run and artifact counts and last activity."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tunelog.refs import REGISTRY_PROJECT
from tunelog.web.context import Web


def routes(web: Web) -> list[Route]:
    def projects(request: Request) -> Response:
        stats = [s for s in web.api.project_stats() if s.project != REGISTRY_PROJECT]
        registries = sorted({s.entity for s in web.api.project_stats() if s.project == REGISTRY_PROJECT})
        entities: dict[str, list[object]] = {}
        for s in stats:
            entities.setdefault(s.entity, []).append(s)
        return web.page(
            request,
            "projects.html",
            title="Projects · tunelog",
            entities=entities,
            registries=registries,
            data_dir=str(web.settings.dir),
        )

    return [Route("/", projects, name="projects")]
