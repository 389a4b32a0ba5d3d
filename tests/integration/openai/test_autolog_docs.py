"""Every ```python block of docs/autolog.md runs, in order, as one script, against the simulator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tunelog.integration.openai import autolog
from tunelog.simulator.server import Simulator

PAGE = Path(__file__).resolve().parents[3] / "docs" / "autolog.md"


def test_autolog_doc_examples_run(tl_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = "\n".join(re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S))
    assert "autolog(" in code
    with Simulator(speed=1000) as sim:
        monkeypatch.setenv("OPENAI_BASE_URL", sim.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-docs")
        try:
            exec(compile(code, str(PAGE), "exec"), {"__name__": "docs_autolog"})
        finally:
            autolog.disable()
