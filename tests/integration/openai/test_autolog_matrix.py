"""autolog under other openai SDKs, each in its own venv built on first use (pip cache makes it fast):
openai 0.28.1 (the seeds' module-level API) and the oldest 1.x supported (1.0.0, with httpx<0.28).
The latest 3.x is the main venv's. Skips, saying why, only when pip cannot reach a registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tunelog
from tunelog.simulator.server import Simulator

ROOT = Path(__file__).resolve().parents[3]
ENVS = {
    "openai028": ("openai==0.28.1", "numpy"),
    "openai1x": ("openai==1.0.0", "httpx<0.28"),
}


def _venv(name: str) -> Path:
    venv = ROOT / f".venv-autolog-{name}"
    py = venv / "bin" / "python"
    pins = ENVS[name]
    probe = "import openai, tunelog, genai_prices"
    stamp = venv / ".tunelog-pins"
    fresh = py.exists() and stamp.exists() and stamp.read_text() == repr(pins)
    if fresh and subprocess.run([py, "-c", probe], capture_output=True).returncode == 0:
        return py
    made = subprocess.run([sys.executable, "-m", "venv", "--clear", venv], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.fail(f"could not create {venv}: {made.stderr.strip()}")
    pip = subprocess.run(
        [
            py,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            *pins,
            "genai-prices",
            "-e",
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if pip.returncode != 0:
        pytest.skip(f"pip could not install {pins} (no registry reachable?): {pip.stderr.strip()[-400:]}")
    stamp.write_text(repr(pins))
    return py


LEGACY = textwrap.dedent(
    """
    import asyncio, json, sys
    import openai
    from tunelog.integration.openai import autolog

    openai.api_base, openai.api_key = sys.argv[1], "sk-test-SECRET"
    autolog({"project": "gpt5"}, stream_usage_hosts=[sys.argv[1]], quiet=True)
    chat_request_kwargs = dict(
        model="gpt-3.5-turbo",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Who won the world series in 2020?"},
        ],
    )
    response = openai.ChatCompletion.create(**chat_request_kwargs)
    chunks = list(openai.ChatCompletion.create(stream=True, **chat_request_kwargs))
    openai.Completion.create(model="gpt-3.5-turbo-instruct", prompt="Once", max_tokens=5)
    openai.Edit.create(model="text-davinci-edit-001", input="helo", instruction="Fix the spelling")
    openai.Embedding.create(model="text-embedding-3-small", input="hi")
    asyncio.run(openai.ChatCompletion.acreate(**chat_request_kwargs))
    try:
        openai.ChatCompletion.create(model="gpt-3.5-turbo", messages=[])
    except Exception as exc:
        err = type(exc).__name__
    out = {"run": autolog.run.path, "text": response["choices"][0]["message"]["content"], "err": err,
           "chunk_keys": sorted({k for c in chunks for k in c}), "nchunks": len(chunks),
           "stream_text": "".join(
               c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])}
    autolog.disable()
    print(json.dumps(out))
    """
)

MODERN = textwrap.dedent(
    """
    import asyncio, json, sys
    import openai
    from tunelog.integration.openai import autolog

    msgs = [{"role": "user", "content": "Say hello"}]
    early = openai.OpenAI(base_url=sys.argv[1], api_key="sk-test-SECRET", max_retries=0)
    early.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=msgs)  # not recorded
    early.with_raw_response.chat.completions.create(model="gpt-4o-mini", messages=msgs)  # nor this
    autolog({"project": "gpt5"}, stream_usage_hosts=[sys.argv[1]], quiet=True)
    c = openai.OpenAI(base_url=sys.argv[1], api_key="sk-test-SECRET", max_retries=0)
    r = c.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    chunks = list(c.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True))
    c.embeddings.create(model="text-embedding-3-small", input="hi")
    c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once", max_tokens=5)
    raw = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=msgs)
    async def main():
        ac = openai.AsyncOpenAI(base_url=sys.argv[1], api_key="sk-test", max_retries=0)
        s = await ac.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True)
        return [x async for x in s]
    achunks = asyncio.run(main())
    # its raw-response helper was made before autolog, holding the unpatched method: recorded all the same
    early.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=msgs).parse()
    early.with_raw_response.chat.completions.create(model="gpt-4o-mini", messages=msgs).parse()
    out = {"run": autolog.run.path, "version": openai.__version__,
           "text": r.choices[0].message.content,
           "all_have_choices": all(ch.choices for ch in chunks + achunks),
           "stream_text": "".join(ch.choices[0].delta.content or "" for ch in chunks)}
    autolog.disable()
    print(json.dumps(out))
    """
)


def _run(py: Path, script: str, sim: Simulator, tl_dir: Path, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    f = tmp_path / "script.py"
    f.write_text(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    proc = subprocess.run([py, f, sim.url], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.openai028
def test_openai_028_module_level_api_as_in_the_seeds(tl_dir: Path, tmp_path: Path) -> None:
    py = _venv("openai028")
    with Simulator(speed=1000, seed=5) as sim:
        out = _run(py, LEGACY, sim, tl_dir, tmp_path)
    entity, project, run_id = out["run"].split("/")
    spans = sorted(tunelog.Api().spans(f"{entity}/{project}", run=run_id), key=lambda s: s.start_time)
    names = [s.name for s in spans]
    assert names == [
        "openai.ChatCompletion.create",
        "openai.ChatCompletion.create",
        "openai.Completion.create",
        "openai.Edit.create",
        "openai.Embedding.create",
        "openai.ChatCompletion.acreate",
        "openai.ChatCompletion.create",
    ]
    chat, stream = spans[0], spans[1]
    assert chat.outputs["choices"][0]["message"]["content"] == out["text"] and chat.cost_usd
    assert stream.outputs["choices"][0]["message"]["content"] == out["stream_text"]
    assert stream.usage is not None and "estimated" not in stream.usage
    assert "usage" not in out["chunk_keys"]  # the hidden usage chunk and its nulls are not shown
    assert spans[-1].status == "error" and spans[-1].error["type"] == out["err"]  # type: ignore[index]
    assert spans[4].outputs["dimensions"] == 1536
    assert b"SECRET" not in (tl_dir / "tunelog.db").read_bytes()


def test_oldest_supported_openai_1x(tl_dir: Path, tmp_path: Path) -> None:
    py = _venv("openai1x")
    with Simulator(speed=1000, seed=5) as sim:
        out = _run(py, MODERN, sim, tl_dir, tmp_path)
    assert out["version"] == "1.0.0" and out["all_have_choices"]
    entity, project, run_id = out["run"].split("/")
    spans = sorted(tunelog.Api().spans(f"{entity}/{project}", run=run_id), key=lambda s: s.start_time)
    assert [s.name.split(".", 1)[1] for s in spans] == [
        "chat.completions.create",
        "chat.completions.create",
        "embeddings.create",
        "completions.create",
        "chat.completions.create",
        "chat.completions.create",
        "chat.completions.create",
        "chat.completions.create",
    ]
    assert spans[0].outputs["choices"][0]["message"]["content"] == out["text"]
    assert spans[1].outputs["choices"][0]["message"]["content"] == out["stream_text"]
    assert all(s.status == "ok" and s.usage for s in spans)
    assert spans[1].usage is not None and "estimated" not in spans[1].usage  # sent via extra_body
