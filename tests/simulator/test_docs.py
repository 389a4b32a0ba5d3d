"""Every ```python block of docs/simulator.md runs, and the doc lists every known deviation."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from tunelog.simulator.known_deviations import DEVIATIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_block_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_example__"})
    assert out.getvalue(), "each example prints what it shows"


def test_every_deviation_is_in_the_doc() -> None:
    text = DOC.read_text()
    for d in DEVIATIONS:
        assert d.what.split(",")[0].split(" ")[0] in text
        assert d.route.split(" ")[1].split(",")[0] in text, d.route
