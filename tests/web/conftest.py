"""Fixtures for the dashboard tests: sample data built once, the app served by uvicorn on a free
loopback port in a thread, and headless Chromium (Debian's, never a downloaded one) via Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web import sample_data
from tunelog.api import Api

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> sample_data.Sample:
    root = tmp_path_factory.mktemp("web") / "tunelog"
    return sample_data.build(root)


@pytest.fixture(scope="session")
def api(sample: sample_data.Sample) -> Api:
    return Api(settings=sample.settings)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(api: Api, settings: Any) -> Iterator[str]:
    import uvicorn

    from tunelog.web.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(api, settings), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the dashboard did not start within 20 s")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(sample: sample_data.Sample, api: Api) -> Iterator[str]:
    yield from _serve(api, sample.settings)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """What ``tunelog demo`` records (fine-tunes through the simulator, autologged calls, the
    tracking example), recorded once per session."""
    from tunelog.demo import run_demo
    from tunelog.settings import Settings

    settings = Settings.resolve(dir=str(tmp_path_factory.mktemp("demo") / "tunelog"), entity="demo-user")
    # On a thread of its own: Playwright's sync API keeps an event loop running on this one, and the
    # demo's async calls start their own.
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(run_demo(settings, speed=1000, live=False)))
    thread.start()
    thread.join(timeout=300)
    if not out:
        raise RuntimeError("recording the demo failed or took over 5 minutes; see the log above")
    return out[0]


@pytest.fixture(scope="session")
def demo_server(demo: Any) -> Iterator[str]:
    yield from _serve(Api(settings=demo.settings), demo.settings)


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go (under pytest's temporary output directory)."""
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        message = "Debian's chromium is not installed: run `make sysdeps` (apt-get install chromium)."
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it; a skip there would hide a broken set-up
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # CSP bypassed: the XSS tests then prove the escaping itself, without the policy's second line of
    # defence (and Playwright's own waits can evaluate scripts).
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True, bypass_csp=True)
    pg = ctx.new_page()
    errors: list[str] = []
    answers: list[str] = []  # a test that expects a prompt() puts its answer here first

    def on_dialog(d: Any) -> None:
        if answers and d.type == "prompt":
            d.accept(answers.pop(0))
        else:
            errors.append(f"unexpected {d.type} dialog: {d.message}")
            d.dismiss()

    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", on_dialog)
    pg.prompt_answers = answers
    yield pg
    ctx.close()
    assert not errors, errors
