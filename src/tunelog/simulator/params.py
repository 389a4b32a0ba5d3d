"""Reading an inference request: the JSON body, the model, and typed parameters with OpenAI's 400s.

The messages follow OpenAI's own wording (``Missing required parameter: 'messages'.``) and set
``param`` and ``code`` as OpenAI does, so client code that branches on them sees what it would see.
(Owned by the inference routes; the file and job routes read requests with ``request_io``.)
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tunelog.simulator.errors import APIError

_JSON_HINT = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
    "If you have trouble figuring out how to fix this, please contact us through our help center at "
    "help.openai.com.)"
)
_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a decimal",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
    type(None): "null",
}
_TYPE_WORDS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}
_EXPECTED = {"number": "a decimal", "array": "an array", "object": "an object", "integer": "an integer"}


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object body, or OpenAI's 400 for a body that is not one."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        raise APIError(400, _JSON_HINT) from None
    if not isinstance(body, dict):
        raise APIError(400, _JSON_HINT)
    return body


def model_of(request: Request, body: dict[str, Any], default: str | None = None) -> str:
    """The model a request is for: Azure's deployment name in the path wins over ``body["model"]``.

    Unknown models get OpenAI's 404 ``model_not_found`` when the simulator's state can tell.
    Azure deployments are named by their owner, so any deployment name is accepted.
    """
    deployment = request.path_params.get("deployment")
    if isinstance(deployment, str) and deployment:
        return deployment
    model = body.get("model", default)
    if model is None:
        raise APIError(400, "you must provide a model parameter", param=None, code=None)
    if not isinstance(model, str):
        raise type_error("model", "string", model)
    sim = getattr(request.app.state, "sim", None)
    known = getattr(sim, "known_model", None)
    if callable(known) and not known(model):
        raise APIError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    return model


def type_error(param: str, expected: str, got: Any) -> APIError:
    return APIError(
        400,
        f"Invalid type for '{param}': expected {_EXPECTED.get(expected, 'a ' + expected)}, "
        f"but got {_NAMES.get(type(got), 'a value')} instead.",
        param=param,
        code="invalid_type",
    )


def missing(param: str) -> APIError:
    return APIError(
        400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def invalid_value(param: str, value: Any, allowed: tuple[str, ...]) -> APIError:
    listed = ", ".join(f"'{a}'" for a in allowed[:-1]) + f", and '{allowed[-1]}'"
    return APIError(
        400,
        f"Invalid value: '{value}'. Supported values are: {listed}.",
        param=param,
        code="invalid_value",
    )


def get(body: dict[str, Any], name: str, kind: str, default: Any = None, *, required: bool = False) -> Any:
    """``body[name]`` checked against a JSON type; ``null`` counts as absent, like OpenAI."""
    value = body.get(name)
    if value is None:
        if required:
            raise missing(name)
        return default
    ok = _TYPE_WORDS[kind]
    if not isinstance(value, ok) or (kind in ("integer", "number") and isinstance(value, bool)):
        raise type_error(name, kind, value)
    return value


def get_int(
    body: dict[str, Any], name: str, default: int | None, lo: int | None = None, hi: int | None = None
) -> int | None:
    """An integer parameter within ``[lo, hi]``, with OpenAI's bound errors."""
    value = get(body, name, "integer", default)
    if value is None:
        return None
    if lo is not None and value < lo:
        raise APIError(
            400,
            f"Invalid '{name}': integer below minimum value. Expected a value >= {lo}, "
            f"but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    if hi is not None and value > hi:
        raise APIError(
            400,
            f"Invalid '{name}': integer above maximum value. Expected a value <= {hi}, "
            f"but got {value} instead.",
            param=name,
            code="integer_above_max_value",
        )
    return int(value)


def get_number(body: dict[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    """A decimal parameter within ``[lo, hi]``, with OpenAI's bound errors."""
    value = get(body, name, "number", default)
    if value < lo or value > hi:
        side, op, bound = ("below minimum", ">=", lo) if value < lo else ("above maximum", "<=", hi)
        raise APIError(
            400,
            f"Invalid '{name}': decimal {side} value. Expected a value {op} {bound:g}, "
            f"but got {value:g} instead.",
            param=name,
            code=f"decimal_{side.replace(' ', '_')}_value",
        )
    return float(value)


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes, as OpenAI sends them."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialised with one compact ``dumps`` call.

    Cheaper than ``JSONResponse``'s defaults, and the simulator must not be the bottleneck of a benchmark.
    """
    return Response(dumps(obj), status_code=status, media_type="application/json", headers=headers)


def stream_cut_after(request: Request) -> int | None:
    """How many events to send before dropping the connection, if a fault asks for it."""
    sim = getattr(request.app.state, "sim", None)
    faults = getattr(sim, "faults", None)
    cut = getattr(faults, "stream_cut_after", None)
    if not callable(cut):
        return None
    value = cut(request.url.path)
    return value if isinstance(value, int) else None


def now(request: Request) -> int:
    """Unix time for ``created`` fields: the simulator's clock when there is one, so inference and
    fine-tuning timestamps agree even when the clock runs fast."""
    sim = getattr(request.app.state, "sim", None)
    clock_now = getattr(sim, "now", None)
    return int(clock_now()) if callable(clock_now) else int(time.time())
