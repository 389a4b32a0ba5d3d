"""Prompt caching as OpenAI reports it: ``cached_tokens`` for a long prefix seen before.

OpenAI caches prompts of 1024 tokens or more and reports the reused prefix in steps of 128 tokens.
The simulator remembers hashes of recent message prefixes, so a conversation that grows turn by turn
shows cache hits the way it would against OpenAI.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

from tunelog.simulator import tokens

MIN_CACHED = 1024
STEP = 128


class PromptCache:
    """A bounded memory of message prefixes, per simulator.

    Args:
        capacity: How many prefixes to remember (least recently used ones are forgotten).
    """

    def __init__(self, capacity: int = 4096) -> None:
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._capacity = capacity

    def cached_tokens(self, model: str, messages: list[dict[str, Any]], prompt_tokens: int) -> int:
        """Tokens of the longest remembered prefix of ``messages``; remembers this prompt's prefixes."""
        if prompt_tokens < MIN_CACHED:
            return 0  # below OpenAI's threshold nothing is cached, and nothing needs remembering
        h = hashlib.blake2b(model.encode(), digest_size=16)
        running = 3
        best = 0
        for m in messages:
            h.update(json.dumps(m, sort_keys=True, separators=(",", ":")).encode())
            running += tokens.count_messages([m], model) - 3
            key = h.copy().digest()
            if key in self._seen:
                self._seen.move_to_end(key)
                best = running
            else:
                self._seen[key] = None
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        if best < MIN_CACHED:
            return 0
        return min(best, prompt_tokens) // STEP * STEP
