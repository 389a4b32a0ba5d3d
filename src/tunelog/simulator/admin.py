"""Admin routes: fault injection and the simulated clock, over HTTP for other processes.

``/_admin/faults`` (GET list, POST add, DELETE clear), ``/_admin/faults/{id}`` (DELETE),
``/_admin/clock`` (GET; POST ``{"advance": seconds}`` or ``{"speed": factor}``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from tunelog.simulator.errors import APIError, invalid
from tunelog.simulator.request_io import json_body, sim


async def list_faults(request: Request) -> JSONResponse:
    faults = sim(request).faults.list()
    return JSONResponse({"object": "list", "data": [f.to_json() for f in faults]})


async def add_fault(request: Request) -> JSONResponse:
    spec = await json_body(request)
    try:
        fault = sim(request).faults.add(spec)
    except ValueError as exc:
        raise invalid(str(exc), param="kind" if "kind" in str(exc) else None) from None
    return JSONResponse(fault.to_json())


async def clear_faults(request: Request) -> JSONResponse:
    faults = sim(request).faults
    n = len(faults.list())
    faults.clear()
    return JSONResponse({"object": "list", "deleted": n})


async def delete_fault(request: Request) -> JSONResponse:
    fault_id = request.path_params["fault_id"]
    if not sim(request).faults.remove(fault_id):
        raise APIError(404, f"No such fault: '{fault_id}'. GET /_admin/faults lists the active ones.")
    return JSONResponse({"id": fault_id, "deleted": True})


async def clock(request: Request) -> JSONResponse:
    state = sim(request)
    if request.method == "POST":
        body = await json_body(request)
        try:
            if "advance" in body:
                state.clock.advance(float(body["advance"]))
            if "speed" in body:
                state.clock.speed = float(body["speed"])
        except (TypeError, ValueError) as exc:
            raise invalid(f'Bad clock change: {exc}. Send {{"advance": 60}} or {{"speed": 100}}.') from None
    return JSONResponse({"now": state.clock.now(), "speed": state.clock.speed})


def routes() -> list[BaseRoute]:
    return [
        Route("/faults", list_faults, methods=["GET"]),
        Route("/faults", add_fault, methods=["POST"]),
        Route("/faults", clear_faults, methods=["DELETE"]),
        Route("/faults/{fault_id}", delete_fault, methods=["DELETE"]),
        Route("/clock", clock, methods=["GET", "POST"]),
    ]
