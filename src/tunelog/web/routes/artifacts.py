"""The artifact pages: collections by type, versions, one version (metadata, files, previews,
lineage), file downloads, and the registry (the ``registry`` project of an entity).

File routes look a path up in the version's manifest and stream the content-addressed blob it
names: a request path is never joined to a directory, so nothing outside the store can be read.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tunelog.refs import REGISTRY_PROJECT
from tunelog.web import chat
from tunelog.web.context import Web
from tunelog.web.lineage import NODE_H, NODE_W, build_lineage
from tunelog.web.routes.runs import table_page

PREVIEW_BYTES = 256 * 1024
PREVIEW_ROWS = 50


def preview(data: bytes, path: str) -> dict[str, Any]:
    """What a file preview shows: ``kind`` (jsonl, json, csv, text, binary) and its content."""
    truncated = len(data) >= PREVIEW_BYTES
    lower = path.lower()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if truncated:  # cut inside a character: drop the partial one
            text = data.decode("utf-8", "ignore")
        else:
            return {"kind": "binary", "truncated": truncated}
    if lower.endswith(".jsonl") or lower.endswith(".ndjson"):
        rows: list[dict[str, Any]] = []
        for i, line in enumerate(text.splitlines()):
            if len(rows) >= PREVIEW_ROWS:
                break
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                if truncated and i == len(text.splitlines()) - 1:
                    break
                rows.append({"line": i + 1, "error": "not valid JSON", "raw": line[:2000]})
                continue
            rows.append({"line": i + 1, "chat": chat.as_chat(obj), "value": obj})
        return {"kind": "jsonl", "rows": rows, "truncated": truncated}
    if lower.endswith(".json"):
        try:
            return {"kind": "json", "value": json.loads(text), "truncated": False}
        except ValueError:
            return {"kind": "text", "text": text, "truncated": truncated}
    if lower.endswith(".csv") or lower.endswith(".tsv"):
        reader = csv.reader(io.StringIO(text), delimiter="\t" if lower.endswith(".tsv") else ",")
        rows_csv = [r for _, r in zip(range(PREVIEW_ROWS + 1), reader, strict=False)]
        return {
            "kind": "csv",
            "header": rows_csv[0] if rows_csv else [],
            "rows": rows_csv[1:],
            "truncated": truncated,
        }
    return {"kind": "text", "text": text, "truncated": truncated}


def routes(web: Web) -> list[Route]:
    api = web.api

    def collections(request: Request) -> Response:
        e, p = request.path_params["entity"], request.path_params["project"]
        by_type: dict[str, list[Any]] = {}
        for c in api.artifact_collections(f"{e}/{p}"):
            by_type.setdefault(c.type, []).append(c)
        return web.page(
            request,
            "artifacts.html",
            title=f"{p} · artifacts · tunelog",
            tab="artifacts",
            by_type=dict(sorted(by_type.items())),
            registry=p == REGISTRY_PROJECT,
        )

    def versions(request: Request) -> Response:
        e, p, name = (request.path_params[k] for k in ("entity", "project", "name"))
        arts = api.artifact_versions(f"{e}/{p}/{name}")
        return web.page(
            request,
            "collection.html",
            title=f"{name} · artifacts · tunelog",
            tab="artifacts",
            name=name,
            versions=list(reversed(arts)),
        )

    def version(request: Request) -> Response:
        e, p, name, ver = (request.path_params[k] for k in ("entity", "project", "name", "version"))
        art = api.artifact(f"{e}/{p}/{name}:{ver}")
        graph = build_lineage(api, art)
        tables = art.tables()
        hidden = {f"{t}.table.{role}" for t in tables for role in ("rows", "index")}
        return web.page(
            request,
            "version.html",
            title=f"{name}:{art.version} · artifacts · tunelog",
            tab="artifacts",
            art=art,
            files=[f for f in art.files() if f.path not in hidden],
            tables=tables,
            logger=art.logged_by(),
            users=art.used_by(),
            graph=graph,
            node_w=NODE_W,
            node_h=NODE_H,
            quote=quote,
        )

    def _file(request: Request) -> tuple[Any, Any]:
        e, p, name, ver, path = (
            request.path_params[k] for k in ("entity", "project", "name", "version", "path")
        )
        art = api.artifact(f"{e}/{p}/{name}:{ver}")
        return art, art.get_path(path)  # an exact manifest lookup: ReferenceNotFound (404) otherwise

    def download(request: Request) -> Response:
        _, f = _file(request)
        blobs = api.backend.blobs

        def chunks() -> Any:
            with blobs.open(f.digest) as fh:
                while chunk := fh.read(1 << 20):
                    yield chunk

        filename = f.path.rsplit("/", 1)[-1]
        return StreamingResponse(
            chunks(),
            media_type="application/octet-stream",
            headers={
                "content-disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
                "content-length": str(f.size),
            },
        )

    def file_preview(request: Request) -> Response:
        art, f = _file(request)
        with api.backend.blobs.open(f.digest) as fh:
            data = fh.read(PREVIEW_BYTES)
        return web.page(
            request,
            "preview.html",
            title=f"{f.path} · {art.name}:{art.version} · tunelog",
            tab="artifacts",
            art=art,
            file=f,
            pv=preview(data, f.path),
            quote=quote,
        )

    def artifact_table(request: Request) -> Response:
        e, p, name, ver, table = (
            request.path_params[k] for k in ("entity", "project", "name", "version", "table")
        )
        art = api.artifact(f"{e}/{p}/{name}:{ver}")
        reader = art.table_reader(table)
        return web.fragment("table_page.html", **table_page(reader, request.query_params, request.url.path))

    A = "/{entity}/{project}/artifacts"
    return [
        Route(A, collections, name="artifacts"),
        Route(A + "/{name}", versions, name="collection"),
        Route(A + "/{name}/{version}", version, name="version"),
        Route(A + "/{name}/{version}/files/{path:path}", download, name="download"),
        Route(A + "/{name}/{version}/preview/{path:path}", file_preview, name="preview"),
        Route(A + "/{name}/{version}/tables/{table:path}", artifact_table, name="artifact_table"),
    ]
