"""The Files API: multipart upload, list (cursor pagination, purpose filter), retrieve, delete, content."""

from __future__ import annotations

import json

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

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


class _CutBody(Response):
    """A response that sends the first ``after`` bytes of its body and then drops the connection.

    The body goes out chunked and the ASGI call returns without the last body message, so the server
    closes the connection with no chunked terminator: the client sees what a dropped download looks
    like (httpx raises ``RemoteProtocolError``).
    """

    def __init__(self, body: bytes, media_type: str, after: int) -> None:
        super().__init__(body, media_type=media_type)
        self.after = after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        part = self.body[: self.after]
        if part:
            await send({"type": "http.response.body", "body": part, "more_body": True})


def _respond(request: Request, body: bytes, media_type: str) -> Response:
    """``body``, unless a ``body_cut`` fault says to drop the connection part-way through it."""
    cut = sim(request).faults.body_cut_after(request.method, request.url.path)
    if cut is not None and cut < len(body):
        return _CutBody(body, media_type, cut)
    return Response(body, media_type=media_type)


def _json(request: Request, obj: object) -> Response:
    return _respond(
        request, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode(), "application/json"
    )


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


async def retrieve(request: Request) -> Response:
    stored = _get(sim(request), request.path_params["file_id"])
    return _json(request, stored.to_json(azure=is_azure(request)))


async def delete(request: Request) -> JSONResponse:
    state = sim(request)
    stored = _get(state, request.path_params["file_id"])
    del state.files[stored.id]
    return JSONResponse({"id": stored.id, "object": "file", "deleted": True})


async def content(request: Request) -> Response:
    stored = _get(sim(request), request.path_params["file_id"])
    return _respond(request, stored.content, "application/octet-stream")


def routes() -> list[BaseRoute]:
    return [
        Route("/files", upload, methods=["POST"]),
        Route("/files", list_files, methods=["GET"]),
        Route("/files/{file_id}", retrieve, methods=["GET"]),
        Route("/files/{file_id}", delete, methods=["DELETE"]),
        Route("/files/{file_id}/content", content, methods=["GET"]),
    ]
