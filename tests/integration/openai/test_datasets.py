"""Dataset formats → rows, statistics and checks; result files; training prices (no network)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import quicktok

from tunelog.integration.openai import datasets, results, training_prices
from tunelog.integration.openai.datasets import COLUMNS, DatasetScanner, scan_bytes, table_row

O200K = quicktok.get_encoding("o200k_base")


def row(obj: Any, model: str | None = None) -> dict[str, Any]:
    cols = datasets.table_columns(model)
    return dict(zip(cols, table_row(obj, cols), strict=True))


def test_chat_any_turns_with_and_without_system() -> None:
    msgs = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d", "weight": 1},
    ]
    r = row({"messages": msgs})
    assert (r["format"], r["system"], r["prompt"], r["completion"], r["turns"]) == ("chat", None, "c", "d", 4)
    r = row({"messages": [{"role": "developer", "content": "be brief"}, *msgs]})
    assert r["system"] == "be brief" and r["messages"][0]["role"] == "developer"
    simple = {
        "messages": [{"role": "user", "content": "Hello there"}, {"role": "assistant", "content": "Hi"}]
    }
    expected = 3 + sum(
        3 + len(O200K.encode(m["role"])) + len(O200K.encode(m["content"])) for m in simple["messages"]
    )
    assert row(simple)["tokens"] == expected


def test_tools_tool_calls_and_content_parts() -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    obj = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather here?"},
                                         {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                  "function": {"name": "weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "rain"},
            {"role": "assistant", "content": "It rains."},
        ],
        "tools": tools,
        "parallel_tool_calls": False,
    }  # fmt: skip
    r = row(obj)
    assert r["format"] == "chat" and r["tools"] == tools and r["prompt"] == "Weather here?\n[image]"
    assert r["completion"] == "It rains." and r["tokens"] > 85
    assert datasets.check_example(datasets.classify(obj).format, obj, "supervised") == []


def test_dpo_reinforcement_legacy_and_unknown() -> None:
    dpo = {
        "input": {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]},
        "preferred_output": [{"role": "assistant", "content": "good"}],
        "non_preferred_output": [{"role": "assistant", "content": "bad"}],
    }
    r = row(dpo)
    assert (r["format"], r["system"], r["prompt"], r["preferred"], r["non_preferred"]) == (
        "dpo",
        "s",
        "q",
        "good",
        "bad",
    )
    rft = {"messages": [{"role": "user", "content": "2+2?"}], "answer": "4"}
    r = row(rft)
    assert r["format"] == "reinforcement" and r["fields"] == {"answer": "4"}
    r = row({"prompt": "p ->", "completion": " c", "extra": 1}, model="davinci-002")
    assert r["format"] == "prompt_completion" and r["other"] == '{"extra": 1}'
    assert "tokens (cl100k_base)" in r
    r = row({"text": "just text"})
    assert r["format"] == "unknown" and json.loads(r["other"]) == {"text": "just text"} and r["tokens"] > 0
    assert row([1, 2])["format"] == "unknown"
    assert len(table_row({"messages": []}, list(COLUMNS))) == len(COLUMNS)


def test_checks_say_what_to_fix() -> None:
    def problems(obj: Any, method: str | None = "supervised") -> list[str]:
        return datasets.check_example(datasets.classify(obj).format, obj, method)

    assert any("no assistant" in p for p in problems({"messages": [{"role": "user", "content": "hi"}]}))
    assert problems({"messages": [{"role": "user", "content": "hi"}]}, "reinforcement") == []
    bad = {
        "messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y", "weight": 2}]
    }
    found = problems(bad)
    assert any("role 'robot'" in p for p in found) and any("weight must be 0 or 1" in p for p in found)
    assert any("DPO" in p for p in problems({"messages": [{"role": "assistant", "content": "x"}]}, "dpo"))
    assert any("not a known" in p for p in problems({"foo": 1}))


def test_scanner_statistics_in_any_chunking() -> None:
    def line(i: int) -> str:
        return json.dumps(
            {"messages": [{"role": "user", "content": f"q{i}" * i}, {"role": "assistant", "content": "a"}]}
        )

    lines = [line(i) for i in range(1, 13)]
    data = ("\n".join(lines[:5]) + "\n\n{broken\n" + "\n".join(lines[5:])).encode()  # no final newline
    whole = scan_bytes(data, "gpt-4o-mini", label="f")
    for size in (1, 7, 100):
        scanner = DatasetScanner("gpt-4o-mini", label="f")
        for i in range(0, len(data), size):
            scanner.feed(data[i : i + size])
        assert scanner.finish().metadata() == whole.metadata()
    meta = whole.metadata()
    assert (meta["examples"], meta["lines"], meta["blank_lines"], meta["unparsed"]) == (12, 13, 1, 1)
    assert meta["unparsed_lines"][0]["line"] == 7 and meta["tokens"]["min"] < meta["tokens"]["max"]
    assert meta["tokens"]["total"] == sum(row(json.loads(ln))["tokens"] for ln in lines)
    assert meta["warnings"] == [f"f line 7: {meta['unparsed_lines'][0]['error']}"]


def test_scanner_file_level_warnings() -> None:
    assert "empty" in scan_bytes(b"").warnings[0]
    few = scan_bytes(
        b'{"prompt": "a", "completion": "b"}\n{"messages": [{"role": "assistant", "content": "x"}]}\n'
    )
    assert any("at least 10" in w for w in few.warnings) and any("mixes formats" in w for w in few.warnings)


def test_encodings() -> None:
    assert datasets.encoding_name("gpt-4o-mini-2024-07-18") == "o200k_base"
    assert datasets.encoding_name("ft:gpt-3.5-turbo-0125:org::x") == "cl100k_base"
    assert datasets.encoding_name("gpt-35-turbo-0125") == "cl100k_base"
    assert datasets.encoding_name(None) == "o200k_base"


CSV = (
    b"step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,2.5,0.4,,\n2,2.0,0.5,2.2,0.45\n"
)


def test_result_files_plain_and_base64() -> None:
    for content in (CSV, base64.b64encode(CSV)):
        parsed = results.parse(content)
        assert parsed.rows == [(1, {"train_loss": 2.5, "train_accuracy": 0.4}),
                               (2, {"train_loss": 2.0, "train_accuracy": 0.5, "valid_loss": 2.2,
                                    "valid_mean_token_accuracy": 0.45})]  # fmt: skip
        assert parsed.last_step == 2


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (base64.b64encode(CSV)[:13], "base64"),
        (b"loss,acc\n1,2\n", "no 'step'"),
        (b"step,loss\n", "no rows"),
        (b"step,loss\n1,abc\n", "not a number"),
    ],
)
def test_bad_result_files(content: bytes, why: str) -> None:
    with pytest.raises(results.ResultFileError, match=why):
        results.parse(content)


def test_event_metrics_use_the_files_names() -> None:
    step, total, m = results.event_metrics(
        {"step": 3, "total_steps": 9, "train_loss": 1.0, "train_mean_token_accuracy": 0.5, "valid_loss": None}
    )
    assert (step, total, m) == (3, 9, {"train_loss": 1.0, "train_accuracy": 0.5})


def test_training_prices() -> None:
    e = training_prices.estimate("gpt-4o-mini", 2_000_000)
    assert (e.usd, e.usd_per_1m_tokens) == (6.0, 3.0)
    assert training_prices.training_price("ft:gpt-4.1-2025-04-14:o::x") == 25.0
    assert training_prices.estimate("gpt-4o-mini", 1_000_000, overrides={"gpt-4o-mini": 1.0}).usd == 1.0
    unknown = training_prices.estimate("my-model", 10)
    assert unknown.usd is None and "training_prices=" in (unknown.note or "")
    assert training_prices.estimate("o4-mini-2025-04-16", 10, "reinforcement").usd is None
    assert training_prices.estimate("gpt-4o-mini", None).usd is None
