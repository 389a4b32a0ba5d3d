"""Deterministic model output: plausible English, JSON that fits a schema, and token pieces.

Everything here is a pure function of a seed, so the simulator answers the same request the same way
every time, and a streamed answer is the non-streamed one cut into token-sized pieces.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import string
from collections.abc import Iterable
from typing import Any

from tunelog.simulator import tokens

_OPENERS = (
    "In short,",
    "In practice,",
    "As a result,",
    "For example,",
    "Overall,",
    "Put simply,",
    "In most cases,",
    "To be clear,",
    "That said,",
    "Here is the idea:",
)
_SUBJECTS = (
    "the model",
    "this approach",
    "the team",
    "a careful review",
    "the new version",
    "the training data",
    "a small change",
    "the first step",
    "the final answer",
    "each request",
    "the system",
    "a simple test",
    "the result",
    "this method",
    "the evaluation",
)
_VERBS = (
    "improves",
    "reduces",
    "supports",
    "explains",
    "changes",
    "follows",
    "depends on",
    "makes clear",
    "builds on",
    "keeps track of",
    "points to",
    "balances",
    "highlights",
    "simplifies",
    "measures",
)
_OBJECTS = (
    "the overall quality",
    "the training time",
    "the expected output",
    "every edge case",
    "the main question",
    "the underlying problem",
    "a clear summary",
    "the cost of each call",
    "the next iteration",
    "the original plan",
    "a useful baseline",
    "the user's intent",
    "the key trade-offs",
    "the amount of work",
    "a steady improvement",
)
_TAILS = (
    "in most situations",
    "over time",
    "for every example",
    "without extra cost",
    "at a reasonable pace",
    "with little effort",
    "across the whole dataset",
    "when it matters most",
    "step by step",
    "from the very start",
)
_WORDS = (
    "alpha",
    "river",
    "summit",
    "harbor",
    "maple",
    "signal",
    "vector",
    "meadow",
    "copper",
    "lantern",
    "orbit",
    "cedar",
)
_NAMES = ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Ken Thompson")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]{4,}")
_ALNUM = string.ascii_letters + string.digits


def seed_of(*parts: Any) -> int:
    """A 64-bit seed from JSON-serialisable request parts (order-insensitive for dict keys)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little")


_STOPWORDS = frozenset(
    [
        "about",
        "above",
        "after",
        "again",
        "against",
        "because",
        "before",
        "being",
        "below",
        "between",
        "could",
        "doesn't",
        "during",
        "every",
        "having",
        "other",
        "please",
        "should",
        "their",
        "there",
        "these",
        "those",
        "through",
        "under",
        "until",
        "where",
        "which",
        "while",
        "would",
        "write",
        "explain",
        "describe",
        "tell",
        "answer",
        "question",
        "something",
        "anything",
    ]
)


def topic_word(text: str, rng: random.Random) -> str | None:
    """The longest content word of the prompt, so answers read as if they were about it."""
    words = [w.lower() for w in _WORD_RE.findall(text[-2000:])]
    words = [w for w in words if w not in _STOPWORDS]
    return max(words, key=len) if words else None


def sentence(rng: random.Random, topic: str | None = None) -> str:
    subject = f"the {topic}" if topic and rng.random() < 0.5 else rng.choice(_SUBJECTS)
    parts = []
    if rng.random() < 0.35:
        parts.append(rng.choice(_OPENERS))
    parts.append(subject)
    parts.append(rng.choice(_VERBS))
    parts.append(rng.choice(_OBJECTS))
    if rng.random() < 0.5:
        parts.append(rng.choice(_TAILS))
    text = " ".join(parts) + "."
    return text[0].upper() + text[1:]


def paragraph(rng: random.Random, topic: str | None = None, sentences: int | None = None) -> str:
    """One to four sentences of plausible English (about 10 to 60 tokens)."""
    count = sentences if sentences is not None else rng.randint(1, 4)
    return " ".join(sentence(rng, topic) for _ in range(count))


def short_id(rng: random.Random | None = None, length: int = 24) -> str:
    """Alphanumeric id suffix; random per call unless an ``rng`` is given."""
    if rng is None:
        return "".join(_ALNUM[b % 62] for b in os.urandom(length))
    return "".join(rng.choices(_ALNUM, k=length))


# --- JSON from a JSON Schema --------------------------------------------------------------------


def from_schema(schema: Any, rng: random.Random, root: Any = None, depth: int = 0) -> Any:
    """A value that validates against ``schema`` (the subset OpenAI's structured outputs accepts).

    Handles ``type`` (or a list of types), ``enum``, ``const``, ``anyOf``/``oneOf``/``allOf``, local
    ``$ref`` into ``$defs``/``definitions``, objects (all listed properties, so ``required`` and strict
    mode hold), arrays with ``minItems``/``maxItems``, string ``format``s and numeric bounds.
    """
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return paragraph(rng, sentences=1)
    if "$ref" in schema:
        return from_schema(_resolve(schema["$ref"], root), rng, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            # Prefer a non-null branch: a structured answer full of nulls tests nothing.
            concrete = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            return from_schema(rng.choice(concrete or options), rng, root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            part = _resolve(part["$ref"], root) if isinstance(part, dict) and "$ref" in part else part
            if isinstance(part, dict):
                merged.update(part)
        return from_schema(merged, rng, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        kind = rng.choice(non_null) if non_null else "null"
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        props = schema.get("properties") or {}
        if depth > 8:  # recursive schemas: stop where the schema lets us (no properties required)
            return {}
        return {name: _named(name, sub, rng, root, depth) for name, sub in props.items()}
    if kind == "array":
        lo = int(schema.get("minItems", 1))
        hi = int(schema.get("maxItems", max(lo, 3)))
        count = rng.randint(lo, max(lo, min(hi, lo + 2))) if depth <= 8 else lo
        return [from_schema(schema.get("items", {}), rng, root, depth + 1) for _ in range(count)]
    if kind == "integer":
        return rng.randint(*_bounds(schema, 0, 100))
    if kind == "number":
        lo, hi = _bounds(schema, 0, 100)
        return round(rng.uniform(lo, hi), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _string(schema, rng)


def _named(name: str, schema: Any, rng: random.Random, root: Any, depth: int) -> Any:
    """Property-name hints make generated objects read naturally (a ``name`` is a name)."""
    if isinstance(schema, dict) and schema.get("type") == "string" and not schema.get("enum"):
        low = name.lower()
        if "name" in low and not schema.get("format"):
            return rng.choice(_NAMES)
        if low in ("city", "location"):
            return rng.choice(("Paris", "Tokyo", "Lisbon", "Nairobi", "Toronto"))
    return from_schema(schema, rng, root, depth + 1)


def _resolve(ref: str, root: Any) -> Any:
    node = root
    if ref.startswith("#"):
        for part in ref.lstrip("#/").split("/"):
            if part and isinstance(node, dict):
                node = node.get(part.replace("~1", "/").replace("~0", "~"), {})
        return node
    return {}


def _bounds(schema: dict[str, Any], lo: float, hi: float) -> tuple[int, int]:
    low = schema.get("minimum", schema.get("exclusiveMinimum", lo - 1) + 1)
    high = schema.get("maximum", schema.get("exclusiveMaximum", hi + 1) - 1)
    low, high = int(low), int(high)
    return (low, high) if low <= high else (low, low)


def _string(schema: dict[str, Any], rng: random.Random) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T1{rng.randint(0, 9)}:30:00Z"
    if fmt == "date":
        return f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
    if fmt == "time":
        return f"1{rng.randint(0, 9)}:30:00"
    if fmt == "email":
        return f"{rng.choice(_WORDS)}@example.com"
    if fmt in ("uri", "url"):
        return f"https://example.com/{rng.choice(_WORDS)}"
    if fmt == "uuid":
        return "%08x-%04x-4%03x-a%03x-%012x" % (  # noqa: UP031
            rng.getrandbits(32),
            rng.getrandbits(16),
            rng.getrandbits(12),
            rng.getrandbits(12),
            rng.getrandbits(48),
        )
    text = sentence(rng) if rng.random() < 0.5 else rng.choice(_WORDS).capitalize()
    lo, hi = int(schema.get("minLength", 0)), schema.get("maxLength")
    while len(text) < lo:
        text += " " + rng.choice(_WORDS)
    return text[: int(hi)] if hi is not None else text


# --- token pieces ----------------------------------------------------------------------------


def pieces(ids: Iterable[int], model: str) -> list[str]:
    """Split a completion into streamable pieces, one token each where a token is whole UTF-8.

    Tokens that end inside a multi-byte character are held back and joined to the next, so the
    pieces always concatenate to ``tokens.decode(ids)``.
    """
    enc = tokens.encoding_for(model)
    out: list[str] = []
    buf = b""
    for i in ids:
        buf += enc.decode_single_token_bytes(i)
        try:
            out.append(buf.decode("utf-8"))
        except UnicodeDecodeError:
            continue
        buf = b""
    if buf:
        out.append(buf.decode("utf-8", errors="replace"))
    return out


def chunk_text(text: str, model: str) -> list[str]:
    """``text`` in token-sized pieces (how OpenAI streams content and tool arguments)."""
    return pieces(tokens.encode(text, model), model) if text else []


def truncate(
    text: str, model: str, max_tokens: int | None, stop: list[str] | None = None
) -> tuple[str, list[int], str]:
    """Apply ``stop`` sequences and a token limit the way a model does.

    Returns:
        The text actually produced, its token ids and the finish reason (``"stop"`` or ``"length"``).
    """
    if stop:
        cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
        if cut >= 0:
            text = text[:cut]
    ids = tokens.encode(text, model) if text else []
    if max_tokens is not None and len(ids) > max_tokens:
        ids = ids[:max_tokens]
        return tokens.decode(ids, model), ids, "length"
    return text, ids, "stop"


def logprob_entries(ids: list[int], model: str, rng: random.Random, top: int) -> list[dict[str, Any]]:
    """Chat-style logprobs for ``ids``: the chosen token is always the most likely one."""
    enc = tokens.encoding_for(model)
    out = []
    for i in ids:
        raw = enc.decode_single_token_bytes(i)
        tok = raw.decode("utf-8", errors="replace")
        lp = -round(rng.random() ** 3 * 2.5, 6)
        alts = [{"token": tok, "bytes": list(raw), "logprob": lp}]
        for k in range(1, top):
            word = " " + _WORDS[(i + k) % len(_WORDS)]
            alts.append({"token": word, "bytes": list(word.encode()), "logprob": round(lp - 1.5 * k, 6)})
        out.append({"token": tok, "bytes": list(raw), "logprob": lp, "top_logprobs": alts[:top]})
    return out
