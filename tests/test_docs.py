"""Every ```python block of the README and the docs pages below runs, in order, as one script per page.

The pages that call OpenAI run against tunelog's simulator (their own tests live beside the integration:
tests/integration/openai/test_docs.py, test_autolog_docs.py, tests/simulator/test_docs.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tunelog.simulator import Simulator

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


def test_tracking_examples_run(tl_dir: Path) -> None:
    page = DOCS / "tracking.md"
    code = "\n".join(python_blocks(page))
    assert code.strip(), f"{page} has no python examples"
    exec(compile(code, str(page), "exec"), {"__name__": "docs_tracking"})


def test_readme_examples_run_against_the_simulator(tl_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = ROOT / "README.md"
    code = "\n".join(python_blocks(page))
    with Simulator(speed=1000, seed=4) as sim:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-readme")
        monkeypatch.setenv("OPENAI_BASE_URL", sim.url)
        exec(compile(code, str(page), "exec"), {"__name__": "docs_readme"})
    import tunelog

    assert tunelog.Api().runs("chatbot")[0].summary["calls"] == 1


def test_from_wandb_examples_run_against_the_simulator(tl_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = DOCS / "from-wandb.md"
    blocks = python_blocks(page)
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "docs_from_wandb"}
    with Simulator(speed=1000, seed=4) as sim:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-docs")
        monkeypatch.setenv("OPENAI_BASE_URL", sim.url)
        for i, code in enumerate(blocks):
            sim.clock.advance(3600)  # a job started by an earlier block has ended (sync would poll)
            exec(compile(code, f"{page.name} block {i + 1}", "exec"), namespace)
    import tunelog

    api = tunelog.Api()
    job_id = namespace["job"].id  # type: ignore[attr-defined]
    assert api.run(f"OpenAI-Fine-Tune/{job_id}").state == "finished"
    assert api.run("gpt5/" + api.runs("gpt5")[0].id).summary["calls"] == 1
