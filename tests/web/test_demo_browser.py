"""The dashboard over the data ``tunelog demo`` records (real fine-tune runs with events, checkpoints
and dataset artifacts; autologged calls; the tracking example), in Debian's headless Chromium: the
issue's test list, one path through the app, with a screenshot of every page it visits (saved under
pytest's temporary directory: ``screenshots*/demo-*.png``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tunelog.api import Api
from tunelog.integration.openai.demo_finetune import DEMO_PROJECT

pytestmark = pytest.mark.slow
FT = DEMO_PROJECT


@pytest.fixture(autouse=True)
def _quick_failures(page: Any) -> None:
    page.set_default_timeout(10_000)


def shot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"demo-{name}.png"), full_page=True)


def charts_drawn(page: Any, selector: str, n: int) -> None:
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel + ' .main-svg').length >= n",
        arg=[selector, n],
        timeout=15000,
    )


def _ft_runs(demo: Any) -> list[Any]:
    api = Api(settings=demo.settings)
    return [api.run(p) for p in demo.fine_tune_runs]


def test_demo_projects_runs_table_sort_filter_and_rename(
    page: Any, demo: Any, demo_server: str, shots: Path
) -> None:
    e = demo.settings.entity
    page.goto(demo_server + "/")
    assert {FT, "tunelog-demo"} <= set(page.locator("table a").all_inner_texts())
    shot(page, shots, "01-projects")
    page.click(f"text={FT}")
    page.wait_for_selector("#runs-table")
    assert page.locator("#runs-table tbody tr").count() == 3
    assert "base_model" in page.inner_text("#runs-table thead")
    shot(page, shots, "02-workspace")
    page.click("#runs-table thead >> text=Name")
    names = page.locator("#runs-table tbody .run-name").all_inner_texts()
    assert names in (sorted(names), sorted(names, reverse=True)) and len(names) == 3
    runs = _ft_runs(demo)
    wanted = sorted(
        r.name for r in runs if r.config["hyperparameters"]["n_epochs"] >= 3 and r.state == "finished"
    )
    page.fill("#filter", 'config.hyperparameters.n_epochs >= 3 and state = "finished"')
    page.press("#filter", "Enter")
    page.wait_for_load_state()
    assert sorted(page.locator("#runs-table tbody .run-name").all_inner_texts()) == wanted
    shot(page, shots, "03-workspace-filtered")
    # Rename a fine-tune run and see the new name after a reload.
    target = runs[0]
    page.goto(f"{demo_server}/{e}/{FT}/runs/{target.id}")
    page.click("#run-name")
    page.keyboard.press("Control+A")
    page.keyboard.type("marv, two epochs")
    page.keyboard.press("Enter")
    page.wait_for_selector(".toast")
    page.reload()
    assert page.inner_text("#run-name") == "marv, two epochs"


def test_demo_fine_tune_run_charts_events_checkpoints_and_datasets(
    page: Any, demo: Any, demo_server: str, shots: Path
) -> None:
    e = demo.settings.entity
    run = next(r for r in _ft_runs(demo) if r.state == "finished")
    page.goto(f"{demo_server}/{e}/{FT}/runs/{run.id}")
    charts_drawn(page, "#run-charts", 4)
    titles = page.locator("#run-charts .chart-title, #run-charts h3, #run-charts .title").all_inner_texts()
    assert "train_loss" in " ".join(titles) or "train_loss" in page.inner_text("#run-charts")
    assert page.locator(".events tbody tr").count() >= 10  # the job's events
    # The checkpoints table and the training / validation sets, rendered as conversations.
    page.wait_for_function("document.querySelectorAll('.table-box .data-table').length >= 3")
    assert "ckpt-step" in page.inner_text("#tables")
    datasets = page.locator("#datasets .dataset-box")
    assert datasets.count() == 2
    first = datasets.first
    assert first.locator(".data-table tbody tr").count() == 5  # a short page on the run page
    assert first.locator(".chat .role-user").count() >= 5
    header = first.locator("thead").inner_text()
    assert "messages" in header and "tokens" in header and "prompt" not in header  # no repeats
    shot(page, shots, "04-fine-tune-run")


def test_demo_compare_two_fine_tunes(page: Any, demo: Any, demo_server: str, shots: Path) -> None:
    e = demo.settings.entity
    a, b = (r for r in _ft_runs(demo) if r.state == "finished")
    page.goto(f"{demo_server}/{e}/{FT}")
    page.check(f"tr[data-run={a.id}] .run-check")
    page.check(f"tr[data-run={b.id}] .run-check")
    page.click("[data-action=compare]")
    charts_drawn(page, "#compare-charts", 1)
    page.wait_for_function("document.querySelectorAll('#compare-charts .legendtext').length >= 2")
    legend = page.eval_on_selector_all("#compare-charts .legendtext", "els => els.map(e => e.textContent)")
    assert {Api(settings=demo.settings).run(f"{e}/{FT}/{r.id}").name for r in (a, b)} <= set(legend)
    shot(page, shots, "05-compare")


def test_demo_search_a_training_set_and_follow_lineage_to_the_model(
    page: Any, demo: Any, demo_server: str, shots: Path
) -> None:
    e = demo.settings.entity
    run = next(r for r in _ft_runs(demo) if r.state == "finished")
    train = next(a for a in run.used_artifacts() if a.type == "training_files")
    page.goto(f"{demo_server}/{e}/{FT}/artifacts/{train.name}/{train.version}")
    page.wait_for_selector(".table-box .data-table")
    page.fill(".table-search", "Peru")
    page.wait_for_function("document.querySelector('.table-box .tp-info').textContent.includes('match')")
    rows = page.locator(".table-box .data-table tbody tr")
    assert rows.count() >= 1
    assert "Peru" in rows.first.locator(".chat").inner_text()
    shot(page, shots, "06-training-set")
    # dataset → fine-tune run → model
    (model,) = [a for a in run.logged_artifacts() if a.type == "model"]
    assert page.locator(f"#lineage a.node.run[href$='/runs/{run.id}']").count() == 1
    page.click(f"#lineage a.node.artifact:has-text('{model.name}:{model.version}')")
    page.wait_for_url(f"**/artifacts/{model.name}/{model.version}")
    assert page.locator(f"#lineage a.node.run[href$='/runs/{run.id}']").count() == 1
    assert page.locator(f"#lineage a.node.artifact:has-text('{train.name[:12]}')").count() == 1
    shot(page, shots, "07-model-lineage")
    # The tracking example's model and the evaluation run that used it.
    page.goto(f"{demo_server}/{e}/tunelog-demo/artifacts/model-metadata/v0")
    eval_id = demo.eval_run.rsplit("/", 1)[1]
    page.click(f"#lineage a.node.run[href$='/runs/{eval_id}']")
    page.wait_for_url(f"**/runs/{eval_id}")
    shot(page, shots, "08-run-that-used-the-model")


def test_demo_traces_as_conversations_and_timelines(
    page: Any, demo: Any, demo_server: str, shots: Path
) -> None:
    e = demo.settings.entity
    page.goto(f"{demo_server}/{e}/tunelog-demo/traces")
    charts_drawn(page, "#span-stats", 3)
    legend = page.eval_on_selector_all("#span-stats .legendtext", "els => els.map(e => e.textContent)")
    assert "gpt-4o-mini" in legend and "weather-agent" not in legend  # calls by model, not groups
    row = page.locator("#trace-table tbody tr:has-text('weather-agent')")
    assert "gpt-4o-mini" in row.inner_text() and "1 call" in row.inner_text()
    shot(page, shots, "09-traces")
    row.locator("a").first.click()
    # The agent's trace opens on its call: the question, and the tool call the model answered with.
    assert page.locator(".gantt-row").count() == 2
    assert "weather" in page.inner_text(".role-user")
    assert page.locator(".tool-call").count() >= 1
    shot(page, shots, "10-trace-tool-call")
    page.goto(f"{demo_server}/{e}/tunelog-demo/traces?all=1&text=short%20story")
    page.locator("#trace-table tbody tr a").first.click()
    assert page.locator(".role-assistant").count() >= 1 and "stream" in page.inner_text(".span-detail")
    page.goto(f"{demo_server}/{e}/tunelog-demo/traces?status=error")
    page.locator("#trace-table tbody tr a").first.click()
    assert "NotFoundError" in page.inner_text(".alert")
    page.goto(f"{demo_server}/{e}/tunelog-demo/traces?model=text-embedding-3-small&all=1")
    page.locator("#trace-table tbody tr a").first.click()
    assert "Embedded (2 inputs)" in page.inner_text(".span-detail")
    # A run's calls on one timeline.
    page.goto(f"{demo_server}/{e}/tunelog-demo/runs/{demo.autolog_run.rsplit('/', 1)[1]}")
    assert page.locator("#traces .gantt-row").count() >= 10
    shot(page, shots, "11-autolog-run-timeline")


def test_demo_report_exports_to_a_file_that_opens_offline(
    page: Any, demo: Any, demo_server: str, shots: Path, tmp_path: Path
) -> None:
    e = demo.settings.entity
    ids = [r.id for r in _ft_runs(demo) if r.state == "finished"]
    page.goto(f"{demo_server}/{e}/{FT}/reports")
    page.fill("input[name=title]", "Which epochs?")
    page.click("text=New report")
    page.wait_for_url("**/reports/*")
    page.fill(".report-block textarea", "Two fine-tunes of marv.")
    page.click("[data-add=chart]")
    page.wait_for_load_state()
    block = page.locator(".report-block[data-type=chart]")
    block.locator("select[name=metric]").select_option("train_loss")
    block.locator("select[name=runs]").select_option(ids)
    page.click("[data-action=save-report]")
    page.wait_for_load_state()
    charts_drawn(page, ".report-block", 1)
    shot(page, shots, "12-report")
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
        assert "Two fine-tunes of marv." in op.inner_text("main")
        assert [u for u in requests if not u.startswith("file:")] == []
        op.screenshot(path=str(shots / "demo-13-report-export.png"), full_page=True)
    finally:
        offline.close()
