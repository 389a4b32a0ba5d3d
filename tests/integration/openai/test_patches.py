"""Patching: resource modules the SDK has not imported yet are patched right after their first import
(autolog imports none of them itself), and disabling removes every trace."""

# ruff: noqa: F811  (pytest fixtures imported from autolog_kit are used as arguments)

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tunelog.simulator.server import Simulator

from .autolog_kit import sim  # noqa: F401

_FRESH = textwrap.dedent("""
    import sys, openai, tunelog
    from tunelog.integration.openai import autolog
    lazy = ["openai.resources.embeddings", "openai.resources.moderations", "openai.resources.images"]
    assert not any(m in sys.modules for m in lazy), "the SDK imported them itself"
    autolog({"project": "lazy"}, quiet=True)
    assert not any(m in sys.modules for m in lazy), "autolog imported resource modules"
    client = openai.OpenAI(base_url=sys.argv[1], api_key="sk-test", max_retries=0)
    client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    client.moderations.create(input="hello")
    import openai.resources.embeddings as emb
    assert hasattr(emb.Embeddings.create, "__tunelog_original__")
    run = autolog.run
    autolog.disable()
    assert not hasattr(emb.Embeddings.create, "__tunelog_original__")
    assert not any(type(f).__name__ == "_AfterImport" for f in sys.meta_path)
    client.images.generate(prompt="a cat", model="dall-e-3")  # imported after disable: not patched
    import openai.resources.images as img
    assert not hasattr(img.Images.generate, "__tunelog_original__")
    names = sorted(s.name for s in tunelog.Api().spans("lazy", run=run.id))
    print(",".join(names))
""")


def test_modules_imported_after_autolog_are_patched_then(tl_dir: Path, sim: Simulator) -> None:
    env = {**os.environ, "TUNELOG_DIR": str(tl_dir), "TUNELOG_ENTITY": "tester"}
    out = subprocess.run([sys.executable, "-c", _FRESH, sim.url], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "openai.embeddings.create,openai.moderations.create"
