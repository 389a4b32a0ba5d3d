"""The Models API: list and retrieve base and fine-tuned models; delete a fine-tuned model."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from tunelog.simulator.errors import APIError
from tunelog.simulator.lifecycle import settle
from tunelog.simulator.request_io import sim
from tunelog.simulator.state import BASE_MODELS, SimState


def _base(model_id: str) -> dict[str, Any]:
    owner = "openai" if model_id.startswith(("gpt-5", "gpt-4.1", "o4", "gpt-image")) else "system"
    return {"id": model_id, "object": "model", "created": BASE_MODELS[model_id], "owned_by": owner}


def _tuned(state: SimState, model_id: str) -> dict[str, Any] | None:
    model = state.models.get(model_id)
    if model is None or model_id in state.deleted_models:
        return None
    return {"id": model.id, "object": "model", "created": model.created, "owned_by": model.owned_by}


def _not_found(model_id: str) -> APIError:
    return APIError(
        404,
        f"The model '{model_id}' does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )


async def list_models(request: Request) -> JSONResponse:
    state = sim(request)
    settle(state)
    data = [_base(m) for m in BASE_MODELS]
    # OpenAI lists fine-tuned models but not their intermediate checkpoints.
    data += [item for m in state.models if ":ckpt-step-" not in m and (item := _tuned(state, m)) is not None]
    return JSONResponse({"object": "list", "data": data})


async def retrieve(request: Request) -> JSONResponse:
    state = sim(request)
    model_id = request.path_params["model"]
    if model_id in BASE_MODELS:
        return JSONResponse(_base(model_id))
    settle(state)
    item = _tuned(state, model_id)
    if item is None:
        raise _not_found(model_id)
    return JSONResponse(item)


async def delete(request: Request) -> JSONResponse:
    state = sim(request)
    model_id = request.path_params["model"]
    if model_id in BASE_MODELS:
        raise APIError(
            403,
            f"You do not have permission to delete {model_id}: only your fine-tuned models can be deleted.",
            param="model",
            code="model_not_deletable",
        )
    settle(state)
    if _tuned(state, model_id) is None:
        raise _not_found(model_id)
    state.deleted_models.add(model_id)
    return JSONResponse({"id": model_id, "object": "model", "deleted": True})


def routes() -> list[BaseRoute]:
    # ``:path`` because fine-tuned ids contain colons and Azure ids dots; neither has slashes.
    return [
        Route("/models", list_models, methods=["GET"]),
        Route("/models/{model:path}", retrieve, methods=["GET"]),
        Route("/models/{model:path}", delete, methods=["DELETE"]),
    ]
