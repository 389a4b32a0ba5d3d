"""The simulator's ASGI app: OpenAI's routes under ``/v1``, Azure's under ``/openai/...``.

Layout of the URL space::

    /v1/...                              OpenAI (Bearer auth)
    /openai/deployments/{deployment}/... Azure inference (api-key or Bearer; ``api-version`` required)
    /openai/v1/...                       Azure's v1 API (api-key or Bearer; ``api-version`` optional)
    /openai/...                          Azure files, fine-tuning, models (``api-version`` required)
    /_admin/...                          fault injection and the clock (no auth; loopback only)

A small ASGI gate in front of the router checks auth and ``api-version`` and applies injected
faults before any handler runs; every error, including unknown routes and wrong methods, is
answered with OpenAI's error JSON.
"""

from __future__ import annotations

import asyncio
import logging
from random import getrandbits
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tunelog.simulator import admin, files, jobs, models
from tunelog.simulator.errors import APIError
from tunelog.simulator.inference import inference_routes
from tunelog.simulator.state import SimState

log = logging.getLogger("tunelog.simulator")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _with_request_id(send: Send) -> Send:
    """Add OpenAI's ``x-request-id`` header to the response (every response, errors included)."""
    rid = f"req_{getrandbits(128):032x}".encode()

    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or ())
            if not any(k.lower() == b"x-request-id" for k, _ in headers):
                headers.append((b"x-request-id", rid))
                message = {**message, "headers": headers}
        await send(message)

    return send_with_id


class _Gate:
    """Auth, Azure's ``api-version`` and injected faults, before routing (pure ASGI: no buffering)."""

    def __init__(self, app: ASGIApp, state: SimState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_request_id(send)
        if scope["path"].startswith("/_admin"):
            await self.app(scope, receive, send)
            return
        error = self._check(scope)
        if error is None:
            hit = self.state.faults.on_request(scope["method"], scope["path"])
            if hit.delay:
                await asyncio.sleep(hit.delay)
            error = hit.error
        if error is not None:
            await error.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> APIError | None:
        path: str = scope["path"]
        azure = path.startswith("/openai/")
        key = None
        bearer = _header(scope, b"authorization")
        if bearer and bearer.lower().startswith("bearer "):
            key = bearer[7:].strip() or None
        if azure and key is None:
            key = _header(scope, b"api-key")
        if key is None:
            if azure:
                return APIError(
                    401,
                    "Access denied due to missing subscription key. Make sure to include the subscription "
                    "key in the 'api-key' header, or an Entra ID token as 'Authorization: Bearer <token>'.",
                    code="401",
                )
            return APIError(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), e.g. api_key='sk-test' when "
                "creating the client (the simulator accepts any key unless it was started with api_key=).",
            )
        expected = self.state.api_key
        if expected is not None and key != expected:
            shown = key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 7 else "***"
            return APIError(
                401,
                f"Incorrect API key provided: {shown}. Use the key this simulator was started with.",
                code="invalid_api_key",
            )
        if azure and not path.startswith("/openai/v1/"):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if not query.get("api-version"):
                return APIError(
                    400,
                    "Missing required query parameter 'api-version'. Azure OpenAI routes under /openai/ need "
                    "it, e.g. ?api-version=2024-10-21 (AzureOpenAI(api_version=...) adds it for you).",
                    param="api-version",
                    code="missing_api_version",
                )
        return None


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)  # registered for APIError only
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # registered for HTTPException only
    method, path = request.method, request.url.path
    if exc.status_code == 404:
        message = f"Invalid URL ({method} {path})"
    elif exc.status_code == 405:
        message = (
            f"Not allowed to {method} on {path}. (HINT: Perhaps you meant to use a different HTTP method?)"
        )
    else:
        message = str(exc.detail)
    return APIError(exc.status_code, message, headers=dict(exc.headers or {})).response()


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("simulator handler failed on %s %s", request.method, request.url.path, exc_info=exc)
    return APIError(
        500,
        "The server had an error while processing your request. This is a bug in tunelog's simulator: "
        f"{type(exc).__name__}: {exc}",
    ).response()


def create_app(state: SimState) -> Starlette:
    """The simulator as an ASGI app serving ``state``."""
    # One set of inference routes per app: they hold this simulator's stored responses and cache.
    inference = inference_routes()
    api = [*files.routes(), *jobs.routes(), *models.routes(), *inference]
    routes: list[BaseRoute] = [
        Mount("/_admin", routes=admin.routes()),
        Mount("/v1", routes=api),
        Mount("/openai/v1", routes=api),
        Mount("/openai/deployments/{deployment}", routes=inference),
        Mount("/openai", routes=api),
    ]
    handlers: dict[Any, Any] = {APIError: _api_error, HTTPException: _http_error, Exception: _server_error}
    app = Starlette(routes=routes, middleware=[Middleware(_Gate, state=state)], exception_handlers=handlers)
    app.state.sim = state
    return app
