"""Where the simulator answers outside OpenAI's own types or spec — because OpenAI does too.

The one list of exceptions. The strict-parsing tests (openai SDK, ``_strict_response_validation``)
and the conformance test (``openapi.yaml``) both read it, and docs/simulator.md shows it. An entry
names the route, what differs, which checker it escapes (``sdk``: the SDK's typed models; ``spec``:
the OpenAPI document) and why the simulator is still right to answer that way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deviation:
    """One known difference between what OpenAI sends and what its types or spec admit."""

    route: str
    what: str
    escapes: tuple[str, ...]
    reason: str


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        route="POST /fine_tuning/jobs/{id}/pause, and any read of a paused job",
        what='status "paused"',
        escapes=("sdk", "spec"),
        reason="OpenAI returns status 'paused' for a paused job (its own spec's example for "
        "pauseFineTuningJob shows it), but the status enum in the spec and the SDK's FineTuningJob "
        "type only list validating_files, queued, running, succeeded, failed and cancelled.",
    ),
    Deviation(
        route="POST /completions with stream=true",
        what='chunks carry "finish_reason": null until the last one',
        escapes=("sdk",),
        reason="OpenAI streams legacy completion chunks with finish_reason null; the SDK reuses the "
        "non-streaming Completion type, whose finish_reason does not admit null.",
    ),
    Deviation(
        route="POST /embeddings with encoding_format=base64 (the SDK's default when none is given)",
        what="each embedding is a base64 string, not a list of floats",
        escapes=("sdk", "spec"),
        reason="OpenAI answers base64 when asked for it, and openai-python asks for it by default and "
        "decodes it after parsing; its Embedding type and the spec's Embedding schema only admit a "
        "list of floats, so strict validation rejects the very answer the SDK requested.",
    ),
    Deviation(
        route="POST /edits",
        what="the whole route",
        escapes=("spec",),
        reason="The legacy edits endpoint that openai 0.28's Edit.create calls was removed from the "
        "spec (and from the 1.x+ SDKs); the simulator keeps it so 0.28 programs run.",
    ),
    Deviation(
        route="GET /files with no matching file",
        what="first_id and last_id are null",
        escapes=("spec",),
        reason="The spec types ListFilesResponse.first_id/last_id as required strings, but an empty "
        "list has no first or last id; OpenAI answers null there.",
    ),
)


def escapes(route_hint: str, checker: str) -> list[Deviation]:
    """The deviations whose route mentions ``route_hint`` and that escape ``checker``."""
    return [d for d in DEVIATIONS if route_hint in d.route and checker in d.escapes]
