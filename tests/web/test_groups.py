"""Grouping runs through the JSON API (as documented in the OpenAPI schema) and on the workspace page:
groups counted in the store over every matching run, each group's runs keyset-paged."""

from __future__ import annotations

import json
import statistics
import urllib.parse
from collections import defaultdict
from typing import Any

import jsonschema

from tests.web.test_http import fetch
from tunelog.api import Api

BASE = "/api/v1/tester/ft-demo"


def _get(server: str, path: str, schema: str | None = None, **params: str) -> Any:
    status, raw, _ = fetch(server + path + ("?" + urllib.parse.urlencode(params) if params else ""))
    assert status == 200, raw[:500]
    value = json.loads(raw)
    if schema:
        _, doc, _ = fetch(server + "/api/openapi.json")
        components = json.loads(doc)["components"]
        jsonschema.validate(value, {"$ref": f"#/components/schemas/{schema}", "components": components})
    return value


def test_groups_are_counted_and_aggregated_over_every_matching_run(server: str, api: Api) -> None:
    runs = api.runs("tester/ft-demo")
    expected: dict[Any, list[Any]] = defaultdict(list)
    for r in runs:
        expected[r.config.get("base_model")].append(r)
    page = _get(
        server,
        BASE + "/groups",
        "GroupPage",
        by="config.base_model",
        cols="summary.final_loss,config.hyperparameters.n_epochs",
    )
    assert page["total_runs"] == len(runs) and page["total_groups"] == len(expected)
    assert {g["value"]: g["runs"] for g in page["groups"]} == {k: len(v) for k, v in expected.items()}
    assert page["groups"][-1]["value"] is None  # runs without the key come last
    for g in page["groups"]:
        epochs = [r.config["hyperparameters"]["n_epochs"] for r in expected[g["value"]] if r.config]
        st = g["stats"]["config.hyperparameters.n_epochs"]
        if epochs:
            assert st["mean"] == statistics.fmean(epochs)
            assert (st["min"], st["max"]) == (min(epochs), max(epochs))
        else:
            assert st == {"mean": None, "min": None, "max": None}

    filtered = _get(server, BASE + "/groups", by="job_type", filter='job_type = "fine-tune"')
    assert [(g["value"], g["runs"]) for g in filtered["groups"]] == [("fine-tune", 3)]
    by_mean = _get(
        server,
        BASE + "/groups",
        by="config.base_model",
        cols="summary.final_loss",
        order="-summary.final_loss",
    )
    means = [g["stats"]["summary.final_loss"]["mean"] for g in by_mean["groups"]]
    present = [m for m in means if m is not None]
    assert present == sorted(present, reverse=True) and means[: len(present)] == present
    second = _get(server, BASE + "/groups", by="config.base_model", limit="1", offset="1")
    assert second["groups"] == [page["groups"][1] | {"stats": {}}]


def test_a_groups_runs_come_a_page_at_a_time(server: str, api: Api) -> None:
    model = "gpt-4o-mini-2024-07-18"
    want = sorted(r.id for r in api.runs("tester/ft-demo") if r.config.get("base_model") == model)
    assert len(want) >= 3
    seen: list[str] = []
    cursor = ""
    while True:
        params = {"by": "config.base_model", "value": json.dumps(model), "order": "name", "limit": "2"}
        page = _get(server, BASE + "/groups/runs", "RunPage", **params, cursor=cursor)
        seen += [r["id"] for r in page["runs"]]
        names = [r["name"] for r in page["runs"]]
        assert names == sorted(names)
        if not page["next"]:
            break
        cursor = page["next"]
    assert sorted(seen) == want and len(seen) == len(set(seen))
    missing = _get(server, BASE + "/groups/runs", by="config.base_model", value="null")
    assert "eval-1" in [r["id"] for r in missing["runs"]]
    both = _get(
        server,
        BASE + "/groups/runs",
        by="job_type",
        value='"fine-tune"',
        filter="config.hyperparameters.n_epochs >= 3",
    )
    assert sorted(r["id"] for r in both["runs"]) == ["ftjob-0", "ftjob-1"]


def test_group_requests_that_cannot_work_say_why(server: str) -> None:
    for path, message in [
        ("/groups", "Pass by=<key>"),
        ("/groups?by=tags", "Cannot group runs by"),
        ("/groups?by=config.base_model%22%29%3B%20DROP%20TABLE%20runs", "not supported"),
        ("/groups?by=state&cols=bogus", "Unknown filter path"),
        ("/groups/runs?by=state", "Pass value="),
        ("/groups/runs?by=state&value=finished", "is not JSON"),
        ("/groups/runs?by=state&value=%5B1%5D", "not a group value"),
    ]:
        status, raw, _ = fetch(server + BASE + path)
        assert status == 400, path
        assert message in json.loads(raw)["error"], (path, raw)
    assert _get(server, BASE + "/runs", limit="1")["runs"]  # the table is still there


def test_grouped_workspace_shows_every_group_without_a_cap(server: str, api: Api) -> None:
    status, raw, _ = fetch(server + "/tester/ft-demo?group=config.base_model&cols=summary.final_loss")
    html = raw.decode()
    assert status == 200
    groups = {r.config.get("base_model") for r in api.runs("tester/ft-demo")}
    assert html.count('class="group-head"') == len(groups)
    assert f"in {len(groups)} groups by" in html and "first" not in html.split("summary-line")[1][:400]
    assert "μ " in html  # the mean of final_loss in the fine-tune groups
    status, raw, _ = fetch(server + "/tester/ft-demo?group=tags")
    assert status == 200 and b"Cannot group runs by" in raw
