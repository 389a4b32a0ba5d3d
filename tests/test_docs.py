"""Every ```python block of the docs runs, in order, as one script per page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ["tracking.md", "from-wandb.md"]


def python_blocks(page: Path) -> str:
    return "\n".join(re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S))


@pytest.mark.parametrize("page", PAGES)
def test_doc_examples_run(page: str, tl_dir: Path) -> None:
    code = python_blocks(DOCS / page)
    assert code.strip(), f"{page} has no python examples"
    exec(compile(code, str(DOCS / page), "exec"), {"__name__": f"docs_{page}"})
