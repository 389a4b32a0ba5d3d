"""Reading requests the way OpenAI does: JSON bodies, query parameters, cursor pagination (S1).

Shared by every route module so that a bad body or a bad ``limit`` gets the same OpenAI error
everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request

from tunelog.simulator.errors import APIError, invalid

if TYPE_CHECKING:
    from tunelog.simulator.state import SimState

T = TypeVar("T")


def sim(request: Request) -> SimState:
    """The simulator state behind this request."""
    state: SimState = request.app.state.sim
    return state


def is_azure(request: Request) -> bool:
    """Whether the request came in on an Azure OpenAI path (``/openai/...``)."""
    return request.url.path.startswith("/openai/")


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body, or OpenAI's 400 error when it is not one."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        raise invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
            "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was "
            "not valid JSON.)"
        ) from None
    if not isinstance(body, dict):
        raise invalid('The request body must be a JSON object; send e.g. {"model": "gpt-4o-mini"}.')
    return body


def query_int(request: Request, name: str, default: int, *, low: int = 1, high: int = 10_000) -> int:
    """An integer query parameter within ``[low, high]``."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"Invalid '{name}': expected an integer, got {raw!r}.", param=name) from None
    if not low <= value <= high:
        raise invalid(
            f"Invalid '{name}': {value} is out of range; use a value between {low} and {high}.", param=name
        )
    return value


def page(
    items: Sequence[T], request: Request, *, key: Callable[[T], str], default_limit: int = 20, high: int = 100
) -> tuple[list[T], bool]:
    """One page of ``items`` (already in list order) after the ``after`` cursor; and ``has_more``."""
    limit = query_int(request, "limit", default_limit, high=high)
    after = request.query_params.get("after")
    start = 0
    if after:
        for i, item in enumerate(items):
            if key(item) == after:
                start = i + 1
                break
        else:
            raise APIError(404, f"No such object for the 'after' cursor: '{after}'.", param="after")
    chunk = list(items[start : start + limit])
    return chunk, start + limit < len(items)


def list_body(data: list[dict[str, Any]], has_more: bool, *, ids: bool = True) -> dict[str, Any]:
    """OpenAI's list envelope; ``first_id``/``last_id`` where OpenAI's cursor lists carry them."""
    body: dict[str, Any] = {"object": "list", "data": data, "has_more": has_more}
    if ids:
        body["first_id"] = data[0]["id"] if data else None
        body["last_id"] = data[-1]["id"] if data else None
    return body
