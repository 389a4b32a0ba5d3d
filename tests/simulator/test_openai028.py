"""openai 0.28.1 — the module-level API of the seeds — in its own venv, against a running Simulator.

The venv (``.venv-openai028`` at the repository root) is built on first use with ``python -m venv``
and ``pip install openai==0.28.1 numpy``; the test skips, saying why, only when pip cannot reach a registry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tunelog.simulator import Simulator

from .simdata import chat_examples, finish, jsonl

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-openai028"
PY = VENV / "bin" / "python"

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import openai

    openai.api_base, openai.api_key = sys.argv[1], "sk-test"
    out = {"version": openai.version.VERSION}
    msgs = [{"role": "user", "content": "Say hello"}]
    chat = openai.ChatCompletion.create(model="gpt-4o-mini", messages=msgs)
    out["chat"] = chat["choices"][0]["message"]["content"]
    out["chat_tokens"] = chat["usage"]["total_tokens"]
    parts = [c["choices"][0]["delta"].get("content", "") for c in
             openai.ChatCompletion.create(model="gpt-4o-mini", messages=msgs, stream=True) if c["choices"]]
    out["chat_stream"] = "".join(parts)
    out["completion"] = openai.Completion.create(
        model="gpt-3.5-turbo-instruct", prompt="Once", max_tokens=5)["choices"][0]["text"]
    out["edit"] = openai.Edit.create(
        model="text-davinci-edit-001", input="helo", instruction="Fix the spelling")["choices"][0]["text"]
    out["embedding_len"] = len(openai.Embedding.create(
        model="text-embedding-3-small", input="hi")["data"][0]["embedding"])
    f = openai.File.create(file=open(sys.argv[2], "rb"), purpose="fine-tune")
    out["file"] = {"id": f.id, "filename": f.filename, "purpose": f.purpose}
    job = openai.FineTuningJob.create(model="gpt-4o-mini", training_file=f.id, suffix="old")
    out["job_created"] = {"id": job.id, "status": job.status}
    print("job created", flush=True)
    input()  # the test finishes the job on the simulated clock, then answers
    job = openai.FineTuningJob.retrieve(job.id)
    out["job"] = {"status": job.status, "model": job.fine_tuned_model, "tokens": job.trained_tokens}
    out["jobs_listed"] = [j.id for j in openai.FineTuningJob.list(limit=5)["data"]]
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="session")
def py028() -> Path:
    # numpy: 0.28's Embedding.create asks for base64 and decodes it with numpy
    if (
        PY.exists()
        and subprocess.run([PY, "-c", "import openai, numpy"], capture_output=True).returncode == 0
    ):
        return PY
    made = subprocess.run([sys.executable, "-m", "venv", "--clear", VENV], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.fail(f"could not create {VENV}: {made.stderr.strip()}")
    pip = subprocess.run(
        [PY, "-m", "pip", "install", "-q", "--disable-pip-version-check", "openai==0.28.1", "numpy"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if pip.returncode != 0:
        pytest.skip(
            f"pip could not install openai==0.28.1 (no registry reachable?): {pip.stderr.strip()[-400:]}"
        )
    return PY


@pytest.mark.openai028
def test_openai_028_parses_the_routes_it_calls(py028: Path, tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_bytes(jsonl(chat_examples(10)))
    script = tmp_path / "legacy.py"
    script.write_text(SCRIPT)
    with Simulator(seed=3) as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
        proc = subprocess.Popen(
            [py028, script, sim.url, train],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "job created", proc.stderr and proc.stderr.read()
        finish(sim)
        out, err = proc.communicate("\n", timeout=120)
    assert proc.returncode == 0, err
    got = json.loads(out)
    assert got["version"] == "0.28.1"
    assert got["chat"] and got["chat_stream"] == got["chat"] and got["chat_tokens"] > 0
    assert got["completion"] and got["edit"] and got["embedding_len"] == 1536
    assert (
        got["file"]["filename"] == "file"
    )  # 0.28 names every upload "file" and got["file"]["purpose"] == "fine-tune"
    assert got["job_created"]["status"] == "validating_files"
    assert got["job"]["status"] == "succeeded" and ":old:" in got["job"]["model"] and got["job"]["tokens"] > 0
    assert got["jobs_listed"] == [got["job_created"]["id"]]
