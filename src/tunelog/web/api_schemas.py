"""JSON Schemas of the dashboard API's bodies and responses (the OpenAPI ``components``)."""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


_NUM_OR_NULL = {"type": ["number", "null"]}
_STR_OR_NULL = {"type": ["string", "null"]}
_NUMS = {"type": "array", "items": _NUM_OR_NULL}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


SCHEMAS: dict[str, Any] = {
    "Object": {"type": "object"},
    "Error": _obj(["error", "status"], error={"type": "string"}, status={"type": "integer"}),
    "Deleted": _obj(["deleted"], deleted={"type": ["string", "integer"]}),
    "Project": _obj(
        ["entity", "project", "runs", "artifacts"],
        entity={"type": "string"},
        project={"type": "string"},
        runs={"type": "integer"},
        running={"type": "integer"},
        artifacts={"type": "integer"},
        last_activity=_NUM_OR_NULL,
    ),
    "ProjectList": _list("Project"),
    "Run": _obj(
        ["entity", "project", "id", "name", "state", "tags", "config", "summary", "created_at"],
        entity={"type": "string"},
        project={"type": "string"},
        id={"type": "string"},
        name={"type": "string"},
        state={"enum": ["running", "finished", "failed", "crashed"]},
        job_type=_STR_OR_NULL,
        group=_STR_OR_NULL,
        tags={"type": "array", "items": {"type": "string"}},
        notes=_STR_OR_NULL,
        config={"type": "object"},
        summary={"type": "object"},
        created_at={"type": "number"},
        updated_at={"type": "number"},
        finished_at=_NUM_OR_NULL,
        url={"type": "string"},
    ),
    "RunPage": _obj(["runs", "next"], runs=_list("Run"), next=_STR_OR_NULL),
    "GroupPage": _obj(
        ["groups", "total_groups", "total_runs"],
        groups={
            "type": "array",
            "items": _obj(
                ["value", "runs", "stats"],
                value={"type": ["string", "number", "boolean", "null"]},
                runs={"type": "integer"},
                stats={
                    "type": "object",
                    "description": "column key → the mean, min and max of its numeric values",
                    "additionalProperties": _obj(
                        ["mean", "min", "max"], mean=_NUM_OR_NULL, min=_NUM_OR_NULL, max=_NUM_OR_NULL
                    ),
                },
            ),
        },
        total_groups={"type": "integer"},
        total_runs={"type": "integer"},
    ),
    "RunEdit": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "notes": _STR_OR_NULL,
            "group": _STR_OR_NULL,
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    },
    "FilterParse": _obj(
        ["ok"],
        ok={"type": "boolean"},
        filter={"type": "object"},
        error={"type": "string"},
        position={"type": "integer"},
        message={"type": "string"},
    ),
    "MetricKeys": {
        "type": "array",
        "items": _obj(["key", "points"], key={"type": "string"}, points={"type": "integer"}),
    },
    "Series": _obj(
        ["run", "key", "steps", "values", "times", "total", "downsampled"],
        run={"type": "string"},
        name={"type": "string"},
        key={"type": "string"},
        steps={"type": "array", "items": {"type": "number"}},
        values=_NUMS,
        mins={"type": ["array", "null"], "items": _NUM_OR_NULL},
        maxs={"type": ["array", "null"], "items": _NUM_OR_NULL},
        times={"type": "array", "items": {"type": "number"}},
        total={"type": "integer"},
        downsampled={"type": "boolean"},
    ),
    "SeriesList": _list("Series"),
    "Event": _obj(
        ["time", "level", "message"],
        time={"type": "number"},
        level={"type": "string"},
        message={"type": "string"},
        data={"type": ["object", "null"]},
        id=_STR_OR_NULL,
    ),
    "EventList": _list("Event"),
    "TablePage": _obj(
        ["columns", "nrows", "rows"],
        columns={"type": "array", "items": {"type": "string"}},
        nrows={"type": "integer"},
        rows={
            "type": "array",
            "items": _obj(["index", "cells"], index={"type": "integer"}, cells={"type": "array"}),
        },
        next_offset={"type": ["integer", "null"]},
    ),
    "Span": _obj(
        ["span_id", "trace_id", "run", "name", "kind", "start_time", "status"],
        span_id={"type": "string"},
        trace_id={"type": "string"},
        parent_id=_STR_OR_NULL,
        run={"type": "string"},
        name={"type": "string"},
        kind={"type": "string"},
        start_time={"type": "number"},
        end_time=_NUM_OR_NULL,
        latency=_NUM_OR_NULL,
        status={"type": "string"},
        model=_STR_OR_NULL,
        usage={"type": ["object", "null"]},
        cost_usd=_NUM_OR_NULL,
        error={"type": ["object", "null"]},
        input_preview={"type": "string"},
        output_preview={"type": "string"},
        inputs={},
        outputs={},
        attributes={"type": "object"},
    ),
    "SpanPage": _obj(["spans", "next"], spans=_list("Span"), next=_STR_OR_NULL),
    "SpanStats": {
        "type": "array",
        "items": _obj(
            ["start", "width", "model", "calls"],
            start={"type": "number"},
            width={"type": "number"},
            model={"type": "string"},
            calls={"type": "integer"},
            prompt_tokens={"type": "integer"},
            completion_tokens={"type": "integer"},
            cost_usd={"type": "number"},
            errors={"type": "integer"},
            mean_latency=_NUM_OR_NULL,
        ),
    },
    "Collection": _obj(
        ["entity", "project", "name", "type", "versions"],
        entity={"type": "string"},
        project={"type": "string"},
        name={"type": "string"},
        type={"type": "string"},
        description=_STR_OR_NULL,
        versions={"type": "integer"},
        created_at={"type": "number"},
    ),
    "CollectionList": _list("Collection"),
    "Artifact": _obj(
        ["name", "type", "version", "aliases", "digest", "size", "metadata"],
        name={"type": "string"},
        type={"type": "string"},
        version={"type": "string"},
        aliases={"type": "array", "items": {"type": "string"}},
        digest={"type": "string"},
        size={"type": "integer"},
        metadata={"type": "object"},
        description=_STR_OR_NULL,
        created_at=_NUM_OR_NULL,
        logged_by=_STR_OR_NULL,
        qualified_name={"type": "string"},
        files={
            "type": "array",
            "items": _obj(
                ["path", "size", "sha256"],
                path={"type": "string"},
                size={"type": "integer"},
                sha256={"type": "string"},
            ),
        },
        tables={"type": "array", "items": {"type": "string"}},
    ),
    "ArtifactList": _list("Artifact"),
    "Lineage": _obj(
        ["nodes", "edges"],
        nodes={
            "type": "array",
            "items": _obj(
                ["id", "kind", "label", "href", "layer"],
                id={"type": "string"},
                kind={"enum": ["run", "artifact"]},
                label={"type": "string"},
                sub={"type": "string"},
                href={"type": "string"},
                layer={"type": "integer"},
                focus={"type": "boolean"},
            ),
        },
        edges={
            "type": "array",
            "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
        },
    ),
    "ViewSpec": {
        "type": "object",
        "properties": {
            "q": {"type": "string"},
            "text": {"type": "string"},
            "sort": {"type": "string"},
            "cols": {"type": "array", "items": {"type": "string"}},
            "group": {"type": "string"},
            "charts": {"type": "array", "items": {"type": "string"}},
        },
    },
    "View": _obj(
        ["name", "spec"],
        name={"type": "string"},
        spec=_ref("ViewSpec"),
        created_at={"type": "number"},
        updated_at={"type": "number"},
    ),
    "ViewList": _list("View"),
    "ViewSave": _obj(["name", "spec"], name={"type": "string", "minLength": 1}, spec=_ref("ViewSpec")),
    "ReportBlock": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"enum": ["note", "chart", "runs", "table"]},
            "text": {"type": "string"},
            "metric": {"type": "string"},
            "runs": {"type": "array", "items": {"type": "string"}},
            "filter": {"type": "string"},
            "cols": {"type": "array", "items": {"type": "string"}},
            "run": {"type": "string"},
            "key": {"type": "string"},
            "title": {"type": "string"},
        },
    },
    "ReportBody": _obj(["blocks"], blocks=_list("ReportBlock")),
    "Report": _obj(
        ["id", "title"],
        id={"type": "integer"},
        title={"type": "string"},
        body=_ref("ReportBody"),
        created_at={"type": "number"},
        updated_at={"type": "number"},
    ),
    "ReportList": _list("Report"),
    "ReportSave": _obj(["title", "body"], title={"type": "string"}, body=_ref("ReportBody")),
}
