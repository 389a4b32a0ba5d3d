"""Every ```python block of docs/fine-tuning.md runs, in order, against the simulator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tunelog.integration.openai.demo_finetune import sample_file
from tunelog.simulator.server import Simulator

DOC = Path(__file__).resolve().parents[3] / "docs" / "fine-tuning.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_page_has_examples() -> None:
    assert len(blocks()) >= 8


def test_every_python_block_runs(tl_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tl_dir.parent / "train.jsonl").write_bytes(sample_file("train.jsonl"))
    (tl_dir.parent / "valid.jsonl").write_bytes(sample_file("valid.jsonl"))
    namespace: dict[str, object] = {"__name__": "docs"}
    with Simulator(speed=1000, seed=3) as sim:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-docs")
        monkeypatch.setenv("OPENAI_BASE_URL", sim.url)
        monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
        monkeypatch.setenv("AZURE_OPENAI_KEY", "azure-docs")
        for i, code in enumerate(blocks()):
            sim.clock.advance(3600)  # jobs started by an earlier block have ended (sync would poll)
            if "AzureOpenAI(" in code:
                monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", sim.azure_endpoint)
            try:
                exec(compile(code, f"{DOC.name} block {i + 1}", "exec"), namespace)
            finally:
                monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    result = namespace["result"]
    assert result.ok  # type: ignore[attr-defined]
