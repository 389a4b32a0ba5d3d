"""``POST /moderations``: flags only clearly violent text; every category present, as the types need."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tunelog.simulator import params
from tunelog.simulator.errors import APIError
from tunelog.simulator.textgen import short_id

CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
# The categories OpenAI's omni model also scores on images.
IMAGE_CATEGORIES = frozenset(
    ("self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "violence", "violence/graphic")
)
_VIOLENT = re.compile(
    r"\b(kill(?:s|ed|ing)?|murder(?:s|ed|ing)?|stab(?:s|bed|bing)?|shoot(?:s|ing)?|behead\w*|"
    r"massacre\w*|slaughter\w*|strangle\w*|bomb(?:s|ed|ing)?)\b",
    re.IGNORECASE,
)
_GRAPHIC = re.compile(r"\b(blood|gore|dismember\w*|mutilat\w*)\b", re.IGNORECASE)


def _inputs(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """Moderated units as (text, has image): one per string, or one for a multimodal list."""
    value = body.get("input")
    if value is None:
        raise params.missing("input")
    if isinstance(value, str):
        return [(value, False)]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [(v, False) for v in value]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        texts, image = [], False
        for i, part in enumerate(value):
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif kind == "image_url":
                image = True
            else:
                raise params.invalid_value(f"input[{i}].type", kind, ("text", "image_url"))
        return [(" ".join(texts), image)]
    raise APIError(400, "'$.input' is invalid. Please check the API reference.", param="input")


def _score(text: str, category: str) -> float:
    """A small, stable background score (never enough to flag)."""
    h = hashlib.blake2b(f"{category}\x00{text}".encode(), digest_size=4).digest()
    return round(int.from_bytes(h, "little") / 2**32 * 1e-3, 8)


def result(text: str, image: bool) -> dict[str, Any]:
    scores = {c: _score(text, c) for c in CATEGORIES}
    violent = len(_VIOLENT.findall(text))
    if violent:
        scores["violence"] = round(min(0.999, 0.85 + 0.04 * violent), 6)
        if _GRAPHIC.search(text):
            scores["violence/graphic"] = 0.72
    flags = {c: scores[c] >= 0.5 for c in CATEGORIES}
    applied = {c: (["text", "image"] if image and c in IMAGE_CATEGORIES else ["text"]) for c in CATEGORIES}
    return {
        "flagged": any(flags.values()),
        "categories": flags,
        "category_scores": scores,
        "category_applied_input_types": applied,
    }


async def create(request: Request) -> Response:
    """Handle ``POST /moderations``."""
    body = await params.read_json(request)
    model = params.model_of(request, body, default="omni-moderation-latest")
    results = [result(text, image) for text, image in _inputs(body)]
    return params.json_response({"id": "modr-" + short_id(length=32), "model": model, "results": results})
