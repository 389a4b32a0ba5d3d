"""The inference routes of the simulator, relative to the API root (``/v1`` or an Azure deployment).

One module per endpoint family does the work (``chat``, ``completions``, ``embeddings``,
``responses_api``, ``moderations``, ``images``); this one binds them to paths and to the per-simulator
memory they share.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tunelog.simulator import chat, completions, embeddings, images, moderations, responses_api
from tunelog.simulator.errors import APIError
from tunelog.simulator.prompt_cache import PromptCache

Handler = Callable[[Request], Awaitable[Response]]


def inference_routes() -> list[BaseRoute]:
    """Routes for chat, completions, embeddings, responses, moderations, images and legacy edits.

    Each call builds fresh per-simulator memory (the prompt cache, stored responses), so two
    simulators in one process never share answers.

    Returns:
        Starlette routes with paths relative to the API root, to be mounted under ``/v1``,
        ``/openai/v1`` and ``/openai/deployments/{deployment}``.
    """
    cache = PromptCache()
    store = responses_api.ResponseStore()

    async def chat_completions(request: Request) -> Response:
        return await chat.create(request, cache)

    async def create_response(request: Request) -> Response:
        return await responses_api.create(request, store)

    async def get_response(request: Request) -> Response:
        return await responses_api.retrieve(request, store)

    async def delete_response(request: Request) -> Response:
        return await responses_api.delete(request, store)

    return [
        Route("/chat/completions", _answering_errors(chat_completions), methods=["POST"]),
        Route("/completions", _answering_errors(completions.create), methods=["POST"]),
        Route("/edits", _answering_errors(completions.edit), methods=["POST"]),
        Route("/embeddings", _answering_errors(embeddings.create), methods=["POST"]),
        Route("/moderations", _answering_errors(moderations.create), methods=["POST"]),
        Route("/images/generations", _answering_errors(images.generate), methods=["POST"]),
        Route("/images/edits", _answering_errors(images.edit), methods=["POST"]),
        Route(images.URL_PATH, _answering_errors(images.serve), methods=["GET"]),
        Route("/responses", _answering_errors(create_response), methods=["POST"]),
        Route("/responses/{response_id}", _answering_errors(get_response), methods=["GET"]),
        Route("/responses/{response_id}", _answering_errors(delete_response), methods=["DELETE"]),
    ]


def _answering_errors(handler: Handler) -> Handler:
    """Turn :class:`APIError` into OpenAI's error JSON here too, so the routes work in any app."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except APIError as e:
            return e.response()

    return wrapped
