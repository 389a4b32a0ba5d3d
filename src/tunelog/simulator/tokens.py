"""Exact, offline token counting for the simulator (quicktok ships tiktoken's encodings)."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def encoding_name(model: str) -> str:
    """The BPE encoding a model uses: o200k_base for the GPT-4o family and newer, else cl100k_base."""
    base = model.split(":")[1] if model.startswith("ft:") else model
    if base.startswith(("gpt-3.5", "gpt-4-", "text-embedding", "davinci", "babbage")) or base == "gpt-4":
        return "cl100k_base"
    return "o200k_base"


@cache
def _encoding(name: str) -> Any:
    import quicktok  # imported lazily: loading the vocabulary costs tens of milliseconds

    return quicktok.get_encoding(name)


def count(text: str, model: str = "gpt-4o-mini") -> int:
    """Number of tokens in ``text`` under ``model``'s encoding."""
    if not text:
        return 0
    return len(_encoding(encoding_name(model)).encode_ordinary(text))


def encode(text: str, model: str = "gpt-4o-mini") -> list[int]:
    return list(_encoding(encoding_name(model)).encode_ordinary(text))


def decode(tokens: list[int], model: str = "gpt-4o-mini") -> str:
    return str(_encoding(encoding_name(model)).decode(tokens))


def count_messages(messages: list[dict[str, Any]], model: str = "gpt-4o-mini") -> int:
    """Prompt tokens of a chat request, with OpenAI's per-message framing (3 per message, 3 to prime)."""
    total = 3
    for m in messages:
        total += 3
        for key, value in m.items():
            if isinstance(value, str):
                total += count(value, model)
            elif isinstance(value, list):
                for part in value:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        total += count(part["text"], model)
                    elif isinstance(part, dict) and part.get("type") in ("image_url", "input_image"):
                        total += 85
            if key == "name":
                total += 1
    return total


def encoding_for(model: str) -> Any:
    """The quicktok tokenizer for ``model`` (cached), for callers that need more than counts."""
    return _encoding(encoding_name(model))
