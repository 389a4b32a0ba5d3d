"""The curated public API and import cost."""

from __future__ import annotations

import subprocess
import sys

import tunelog


def test_all_is_curated() -> None:
    assert sorted(tunelog.__all__) == sorted(
        [
            "Api",
            "Artifact",
            "Run",
            "Table",
            "__version__",
            "failures",
            "finish",
            "flush",
            "init",
            "log",
            "run",
            "trace",
            "traced",
        ]
    )
    for name in tunelog.__all__:
        getattr(tunelog, name)


def test_import_is_lazy() -> None:
    code = (
        "import sys, tunelog; heavy = [m for m in ('openai', 'sqlite3', 'click', 'starlette', 'quicktok') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
