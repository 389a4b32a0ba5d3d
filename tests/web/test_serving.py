"""`tunelog ui` and `tunelog demo` serve the dashboard and print where: real processes, real HTTP."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import tunelog


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_and_fetch(args: list[str], tl_dir: Path, timeout: float = 120.0) -> tuple[str, str]:
    env = {**os.environ, "TUNELOG_DIR": str(tl_dir), "TUNELOG_ENTITY": "tester", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunelog", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        seen = []
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+)/?", line)
            if m and "dashboard" in line.lower():
                url = m.group(1)
                for _ in range(100):
                    try:
                        with urllib.request.urlopen(url + "/", timeout=5) as resp:
                            return url, resp.read().decode()
                    except OSError:
                        time.sleep(0.1)
        raise AssertionError("no dashboard URL printed:\n" + "".join(seen))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_ui_prints_its_url_and_serves(tl_dir: Path) -> None:
    with tunelog.init(project="served"):
        pass
    port = _free_port()
    url, page = _serve_and_fetch(["ui", "--port", str(port)], tl_dir)
    assert url == f"http://127.0.0.1:{port}" and "served" in page


def test_demo_ends_by_serving_the_dashboard(tl_dir: Path) -> None:
    port = _free_port()
    url, page = _serve_and_fetch(["demo", "--speed", "1000", "--port", str(port)], tl_dir)
    assert url == f"http://127.0.0.1:{port}" and "OpenAI-Fine-Tune" in page
