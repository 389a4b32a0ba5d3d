"""The Files API: multipart upload, list (cursor pagination, purpose filter), retrieve, delete, content."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tunelog.simulator.errors import APIError, invalid
from tunelog.simulator.lifecycle import settle
from tunelog.simulator.request_io import is_azure, list_body, page, sim
from tunelog.simulator.state import SimState, StoredFile

PURPOSES = ("fine-tune", "assistants", "batch", "vision", "user_data", "evals")
#: A generous cap on one upload, as OpenAI's 512 MB per file.
MAX_BYTES = 512 * 1024 * 1024


def _get(state: SimState, file_id: str) -> StoredFile:
    settle(state)
    stored = state.files.get(file_id)
    if stored is None:
        raise APIError(404, f"No such File object: {file_id}", param="id")
    return stored


async def upload(request: Request) -> JSONResponse:
    state = sim(request)
    form = await request.form(max_files=1, max_fields=10)
    try:
        purpose = form.get("purpose")
        upload = form.get("file")
        if not isinstance(purpose, str) or not purpose:
            raise invalid("Missing required parameter: 'purpose'.", param="purpose")
        if purpose not in PURPOSES:
            raise invalid(
                f"Invalid value for 'purpose': {purpose!r}. Supported values are: {', '.join(PURPOSES)}.",
                param="purpose",
            )
        if not isinstance(upload, UploadFile):
            raise invalid(
                "Missing required parameter: 'file'. Send it as a multipart file field, e.g. "
                "client.files.create(file=open('train.jsonl', 'rb'), purpose='fine-tune').",
                param="file",
            )
        content = await upload.read()
        given_name = form.get("user_provided_filename")  # openai 0.28 sends this field
        filename = given_name if isinstance(given_name, str) and given_name else (upload.filename or "file")
    finally:
        await form.close()
    if len(content) > MAX_BYTES:
        raise APIError(413, f"File is too large: {len(content)} bytes; the maximum is {MAX_BYTES} bytes.")
    # No format checks on upload: OpenAI checks fine-tune files when a job uses them (the job fails
    # with error.code invalid_training_file), and openai 0.28 uploads every file named "file".
    azure = is_azure(request)
    stored = state.add_file(filename, purpose, content, azure=azure)
    return JSONResponse(stored.to_json(azure=azure))


async def list_files(request: Request) -> JSONResponse:
    state = sim(request)
    settle(state)
    purpose = request.query_params.get("purpose")
    order = request.query_params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid(f"Invalid value for 'order': {order!r}; use 'asc' or 'desc'.", param="order")
    items = [f for f in state.files.values() if purpose is None or f.purpose == purpose]
    if order == "desc":
        items.reverse()
    chunk, has_more = page(items, request, key=lambda f: f.id, default_limit=10_000, high=10_000)
    azure = is_azure(request)
    return JSONResponse(list_body([f.to_json(azure=azure) for f in chunk], has_more))


async def retrieve(request: Request) -> JSONResponse:
    stored = _get(sim(request), request.path_params["file_id"])
    return JSONResponse(stored.to_json(azure=is_azure(request)))


async def delete(request: Request) -> JSONResponse:
    state = sim(request)
    stored = _get(state, request.path_params["file_id"])
    del state.files[stored.id]
    return JSONResponse({"id": stored.id, "object": "file", "deleted": True})


async def content(request: Request) -> Response:
    stored = _get(sim(request), request.path_params["file_id"])
    return Response(stored.content, media_type="application/octet-stream")


def routes() -> list[BaseRoute]:
    return [
        Route("/files", upload, methods=["POST"]),
        Route("/files", list_files, methods=["GET"]),
        Route("/files/{file_id}", retrieve, methods=["GET"]),
        Route("/files/{file_id}", delete, methods=["DELETE"]),
        Route("/files/{file_id}/content", content, methods=["GET"]),
    ]
