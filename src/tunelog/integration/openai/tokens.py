"""Local token counts for calls whose server reported no usage (marked ``estimated``).

Counted with quicktok (tiktoken's encodings, offline), on the writer thread. The encoding follows the
model family: o200k_base for the GPT-4o family and newer, cl100k_base before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

_CL100K = ("gpt-3.5", "gpt-4-", "text-embedding", "davinci", "babbage")


@cache
def _encoding(model: str) -> Any:
    import quicktok  # loading a vocabulary costs tens of milliseconds: only when first needed

    base = model.split(":")[1] if model.startswith("ft:") and ":" in model[3:] else model
    name = "cl100k_base" if base.startswith(_CL100K) or base == "gpt-4" else "o200k_base"
    return quicktok.get_encoding(name)


def count(text: str, model: str) -> int:
    """Tokens in ``text`` under ``model``'s encoding."""
    if not text:
        return 0
    return len(_encoding(model).encode_ordinary(text))


def count_messages(messages: Any, model: str) -> int:
    """A chat request's prompt tokens, with OpenAI's framing (3 per message, 3 to prime the reply)."""
    total = 3
    for m in messages or ():
        total += 3
        if not isinstance(m, Mapping):
            total += count(str(m), model)
            continue
        for key, value in m.items():
            if isinstance(value, str):
                total += count(value, model)
            elif isinstance(value, list):
                for part in value:
                    if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                        total += count(part["text"], model)
                    elif isinstance(part, Mapping) and part.get("type") in ("image_url", "input_image"):
                        total += 85
            if key == "name":
                total += 1
    return total
