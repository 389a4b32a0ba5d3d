"""Training data and helpers shared by the simulator tests (importable, unlike conftest)."""

from __future__ import annotations

import json
from typing import Any

import openai

from tunelog.simulator import Simulator

AZURE_VERSION = "2024-10-21"


def chat_examples(n: int, *, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "messages": [
                {"role": "system", "content": "You answer in one short sentence."},
                {"role": "user", "content": f"What is {i} plus {i}?"},
                {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."},
            ]
        }
        for i in range(start, start + n)
    ]


def dpo_examples(n: int) -> list[dict[str, Any]]:
    return [
        {
            "input": {"messages": [{"role": "user", "content": f"Say hello to {i}"}]},
            "preferred_output": [{"role": "assistant", "content": f"Hello, {i}!"}],
            "non_preferred_output": [{"role": "assistant", "content": f"go away {i}"}],
        }
        for i in range(n)
    ]


def rft_examples(n: int) -> list[dict[str, Any]]:
    return [
        {"messages": [{"role": "user", "content": f"What is {i} times 3?"}], "answer": str(3 * i)}
        for i in range(n)
    ]


GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


def jsonl(rows: list[Any]) -> bytes:
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def upload(client: openai.OpenAI, rows: list[Any] | bytes, name: str = "train.jsonl") -> str:
    content = rows if isinstance(rows, bytes) else jsonl(rows)
    return client.files.create(file=(name, content), purpose="fine-tune").id


def finish(sim: Simulator) -> None:
    """Move the simulated clock past the end of every job (no sleeping, no wall-clock asserts)."""
    sim.clock.advance(3600)
