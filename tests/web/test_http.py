"""The dashboard over real HTTP: every page renders, the JSON API matches its OpenAPI document,
editing checks Origin, file routes stay inside the store, filters cannot inject SQL."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import jsonschema
import pytest

from tests.web.sample_data import XSS


def fetch(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


PAGES = [
    "/",
    "/tester/ft-demo",
    "/tester/ft-demo?q=config.hyperparameters.n_epochs+%3E%3D+3&sort=-summary.final_loss&group=config.base_model",
    "/tester/ft-demo/runs/ftjob-0",
    "/tester/ft-demo/runs/eval-1",
    "/tester/ft-demo/runs/ftjob-0/tables/checkpoints?offset=0&q=ckpt-200",
    "/tester/ft-demo/traces",
    "/tester/ft-demo/traces?status=error&all=1&from=2000-01-01T00:00",
    "/tester/ft-demo/traces/t-1?span=s-llm2",
    "/tester/ft-demo/artifacts",
    "/tester/ft-demo/artifacts/model-metadata",
    "/tester/ft-demo/artifacts/model-metadata/v0",
    "/tester/ft-demo/artifacts/train-train.jsonl/v0/preview/train.jsonl",
    "/tester/ft-demo/artifacts/train-train.jsonl/v0/tables/train?q=7%20%2B%207",
    "/tester/ft-demo/reports",
    "/tester/registry/artifacts",
    "/tester/registry/artifacts/finetuned-models/v0",
    "/tester/xss",
    "/tester/xss/runs/xss-run",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_render(server: str, path: str) -> None:
    status, body, headers = fetch(server + path)
    assert status == 200, body[:500]
    assert "script-src 'self'" in headers["content-security-policy"]


def test_missing_things_are_404_pages_with_a_way_on(server: str) -> None:
    for path in [
        "/tester/ft-demo/runs/nope",
        "/tester/nope-project",
        "/tester/ft-demo/artifacts/nope/v0",
        "/a/b/c/d/e",
    ]:
        status, body, _ = fetch(server + path)
        assert status == 404, path
        assert b"All projects" in body


def test_the_user_content_is_escaped_in_html(server: str) -> None:
    for path in [
        "/tester/xss",
        "/tester/xss/runs/xss-run",
        "/tester/xss/traces/x-trace",
        "/tester/xss/reports/1",
        "/tester/xss/artifacts/xss-data/v0",
        "/tester/xss/runs/xss-run/tables/cells",
    ]:
        _, body, _ = fetch(server + path)
        text = body.decode()
        for payload in XSS:
            if "<" in payload:
                assert payload not in text, (path, payload)
        assert not re.search(r"<(img|svg|iframe)[^>]*\son\w+=", text, re.I), path


def test_openapi_document_covers_every_api_route_and_validates_responses(server: str) -> None:
    status, raw, _ = fetch(server + "/api/openapi.json")
    doc = json.loads(raw)
    assert status == 200 and doc["openapi"].startswith("3.1")
    from tunelog.web.json_api import PREFIX

    paths = doc["paths"]
    assert len(paths) >= 20 and all(p.startswith(PREFIX) for p in paths)

    def check(path: str, schema: str, method: str = "GET", body: Any = None) -> Any:
        st, data, _ = fetch(server + path, method, body)
        assert st == 200, data
        value = json.loads(data)
        jsonschema.validate(
            value, {"$ref": f"#/components/schemas/{schema}", "components": doc["components"]}
        )
        return value

    check("/api/v1/projects", "ProjectList")
    page = check("/api/v1/tester/ft-demo/runs?limit=3&order=name", "RunPage")
    assert page["next"] and len(page["runs"]) == 3
    page2 = check(
        f"/api/v1/tester/ft-demo/runs?limit=3&order=name&cursor={urllib.request.quote(page['next'])}",
        "RunPage",
    )
    assert page2["runs"][0]["name"] > page["runs"][-1]["name"]
    check("/api/v1/tester/ft-demo/runs/ftjob-0", "Run")
    check("/api/v1/tester/ft-demo/runs/ftjob-0/metrics", "MetricKeys")
    series = check("/api/v1/tester/ft-demo/runs/ftjob-0/metrics/train_loss?max_points=50", "Series")
    assert series["downsampled"] and len(series["steps"]) <= 50 and series["total"] == 200
    check("/api/v1/tester/ft-demo/compare?runs=ftjob-0,ftjob-1&key=train_loss", "SeriesList")
    check("/api/v1/tester/ft-demo/runs/ftjob-0/events", "EventList")
    check("/api/v1/tester/ft-demo/runs/ftjob-0/tables/checkpoints", "TablePage")
    spans = check("/api/v1/tester/ft-demo/spans?limit=2&all=1", "SpanPage")
    more = check(
        f"/api/v1/tester/ft-demo/spans?limit=2&before={urllib.request.quote(spans['next'])}", "SpanPage"
    )
    assert {s["span_id"] for s in spans["spans"]}.isdisjoint(s["span_id"] for s in more["spans"])
    check("/api/v1/tester/ft-demo/spans/s-llm2", "Span")
    check("/api/v1/tester/ft-demo/span-stats", "SpanStats")
    check("/api/v1/tester/ft-demo/artifacts", "CollectionList")
    check("/api/v1/tester/ft-demo/artifacts/model-metadata/versions", "ArtifactList")
    check("/api/v1/tester/ft-demo/artifacts/model-metadata/versions/v0", "Artifact")
    check("/api/v1/tester/ft-demo/artifacts/train-train.jsonl/versions/v0/tables/train?q=7", "TablePage")
    lineage = check("/api/v1/tester/ft-demo/artifacts/model-metadata/versions/v0/lineage", "Lineage")
    assert {n["kind"] for n in lineage["nodes"]} == {"run", "artifact"}
    check("/api/v1/filter/parse?q=state%20%3D%20%22x%22", "FilterParse")
    bad = check("/api/v1/filter/parse?q=state%20%3D", "FilterParse")
    assert bad["ok"] is False and bad["position"] == 7
    check("/api/v1/tester/ft-demo/views", "View", "POST", {"name": "v1", "spec": {"q": "state = 1"}})
    check("/api/v1/tester/ft-demo/views", "ViewList")
    rep = check(
        "/api/v1/tester/ft-demo/reports",
        "Report",
        "POST",
        {"title": "r", "body": {"blocks": [{"type": "note", "text": "x"}]}},
    )
    check(
        f"/api/v1/tester/ft-demo/reports/{rep['id']}",
        "Report",
        "PUT",
        {"title": "r2", "body": {"blocks": []}},
    )
    check("/api/v1/tester/ft-demo/reports", "ReportList")


def test_api_errors_are_json_with_a_message(server: str) -> None:
    status, raw, _ = fetch(server + "/api/v1/tester/ft-demo/runs?filter=state%20%3D%3D")
    assert status == 400 and "column" in json.loads(raw)["error"]
    status, raw, _ = fetch(server + "/api/v1/tester/ft-demo/runs/none")
    assert status == 404 and json.loads(raw)["status"] == 404
    status, raw, _ = fetch(server + "/api/v1/tester/ft-demo/runs/sweep-1", "PATCH", {"state": "finished"})
    assert status == 400 and "only name, notes, tags and group" in json.loads(raw)["error"]


def test_editing_routes_refuse_cross_site_requests(server: str) -> None:
    url = server + "/api/v1/tester/ft-demo/runs/sweep-2"
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": server.replace("127.0.0.1", "localhost")},
    ):
        status, body, _ = fetch(url, "PATCH", {"name": "pwned"}, headers)
        assert status == 403, headers
        assert b"cross-site" in body or b"Refused" in body
    status, _, _ = fetch(
        server + "/tester/ft-demo/reports/new", "POST", None, {"Origin": "https://evil.example"}
    )
    assert status == 403
    status, raw, _ = fetch(
        url, "PATCH", {"name": "sweep-2"}, {"Origin": server, "Sec-Fetch-Site": "same-origin"}
    )
    assert status == 200 and json.loads(raw)["name"] == "sweep-2"


def test_requests_for_another_host_name_are_refused(server: str) -> None:
    status, body, _ = fetch(server + "/", headers={"Host": "evil.example"})
    assert status == 421 and b"does not answer" in body


@pytest.mark.parametrize(
    "path",
    [
        "../../tunelog.db",
        "..%2F..%2Ftunelog.db",
        "%2e%2e/%2e%2e/tunelog.db",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "train.jsonl/../../../tunelog.db",
        "blobs/../tunelog.db",
        "....//....//tunelog.db",
        "train.jsonl%00.db",
    ],
)
def test_artifact_file_routes_cannot_leave_the_store(server: str, path: str) -> None:
    for kind in ("files", "preview"):
        status, body, _ = fetch(f"{server}/tester/ft-demo/artifacts/train-train.jsonl/v0/{kind}/{path}")
        assert status in (400, 404), (kind, path, status)
        assert b"SQLite format" not in body and b"root:" not in body


def test_downloads_serve_the_stored_bytes(server: str, sample: Any) -> None:
    status, body, headers = fetch(server + "/tester/ft-demo/artifacts/train-train.jsonl/v0/files/train.jsonl")
    assert status == 200 and body.count(b"\n") == 40 and "attachment" in headers["content-disposition"]


def test_filters_cannot_inject_sql(server: str) -> None:
    for expr in [
        'name = "x\' OR 1=1 --"',
        'config.`a") OR 1=1 --` = 1',
        'name ~ "(?i).*\'; DROP TABLE runs; --"',
    ]:
        status, body, _ = fetch(server + "/tester/ft-demo?q=" + urllib.request.quote(expr))
        assert status == 200
        assert b"No runs match" in body or b"alert" in body
    status, body, _ = fetch(server + "/tester/ft-demo")
    assert b"ft-gpt-4o-mini" in body  # the table is still there


def test_a_bad_filter_shows_where_it_went_wrong(server: str) -> None:
    status, body, _ = fetch(server + "/tester/ft-demo?q=" + urllib.request.quote("config.x >= and y"))
    assert status == 200
    assert b"Expected a value" in body and b"column 13" in body


def test_export_is_one_self_contained_file(server: str, api: Any) -> None:
    rep = api.save_report(
        "tester/ft-demo",
        "Loss",
        {
            "blocks": [
                {"type": "note", "text": "Compare the fine-tunes."},
                {"type": "chart", "metric": "train_loss", "runs": ["ftjob-0", "ftjob-1"]},
                {
                    "type": "runs",
                    "filter": 'job_type = "fine-tune"',
                    "cols": ["config.base_model", "summary.final_loss"],
                },
                {"type": "table", "run": "eval-1", "key": "samples"},
            ]
        },
    )
    status, body, headers = fetch(f"{server}/tester/ft-demo/reports/{rep.id}/export")
    assert status == 200 and "attachment" in headers["content-disposition"]
    html = body.decode()
    assert "Compare the fine-tunes." in html and "Saturn" in html and "ftjob-0" in html
    # Nothing is loaded from anywhere: no src/href to a URL, no stylesheet links.
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html, re.I)
    assert html.count("<script") == 3 and "Plotly" in html


def test_non_loopback_hosts_need_allow_remote() -> None:
    from tunelog.errors import UsageError
    from tunelog.web.server import check_host, url_for

    assert "127.0.0.1" in check_host("127.0.0.1", False) and "localhost" in check_host("::1", False)
    with pytest.raises(UsageError, match="--allow-remote"):
        check_host("0.0.0.0", False)
    with pytest.raises(UsageError):
        check_host("192.168.1.5", False)
    assert check_host("0.0.0.0", True) == ["*"]
    assert url_for("0.0.0.0", 80) == "http://127.0.0.1:80" and url_for("::1", 8) == "http://[::1]:8"


def test_the_cli_refuses_a_public_host(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from tunelog.cli import main

    result = CliRunner().invoke(main, ["--dir", str(tmp_path), "ui", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "--allow-remote" in result.output


def test_json_preview_shows_the_document(server: str) -> None:
    url = "/tester/ft-demo/artifacts/model-metadata/v0/preview/model_metadata.json"
    status, body, _ = fetch(server + url)
    assert status == 200 and b"fine_tuned_model" in body and b"ft:" in body
