"""``POST /embeddings``: deterministic unit vectors, as floats or base64 float32."""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tunelog.simulator import params, tokens
from tunelog.simulator.errors import APIError

NATIVE_DIMENSIONS = {
    "text-embedding-3-large": 3072,
    "text-embedding-3-small": 1536,
    "text-embedding-ada-002": 1536,
}
DEFAULT_DIMENSIONS = 1536
MAX_INPUTS = 2048
_INVALID_INPUT = (
    "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
)


def native_dimensions(model: str) -> int:
    base = model.split(":")[1] if model.startswith("ft:") else model
    for name, dims in NATIVE_DIMENSIONS.items():
        if base.startswith(name):
            return dims
    return DEFAULT_DIMENSIONS


def vector(text: str, model: str, dimensions: int | None = None) -> list[float]:
    """The embedding of ``text``: a unit vector that depends only on model and text.

    Shortened embeddings (``dimensions``) are the full vector cut and renormalised, which is how
    OpenAI documents its ``text-embedding-3`` models.
    """
    native = native_dimensions(model)
    raw = hashlib.shake_256(f"{model}\x00{text}".encode()).digest(2 * native)
    values = struct.unpack(f"<{native}h", raw)[: dimensions or native]
    norm = math.sqrt(math.fsum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _inputs(body: dict[str, Any], model: str) -> list[tuple[str, int]]:
    """``input`` as (text, token count) pairs; token arrays are decoded so they embed like their text."""
    value = body.get("input")
    if value is None:
        raise params.missing("input")
    if isinstance(value, str):
        items: list[Any] = [value]
    elif (
        isinstance(value, list)
        and value
        and all(isinstance(t, int) and not isinstance(t, bool) for t in value)
    ):
        items = [value]
    elif isinstance(value, list) and value:
        items = value
    else:
        raise APIError(400, _INVALID_INPUT, param="input")
    if len(items) > MAX_INPUTS:
        raise APIError(
            400,
            f"Invalid 'input': array too long. Expected an array with maximum length {MAX_INPUTS}, "
            f"but got an array with length {len(items)} instead.",
            param="input",
            code="array_above_max_length",
        )
    out = []
    for item in items:
        if isinstance(item, str) and item:
            out.append((item, tokens.count(item, model)))
        elif isinstance(item, list) and item and all(isinstance(t, int) for t in item):
            try:
                out.append((tokens.decode(item, model), len(item)))
            except KeyError:
                raise APIError(400, _INVALID_INPUT, param="input") from None
        else:
            raise APIError(400, _INVALID_INPUT, param="input")
    return out


async def create(request: Request) -> Response:
    """Handle ``POST /embeddings``."""
    body = await params.read_json(request)
    model = params.model_of(request, body)
    inputs = _inputs(body, model)
    fmt = params.get(body, "encoding_format", "string", "float")
    if fmt not in ("float", "base64"):
        raise params.invalid_value("encoding_format", fmt, ("float", "base64"))
    native = native_dimensions(model)
    dimensions = params.get_int(body, "dimensions", None, 1, native)
    if dimensions is not None and model.startswith("text-embedding-ada"):
        raise APIError(400, "This model does not support specifying dimensions.", param="dimensions")
    data = []
    for i, (text, _) in enumerate(inputs):
        vec = vector(text, model, dimensions)
        encoded: Any
        if fmt == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
        else:
            encoded = [round(v, 9) for v in vec]
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    used = sum(count for _, count in inputs)
    return params.json_response(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": used, "total_tokens": used},
        }
    )
