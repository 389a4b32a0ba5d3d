"""``POST /images/generations`` and ``/images/edits``: a small PNG drawn from the prompt (and, for an
edit, the images sent), as base64 or a URL served here.

The PNG is written with zlib and struct (no imaging library). It is the requested size scaled down
to at most 64 pixels a side: big enough to be a real image, small enough to keep tests fast. Image
URLs carry the drawing's seed and size, so ``GET /_sim/images/{name}.png`` redraws instead of storing.
"""

from __future__ import annotations

import base64
import random
import re
import struct
import zlib
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from tunelog.simulator import params, tokens
from tunelog.simulator.errors import APIError
from tunelog.simulator.textgen import seed_of

MAX_SIDE = 64
URL_PATH = "/_sim/images/{name}"
_NAME = re.compile(r"^([0-9a-f]{16})-(\d{1,4})x(\d{1,4})\.png$")
_SIZE = re.compile(r"^(\d{2,4})x(\d{2,4})$")
_GPT_IMAGE = ("gpt-image",)


def png(width: int, height: int, seed: int) -> bytes:
    """An RGB PNG: a seeded two-colour gradient under a grid of soft blocks."""
    rng = random.Random(seed)
    a = [rng.randint(30, 225) for _ in range(3)]
    b = [rng.randint(30, 225) for _ in range(3)]
    blocks = [[rng.randint(-40, 40) for _ in range(4)] for _ in range(4)]
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")  # filter type 0 for every scanline
        for x in range(width):
            t = (x + y) / max(1, width + height - 2)
            shade = blocks[y * 4 // height][x * 4 // width]
            for c in range(3):
                row.append(max(0, min(255, int(a[c] + (b[c] - a[c]) * t) + shade)))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def scaled(width: int, height: int) -> tuple[int, int]:
    factor = MAX_SIDE / max(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


async def generate(request: Request) -> Response:
    """Handle ``POST /images/generations``."""
    return _answer(request, await params.read_json(request))


async def edit(request: Request) -> Response:
    """Handle ``POST /images/edits``: multipart, one image (``image``) or several (``image[]``), an
    optional ``mask`` and the generation fields; the answer has the shape of a generation's."""
    form = await request.form(max_files=17, max_fields=20)
    try:
        images = [v for k, v in form.multi_items() if k in ("image", "image[]") and isinstance(v, UploadFile)]
        if not images:
            raise APIError(
                400,
                "Missing required parameter: 'image'. Send it as a multipart file field, e.g. "
                "client.images.edit(image=open('cat.png', 'rb'), prompt='...').",
                param="image",
            )
        digest = zlib.crc32(b"".join([await f.read() for f in images]))
        body: dict[str, Any] = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    finally:
        await form.close()
    if "n" in body:
        try:
            body["n"] = int(body["n"])
        except ValueError:
            raise APIError(
                400, f"Invalid value for 'n': {body['n']!r}; give an integer.", param="n"
            ) from None
    return _answer(request, body, salt=digest)


def _answer(request: Request, body: dict[str, Any], salt: int = 0) -> Response:
    model = params.model_of(request, body, default="dall-e-2")
    prompt = params.get(body, "prompt", "string", required=True)
    if not prompt:
        raise APIError(400, "Invalid 'prompt': empty string.", param="prompt", code="empty_string")
    gpt_image = model.startswith(_GPT_IMAGE)
    n = params.get_int(body, "n", 1, 1, 10) or 1
    if model.startswith("dall-e-3") and n != 1:
        raise APIError(400, "You must provide n=1 for this model.", param="n")
    size = params.get(body, "size", "string", "1024x1024")
    match = _SIZE.match("1024x1024" if size == "auto" else size)
    if not match:
        raise APIError(
            400, f"'{size}' is not one of the supported sizes.", param="size", code="invalid_value"
        )
    width, height = int(match.group(1)), int(match.group(2))
    fmt = params.get(body, "response_format", "string", "url")
    if fmt not in ("url", "b64_json"):
        raise params.invalid_value("response_format", fmt, ("url", "b64_json"))
    if gpt_image:
        fmt = "b64_json"  # GPT image models always answer in base64
    extra = (salt,) if salt else ()  # a generation's seed stays what it always was
    seed = seed_of(model, prompt, size, body.get("quality"), body.get("style"), *extra)
    data = []
    w, h = scaled(width, height)
    for i in range(n):
        item_seed = (seed + i) & 0xFFFFFFFFFFFFFFFF
        item: dict[str, str] = {}
        if fmt == "b64_json":
            item["b64_json"] = base64.b64encode(png(w, h, item_seed)).decode()
        else:
            item["url"] = _url(request, f"{item_seed:016x}-{w}x{h}.png")
        if model.startswith("dall-e-3"):
            item["revised_prompt"] = prompt
        data.append(item)
    out: dict[str, object] = {"created": params.now(request), "data": data}
    if gpt_image:
        text_tokens = tokens.count(prompt, "gpt-4o")
        output_tokens = 272 * n  # OpenAI's count for a low-quality square image
        out.update(
            background="opaque",
            output_format="png",
            quality=body.get("quality") if body.get("quality") in ("low", "medium", "high") else "low",
            size=f"{width}x{height}",
            usage={
                "input_tokens": text_tokens,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": text_tokens},
                "output_tokens": output_tokens,
                "total_tokens": text_tokens + output_tokens,
            },
        )
    return params.json_response(out)


def _url(request: Request, name: str) -> str:
    """An absolute URL to the image on this simulator, under the same API root as the request."""
    path = request.url.path
    root = path[: path.rfind("/images/")] if "/images/" in path else ""
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.url.scheme}://{request.url.netloc}{root}/_sim/images/{name}{query}"


async def serve(request: Request) -> Response:
    """Handle ``GET /_sim/images/{name}``: redraw the image a URL names."""
    name = request.path_params["name"]
    match = _NAME.match(name)
    if not match:
        raise APIError(404, f"No such image: '{name}'. Image URLs come from POST /images/generations.")
    seed, w, h = int(match.group(1), 16), int(match.group(2)), int(match.group(3))
    if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
        raise APIError(404, f"No such image: '{name}'.")
    return Response(
        png(w, h, seed), media_type="image/png", headers={"cache-control": "public, max-age=3600"}
    )
