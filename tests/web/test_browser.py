"""The dashboard in a real browser (Debian's headless Chromium through Playwright): the user's
paths through it, an XSS corpus that must execute nothing, and screenshots of every page (saved
under pytest's temporary directory: look for ``screenshots*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def shot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def charts_drawn(page: Any, selector: str, n: int) -> None:
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel + ' .main-svg').length >= n",
        arg=[selector, n],
        timeout=15000,
    )


def test_projects_to_workspace_sort_filter_and_group(page: Any, server: str, shots: Path) -> None:
    page.goto(server + "/")
    shot(page, shots, "01-projects")
    page.click("text=ft-demo")
    page.wait_for_selector("#runs-table")
    shot(page, shots, "02-workspace")
    page.click("#runs-table thead >> text=Name")
    names = page.locator("#runs-table tbody .run-name").all_inner_texts()
    assert names == sorted(names, reverse=True)
    page.click("#runs-table thead >> text=Name")
    names = page.locator("#runs-table tbody .run-name").all_inner_texts()
    assert names == sorted(names)
    page.fill("#filter", 'config.hyperparameters.n_epochs >= 3 and job_type = "fine-tune"')
    page.press("#filter", "Enter")
    page.wait_for_load_state()
    assert sorted(page.locator("#runs-table tbody .run-name").all_inner_texts()) == [
        "ft-gpt-4o-mini-2024-07-18-e3",
        "ft-gpt-4o-mini-2024-07-18-e4",
    ]
    page.fill("#filter", "config.hyperparameters.n_epochs >= and")
    page.press("#filter", "Enter")
    assert "Expected a value" in page.inner_text("#filter-error")
    shot(page, shots, "03-workspace-bad-filter")
    cols = "config.base_model,summary.final_loss"
    page.goto(server + f"/tester/ft-demo?group=config.base_model&sort=name&cols={cols}")
    assert page.locator(".group-head").count() >= 2
    assert page.locator("#runs-table tr[data-run]").count() == 0  # groups start collapsed
    # Expanding a group loads its runs through the JSON API, in the workspace's sort order.
    first = page.locator("tbody.group").first
    count = int(first.get_attribute("data-count"))
    first.locator(".group-toggle").click()
    page.wait_for_function(
        "n => document.querySelectorAll('tbody.group:first-of-type tr[data-run]').length === n",
        arg=min(count, 20),
    )
    model = first.locator(".group-head strong").inner_text().split(" = ", 1)[1]
    names = first.locator(".run-name").all_inner_texts()
    assert names == sorted(names) and len(names) == count
    cells = first.locator("tr[data-run] td:nth-child(8)").all_inner_texts()
    assert set(cells) == {model}  # the config.base_model column of every run shown
    shot(page, shots, "04-workspace-grouped")
    # What is shown can be selected and compared.
    boxes = first.locator(".run-check")
    boxes.nth(0).check()
    boxes.nth(1).check()
    assert page.inner_text("#sel-count") == "2"
    page.click("[data-action=compare]")
    charts_drawn(page, "#compare-charts", 1)
    # Collapsing hides them; the keyboard skips hidden rows.
    first.locator(".group-toggle").click()
    assert first.locator("tr[data-run]:visible").count() == 0
    page.keyboard.press("j")
    assert page.locator("tr.cursor").count() == 0


def test_an_expanded_group_pages_its_runs_with_show_more(page: Any, server: str) -> None:
    # Two runs a page instead of 20, so the sample's groups need "Show more": set before the
    # workspace script reads the page data.
    page.add_init_script(
        """document.addEventListener("DOMContentLoaded", () => {
             const el = document.getElementById("page-data");
             const d = JSON.parse(el.textContent);
             d.groupPage = 2;
             el.textContent = JSON.stringify(d);
           });"""
    )
    page.goto(server + "/tester/ft-demo?group=job_type&sort=name")
    group = page.locator("tbody.group", has_text="job_type = train")
    count = int(group.get_attribute("data-count"))
    assert count >= 3
    group.locator(".group-toggle").click()
    page.wait_for_function("() => document.querySelectorAll('tr[data-run]').length === 2")
    more = group.locator("[data-action=group-more]")
    while more.is_visible():
        shown = group.locator("tr[data-run]").count()
        assert f"{shown} of {count} shown" in more.inner_text()
        more.click()
        page.wait_for_function("n => document.querySelectorAll('tr[data-run]').length > n", arg=shown)
    names = group.locator(".run-name").all_inner_texts()
    assert len(names) == count and names == sorted(names)


def test_keyboard_moves_through_rows_and_opens_one(page: Any, server: str) -> None:
    page.goto(server + "/tester/ft-demo?sort=name")
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.locator("tr.cursor").count() == 1
    page.keyboard.press("Enter")
    page.wait_for_url("**/runs/**")
    page.keyboard.press("/")  # focuses the first search box
    assert page.evaluate("document.activeElement.tagName") == "INPUT"


def test_rename_a_run_and_see_it_after_reload(page: Any, server: str) -> None:
    page.goto(server + "/tester/ft-demo/runs/sweep-0")
    page.click("#run-name")
    page.keyboard.press("Control+A")
    page.keyboard.type("renamed sweep")
    page.keyboard.press("Enter")
    page.wait_for_selector(".toast")
    page.click("#run-notes")
    page.keyboard.type("a note")
    page.keyboard.press("Control+Enter")
    page.click("[data-action=edit-tags]")
    page.fill("#tags-input", "alpha, beta")
    page.press("#tags-input", "Enter")
    page.wait_for_function("document.querySelectorAll('#run-tags .tag').length === 2")
    page.reload()
    assert page.inner_text("#run-name") == "renamed sweep"
    assert page.inner_text("#run-notes") == "a note"
    assert page.locator("#run-tags .tag").all_inner_texts() == ["alpha", "beta"]
    # And in the runs table, renamed in place there too.
    page.goto(server + "/tester/ft-demo?sort=name")
    row = page.locator("tr[data-run=sweep-1]")
    row.hover()
    row.locator("[data-action=rename]").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("sweep one")
    page.keyboard.press("Enter")
    page.wait_for_selector(".toast")
    page.reload()
    assert page.locator("tr[data-run=sweep-1] .run-name").inner_text() == "sweep one"


def test_run_page_charts_zoom_smoothing_and_tables(page: Any, server: str, shots: Path) -> None:
    page.goto(server + "/tester/ft-demo/runs/ftjob-0")
    charts_drawn(page, "#run-charts", 3)
    page.fill("#smooth", "0.8")
    page.dispatch_event("#smooth", "input")
    page.check("#x-time")
    # Drawn with the time axis: its type switched and its range worked out as dates (a range read
    # in between is the step axis's, which holds no time window, and a zoom to it fetches nothing).
    page.wait_for_function(
        """() => { const el = document.querySelector('#run-charts .js-plotly-plot');
            const r = el && el.layout.xaxis.range;
            return el && el.dataset.zoom === 'on' && el.layout.xaxis.type === 'date'
                && r && new Date(r[0]).getFullYear() > 2000; }""",
        timeout=15000,
    )
    # Zooming a time axis refetches the steps logged in that window (server-side detail).
    with page.expect_request(lambda r: "/metrics/" in r.url and "min_step=" in r.url):
        page.evaluate(
            """() => { const el = document.querySelector('#run-charts .js-plotly-plot');
                const [a, b] = el.layout.xaxis.range;
                const ta = new Date(a).getTime(), tb = new Date(b).getTime();
                const f = (t) => new Date(t).toISOString().replace('T', ' ').replace('Z', '');
                window.Plotly.relayout(el, {
                    'xaxis.range[0]': f(ta + (tb - ta) / 4), 'xaxis.range[1]': f(tb)}); }"""
        )
    page.wait_for_selector(".table-box .data-table")
    assert "ckpt-200" in page.inner_text(".table-box")
    assert page.locator(".events tbody tr").count() == 3
    shot(page, shots, "05-run")
    page.goto(server + "/tester/ft-demo/runs/eval-1")
    page.wait_for_selector(".table-box .data-table")
    page.fill(".table-search", "saturn")
    page.wait_for_function("document.querySelector('.table-box .tp-info').textContent.includes('match')")
    assert page.locator(".table-box .data-table tbody tr").count() == 1
    assert page.locator("#traces .gantt-row").count() == 5
    shot(page, shots, "06-run-eval-with-calls")


def test_compare_two_runs_on_shared_charts(page: Any, server: str, shots: Path) -> None:
    page.goto(server + "/tester/ft-demo?sort=name")
    page.check("tr[data-run=ftjob-0] .run-check")
    page.check("tr[data-run=ftjob-1] .run-check")
    page.click("[data-action=compare]")
    charts_drawn(page, "#compare-charts", 1)
    page.wait_for_function("document.querySelectorAll('#compare-charts .legendtext').length >= 2")
    legend = page.eval_on_selector_all("#compare-charts .legendtext", "els => els.map(e => e.textContent)")
    assert {"ft-gpt-4o-mini-2024-07-18-e3", "ft-gpt-4o-mini-2024-07-18-e4"} <= set(legend)
    shot(page, shots, "07-compare")


def test_saved_view_reopens_with_its_columns_and_filter(page: Any, server: str) -> None:
    page.goto(
        server
        + "/tester/ft-demo?q="
        + "job_type%20%3D%20%22fine-tune%22"
        + "&cols=config.base_model,summary.final_loss"
    )
    page.click("[data-action=save-view]")
    page.fill("#save-view-name", "fine-tunes")
    page.press("#save-view-name", "Enter")
    page.wait_for_url("**view=fine-tunes")
    page.goto(server + "/tester/ft-demo")
    page.select_option("#view-select", "fine-tunes")
    page.wait_for_url("**view=fine-tunes")
    assert page.input_value("#filter") == 'job_type = "fine-tune"'
    assert page.locator("#runs-table tbody tr").count() == 3
    assert page.locator("#runs-table thead th[title='summary.final_loss']").count() == 1


def test_delete_a_run_after_confirming(page: Any, server: str) -> None:
    page.goto(server + "/tester/ft-demo?sort=name")
    page.check("tr[data-run=sweep-5] .run-check")
    page.click("[data-action=delete-runs]")
    assert "sweep-5" in page.inner_text("#delete-names")
    page.click("[data-action=cancel-delete]")
    assert page.locator("tr[data-run=sweep-5]").count() == 1
    page.click("[data-action=delete-runs]")
    page.click("[data-action=confirm-delete]")
    page.wait_for_load_state()
    page.wait_for_function("!document.querySelector('tr[data-run=sweep-5]')")


def test_search_a_dataset_table_with_chat_rows(page: Any, server: str, shots: Path) -> None:
    page.goto(server + "/tester/ft-demo/artifacts/train-train.jsonl/v0")
    page.wait_for_selector(".table-box .data-table")
    page.fill(".table-search", "7 + 7")
    page.wait_for_function("document.querySelector('.table-box .tp-info').textContent.includes('match')")
    chat = page.locator(".table-box .chat").first
    assert "What is 7 + 7?" in chat.inner_text() and chat.locator(".role-assistant").inner_text().endswith(
        "14"
    )
    shot(page, shots, "08-dataset-version")
    page.click("text=train.jsonl >> nth=0")
    page.goto(server + "/tester/ft-demo/artifacts/train-train.jsonl/v0/preview/train.jsonl")
    assert page.locator(".chat").count() == 40
    shot(page, shots, "09-jsonl-preview")


def test_trace_as_a_conversation_and_its_timeline(page: Any, server: str, shots: Path) -> None:
    page.goto(server + "/tester/ft-demo/traces?all=1")
    charts_drawn(page, "#span-stats", 3)
    shot(page, shots, "10-traces")
    page.click("#trace-table tbody tr:has-text('Rate limit') a >> nth=0")
    assert "RateLimitError" in page.inner_text(".alert")
    page.goto(server + "/tester/ft-demo/traces")
    page.click("#trace-table tbody tr:has-text('agent') a >> nth=0")
    assert page.locator(".gantt-row").count() == 4
    page.click(".gantt-row:has-text('gpt-4o-mini') >> nth=1")
    assert "sunny in Paris" in page.inner_text(".role-assistant")
    assert "Weather in Paris?" in page.inner_text(".role-user")
    page.click(".gantt-row:has-text('gpt-4o-mini') >> nth=0")
    assert "get_weather" in page.inner_text(".tool-call")
    shot(page, shots, "11-trace")


def test_lineage_graph_leads_to_the_model_and_its_users(page: Any, server: str, shots: Path) -> None:
    page.goto(server + "/tester/ft-demo/artifacts/train-train.jsonl/v0")
    page.click("#lineage a.node.run >> nth=0")
    page.wait_for_url("**/runs/**")
    page.goto(server + "/tester/ft-demo/artifacts/train-train.jsonl/v0")
    page.click("#lineage a.node.artifact:has-text('model-metadata:v2')")  # the model eval-1 used
    page.wait_for_url("**/artifacts/model-metadata/v2")
    assert page.locator("#lineage a.node.run:has-text('eval-of-model')").count() == 1
    shot(page, shots, "12-lineage")
    page.goto(server + "/tester/registry/artifacts")
    page.click("text=finetuned-models")
    assert "production" in page.inner_text("table")
    shot(page, shots, "13-registry")


def test_compose_save_and_export_a_report_that_opens_offline(
    page: Any, server: str, shots: Path, tmp_path: Path
) -> None:
    page.goto(server + "/tester/ft-demo/reports")
    page.fill("input[name=title]", "Fine-tune review")
    page.click("text=New report")
    page.wait_for_url("**/reports/*")
    page.fill(".report-block textarea", "The e3 run wins.")
    page.click("[data-add=chart]")
    page.wait_for_load_state()
    block = page.locator(".report-block[data-type=chart]")
    block.locator("select[name=metric]").select_option("train_loss")
    block.locator("select[name=runs]").select_option(["ftjob-0", "ftjob-2"])
    page.click("[data-add=runs]")
    page.wait_for_load_state()
    page.locator(".report-block[data-type=runs] input[name=cols]").fill(
        "config.base_model,summary.final_loss"
    )
    page.click("[data-action=save-report]")
    page.wait_for_load_state()
    charts_drawn(page, ".report-block", 1)
    shot(page, shots, "14-report")
    with page.expect_download() as dl:
        page.click("#export-link")
    path = tmp_path / "report.html"
    dl.value.save_as(str(path))
    offline = page.context.browser.new_context(offline=True)
    try:
        op = offline.new_page()
        requests: list[str] = []
        op.on("request", lambda r: requests.append(r.url))
        op.goto(path.as_uri())
        charts_drawn(op, "main", 1)
        assert "The e3 run wins." in op.inner_text("main")
        assert "gpt-4.1-mini" in op.inner_text("main")
        assert [u for u in requests if not u.startswith("file:")] == []
        op.screenshot(path=str(shots / "15-report-export.png"), full_page=True)
    finally:
        offline.close()


XSS_PAGES = [
    "/tester/xss",
    "/tester/xss?view=%3Cimg%20src%3Dx%20onerror%3D%22window.__xss%3D2%22%3E",
    "/tester/xss?group=job_type",
    "/tester/xss/runs/xss-run",
    "/tester/xss/traces",
    "/tester/xss/traces/x-trace",
    "/tester/xss/artifacts",
    "/tester/xss/artifacts/xss-data/v0",
    "/tester/xss/artifacts/xss-data/v0/preview/data.jsonl",
    "/tester/xss/reports",
    "/tester/xss/reports/1",
    "/",
]


def test_xss_corpus_executes_nothing(page: Any, server: str, shots: Path) -> None:
    for path in XSS_PAGES:
        page.goto(server + path)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(150)  # let lazily loaded tables and charts render
        assert page.evaluate("window.__xss") is None, path
    page.goto(server + "/tester/xss?group=job_type")  # a group's runs, rendered by the script
    for toggle in page.locator(".group-toggle").all():
        toggle.click()
    page.wait_for_selector("#runs-table tr[data-run]")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__xss") is None
    page.goto(server + "/tester/xss/artifacts/xss-data/v0")
    page.click("a:has-text('.csv') >> nth=0")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__xss") is None
    page.goto(server + "/tester/xss/runs/xss-run")
    page.wait_for_selector(".table-box .data-table")
    # The payloads are shown as text.
    assert "<img src=x" in page.inner_text("#run-name")
    assert page.evaluate("window.__xss") is None
    shot(page, shots, "16-xss-run")
