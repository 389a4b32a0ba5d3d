"""Fine-tuning datasets (JSONL): every OpenAI format turned into table rows, statistics and checks.

Formats understood, one example per line:

- ``chat``: ``{"messages": [...]}`` with any number of turns, with or without a system (or developer)
  prompt, ``tools``/``functions``, assistant ``tool_calls``, per-message ``weight``, and content given as
  a string or as parts (text and images).
- ``dpo``: ``{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}``.
- ``reinforcement``: ``{"messages": [...], <grader fields such as "answer">}``.
- ``prompt_completion``: the legacy ``{"prompt": ..., "completion": ...}``.
- anything else is ``unknown``: kept whole in the generic ``other`` column, never an error.

:func:`table_row` is the ``"openai-dataset"`` row transform of source tables (an index over the raw
file: nothing is copied). :class:`DatasetScanner` reads a file once, in chunks, and gathers the
statistics and warnings that go into a dataset artifact's metadata. Token counts are exact, offline
(quicktok ships tiktoken's encodings), with the chat framing of OpenAI's cookbook.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

TRANSFORM = "openai-dataset"
TABLE_NAME = "examples"
#: The table's columns; the last one is the catch-all (unknown keys, or why a line could not be read).
COLUMNS = (
    "format",
    "system",
    "prompt",
    "completion",
    "turns",
    "messages",
    "tools",
    "preferred",
    "non_preferred",
    "fields",
    "tokens",
    "other",
)
MIN_EXAMPLES = 10  # OpenAI refuses smaller training files
MAX_EXAMPLE_TOKENS = 65_536  # longer examples are truncated by OpenAI
BIG_LINE_BYTES = 1 << 20
_IMAGE_TOKENS = 85  # a low-detail image, as OpenAI counts it
_KEEP_DETAILS = 50  # warnings and unparsed lines listed in the metadata (all are counted)
_CHAT_KEYS = frozenset({"messages", "tools", "functions", "parallel_tool_calls"})
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_MISSING = object()


# -- encodings ------------------------------------------------------------------------------------


def encoding_name(model: str | None) -> str:
    """The BPE encoding of a base model: cl100k_base for GPT-3.5/GPT-4 and the legacy models,
    o200k_base for GPT-4o, GPT-4.1, o-series and newer (and for unknown names)."""
    base = (model or "").lower()
    if base.startswith("ft:"):
        base = base.split(":")[1]
    legacy = ("gpt-3.5", "gpt-35", "gpt-4-", "davinci", "babbage", "text-")
    if base.startswith(legacy) or base == "gpt-4":
        return "cl100k_base"
    return "o200k_base"


@cache
def tokenizer(name: str) -> Any:
    """quicktok's tokenizer for encoding ``name``, loaded once per process."""
    import quicktok  # lazily: loading a vocabulary costs about 0.6 s and 80 MB

    return quicktok.get_encoding(name)


_tokenizer = tokenizer


def _json_loader() -> Callable[[bytes], Any]:
    """orjson's ``loads`` when installed (twice as fast on long strings), else the standard one."""
    try:
        import orjson
    except ImportError:
        return json.loads
    loads: Callable[[bytes], Any] = orjson.loads
    return loads


def token_column(encoding: str) -> str:
    """The name of the token-count column: ``tokens`` for o200k_base, else ``tokens (<encoding>)``,
    so that the row transform, which sees only the columns, knows which encoding to count with."""
    return "tokens" if encoding == "o200k_base" else f"tokens ({encoding})"


def table_columns(model: str | None) -> list[str]:
    """The columns of a dataset table for a job on base ``model``."""
    tok = token_column(encoding_name(model))
    return [tok if c == "tokens" else c for c in COLUMNS]


# -- one example ---------------------------------------------------------------------------------


def _text(content: Any) -> str:
    """The text of a message's content: a string, or its text parts joined; images as ``[image]``."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    out.append(part["text"])
                elif part.get("type") in ("image_url", "input_image", "image"):
                    out.append("[image]")
                elif part.get("type") in ("input_audio", "audio"):
                    out.append("[audio]")
        return "\n".join(out)
    return json.dumps(content, ensure_ascii=False)


def _images(content: Any) -> int:
    if not isinstance(content, list):
        return 0
    return sum(
        1 for p in content if isinstance(p, dict) and p.get("type") in ("image_url", "input_image", "image")
    )


def _calls_text(msg: dict[str, Any]) -> str:
    calls = msg.get("tool_calls") or ([msg["function_call"]] if msg.get("function_call") else [])
    parts = []
    for call in calls if isinstance(calls, list) else []:
        fn = call.get("function", call) if isinstance(call, dict) else {}
        if isinstance(fn, dict):
            parts.append(f"{fn.get('name', '')}({fn.get('arguments', '')})")
    return "\n".join(parts)


@dataclass
class Example:
    """One line of a dataset, understood: its format and the table's cells."""

    format: str
    cells: dict[str, Any]


def example_format(obj: Any) -> str:
    """``chat``, ``dpo``, ``reinforcement``, ``prompt_completion`` or ``unknown``."""
    if not isinstance(obj, dict):
        return "unknown"
    if isinstance(obj.get("messages"), list):
        return "reinforcement" if any(k not in _CHAT_KEYS for k in obj) else "chat"
    if "preferred_output" in obj or "non_preferred_output" in obj:
        return "dpo"
    if "prompt" in obj or "completion" in obj:
        return "prompt_completion"
    return "unknown"


def _message_tokens(messages: list[Any], count: Callable[[str], int]) -> int:
    total = 3  # every reply is primed with <|start|>assistant<|message|>
    for m in messages:
        if not isinstance(m, dict):
            total += count(json.dumps(m, ensure_ascii=False))
            continue
        total += 3
        role, content, name = m.get("role"), m.get("content"), m.get("name")
        if role:
            total += count(str(role))
        if isinstance(content, str):
            total += count(content) if content else 0
        elif content is not None:
            text = _text(content)
            total += (count(text) if text else 0) + _IMAGE_TOKENS * _images(content)
        if isinstance(name, str):
            total += 1 + (count(name) if name else 0)
        if m.get("tool_calls") or m.get("function_call"):
            calls = _calls_text(m)
            total += count(calls) if calls else 0
    return total


def example_tokens(obj: Any, count: Callable[[str], int], fmt: str | None = None) -> int:
    """Tokens of one example, chat framing as in OpenAI's cookbook; ``count`` counts one string."""
    fmt = fmt or example_format(obj)
    if fmt in ("chat", "reinforcement"):
        total = _message_tokens(obj["messages"], count)
        tools = obj.get("tools") or obj.get("functions")
        return total + (count(json.dumps(tools, ensure_ascii=False)) if tools else 0)
    if fmt == "dpo":
        inp = obj.get("input")
        listed = inp.get("messages") if isinstance(inp, dict) else None
        total = _message_tokens(listed if isinstance(listed, list) else [], count)
        for key in ("preferred_output", "non_preferred_output"):
            if isinstance(obj.get(key), list):
                total += _message_tokens(obj[key], count)
        return total
    if fmt == "prompt_completion":
        total = 0
        for key in ("prompt", "completion"):
            value = obj.get(key)
            text = value if isinstance(value, str) else _text(value)
            total += count(text) if text else 0
        return total
    return count(json.dumps(obj, ensure_ascii=False))


def _last(messages: list[Any], roles: tuple[str, ...]) -> str | None:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") in roles:
            text = _text(m.get("content"))
            calls = _calls_text(m)
            return text + ("\n" + calls if text and calls else calls) if calls else text
    return None


def _output_text(value: Any) -> str | None:
    if isinstance(value, list):
        return _last(value, ("assistant",)) or _text(
            [_text(v.get("content")) for v in value if isinstance(v, dict)]
        )
    if isinstance(value, dict):
        return _text(value.get("content"))
    return None if value is None else str(value)


def classify(obj: Any) -> Example:
    """Understand one parsed line. Never raises: an unknown shape is ``unknown``."""
    if not isinstance(obj, dict):
        return Example("unknown", {"other": json.dumps(obj, ensure_ascii=False)})
    if isinstance(obj.get("messages"), list):
        messages: list[Any] = obj["messages"]
        extra = {k: v for k, v in obj.items() if k not in _CHAT_KEYS}
        kind = "reinforcement" if extra else "chat"
        system = next(
            (
                _text(m.get("content"))
                for m in messages
                if isinstance(m, dict) and m.get("role") in ("system", "developer")
            ),
            None,
        )
        return Example(
            kind,
            {
                "system": system,
                "prompt": _last(messages, ("user",)),
                "completion": _last(messages, ("assistant",)),
                "turns": len(messages),
                "messages": messages,
                "tools": obj.get("tools") or obj.get("functions"),
                "fields": extra or None,
            },
        )
    if "preferred_output" in obj or "non_preferred_output" in obj:
        found = obj.get("input")
        inp: dict[str, Any] = found if isinstance(found, dict) else {}
        listed = inp.get("messages")
        messages = listed if isinstance(listed, list) else []
        system = next(
            (
                _text(m.get("content"))
                for m in messages
                if isinstance(m, dict) and m.get("role") in ("system", "developer")
            ),
            None,
        )
        rest = {
            k: v for k, v in obj.items() if k not in ("input", "preferred_output", "non_preferred_output")
        }
        return Example(
            "dpo",
            {
                "system": system,
                "prompt": _last(messages, ("user",)),
                "completion": _output_text(obj.get("preferred_output")),
                "turns": len(messages),
                "messages": messages,
                "tools": inp.get("tools"),
                "preferred": _output_text(obj.get("preferred_output")),
                "non_preferred": _output_text(obj.get("non_preferred_output")),
                "other": json.dumps(rest, ensure_ascii=False) if rest else None,
            },
        )
    if "prompt" in obj or "completion" in obj:
        rest = {k: v for k, v in obj.items() if k not in ("prompt", "completion")}
        prompt, completion = obj.get("prompt"), obj.get("completion")
        return Example(
            "prompt_completion",
            {
                "prompt": prompt if isinstance(prompt, str) else _text(prompt),
                "completion": completion if isinstance(completion, str) else _text(completion),
                "other": json.dumps(rest, ensure_ascii=False) if rest else None,
            },
        )
    return Example("unknown", {"other": json.dumps(obj, ensure_ascii=False)})


def count_tokens(obj: Any, encoding: str) -> int:
    """Tokens of one example (a parsed line) under ``encoding``."""
    return example_tokens(obj, _tokenizer(encoding).count)


def table_row(obj: Any, columns: Sequence[str]) -> list[Any]:
    """The ``"openai-dataset"`` row transform: one parsed JSONL line → one cell per column.

    The token column's name says its encoding (see :func:`token_column`); columns this version does
    not know are None, and the last column is the catch-all.
    """
    ex = classify(obj)
    cells: dict[str, Any] = {"format": ex.format, **ex.cells}
    out: list[Any] = []
    for i, col in enumerate(columns):
        if col.startswith("tokens"):
            enc = col[len("tokens (") : -1] if col.startswith("tokens (") else "o200k_base"
            out.append(example_tokens(obj, _tokenizer(enc).count, ex.format))
        elif i == len(columns) - 1:
            out.append(cells.get("other"))
        else:
            out.append(cells.get(col))
    return out


# -- checks ---------------------------------------------------------------------------------------


def check_example(fmt: str, obj: Any, method: str | None) -> list[str]:
    """Format problems of one example, each saying what to change (empty when it looks right)."""
    if fmt == "unknown":
        keys = ", ".join(sorted(obj)[:5]) if isinstance(obj, dict) else type(obj).__name__
        return [
            f"not a known fine-tuning format (keys: {keys}); use 'messages' (chat), "
            "'input'/'preferred_output'/'non_preferred_output' (DPO) or 'prompt'/'completion'"
        ]
    problems: list[str] = []
    if fmt in ("chat", "reinforcement"):
        messages = obj["messages"]
        if not messages:
            return ["'messages' is empty; add the conversation's messages"]
        for i, m in enumerate(messages, start=1):
            if not isinstance(m, dict):
                problems.append(f"message {i} is not an object; write {{'role': ..., 'content': ...}}")
                continue
            if m.get("role") not in _ROLES:
                problems.append(
                    f"message {i} has role {m.get('role')!r}; use system, user, assistant or tool"
                )
            if m.get("content") in (None, "") and not (m.get("tool_calls") or m.get("function_call")):
                problems.append(f"message {i} ({m.get('role')}) has no content; give it content or remove it")
            if "weight" in m and m["weight"] not in (0, 1):
                problems.append(f"message {i} has weight {m['weight']!r}; weight must be 0 or 1")
        has_assistant = any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages)
        if method == "reinforcement" or fmt == "reinforcement":
            last = messages[-1]
            if isinstance(last, dict) and last.get("role") == "assistant":
                problems.append("a reinforcement example must end with a user message, not an assistant one")
        elif not has_assistant:
            problems.append("no assistant message, so nothing to learn from; add the assistant's reply")
    elif fmt == "dpo":
        for key in ("preferred_output", "non_preferred_output"):
            value = obj.get(key)
            if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict)):
                problems.append(f"'{key}' must be a list holding one assistant message")
        if not (isinstance(obj.get("input"), dict) and isinstance(obj["input"].get("messages"), list)):
            problems.append("'input' must be an object with 'messages'")
    elif fmt == "prompt_completion" and not (
        isinstance(obj.get("prompt"), str) and isinstance(obj.get("completion"), str)
    ):
        problems.append("'prompt' and 'completion' must both be strings")
    if method == "dpo" and fmt != "dpo":
        problems.append(f"a {fmt} example in a DPO job; DPO needs input/preferred/non_preferred outputs")
    return problems


# -- a whole file -------------------------------------------------------------------------------------


@dataclass
class DatasetStats:
    """What :class:`DatasetScanner` found; :meth:`metadata` is what a dataset artifact carries."""

    encoding: str
    bytes: int = 0
    lines: int = 0
    blank_lines: int = 0
    examples: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    tokens_total: int = 0
    tokens_min: int | None = None
    tokens_max: int | None = None
    largest_line_bytes: int = 0
    unparsed: int = 0
    unparsed_lines: list[dict[str, Any]] = field(default_factory=list)
    warning_count: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def format(self) -> str:
        return self.formats.most_common(1)[0][0] if self.formats else "empty"

    def metadata(self) -> dict[str, Any]:
        n = self.examples
        return {
            "format": self.format,
            "formats": dict(self.formats),
            "examples": n,
            "lines": self.lines,
            "blank_lines": self.blank_lines,
            "bytes": self.bytes,
            "largest_line_bytes": self.largest_line_bytes,
            "tokens": {
                "encoding": self.encoding,
                "total": self.tokens_total,
                "min": self.tokens_min,
                "max": self.tokens_max,
                "mean": round(self.tokens_total / n, 2) if n else None,
            },
            "unparsed": self.unparsed,
            "unparsed_lines": self.unparsed_lines,
            "warning_count": self.warning_count,
            "warnings": self.warnings,
        }


class DatasetScanner:
    """Reads a JSONL dataset chunk by chunk (as it downloads) and gathers :class:`DatasetStats`.

    Args:
        model: the job's base model (chooses the encoding).
        method: ``supervised``, ``dpo`` or ``reinforcement`` (what the checks expect), if known.
        label: how warnings name the file, e.g. ``"training file file-abc (train.jsonl)"``.
    """

    def __init__(self, model: str | None, method: str | None = None, label: str = "file") -> None:
        self.stats = DatasetStats(encoding=encoding_name(model))
        count: Callable[[str], int] = tokenizer(self.stats.encoding).count
        short: dict[str, int] = {}

        def cached(text: str) -> int:
            # roles and names repeat on every line: count each once
            if len(text) > 16:
                return count(text)
            n = short.get(text)
            if n is None:
                n = short[text] = count(text)
            return n

        self._count = cached
        self._loads = _json_loader()
        self._method = method
        self._label = label
        self._rest = b""
        self._line_no = 0

    def feed(self, chunk: bytes) -> None:
        self.stats.bytes += len(chunk)
        data = self._rest + chunk if self._rest else chunk
        lines = data.split(b"\n")
        self._rest = lines.pop()
        for line in lines:
            self._line(line)

    def finish(self) -> DatasetStats:
        if self._rest:
            self._line(self._rest)
            self._rest = b""
        st = self.stats
        if st.examples == 0:
            self._warn(
                "has no examples"
                + (" (it is empty)" if st.bytes == 0 else "")
                + "; upload a non-empty JSONL file"
            )
        elif st.examples < MIN_EXAMPLES:
            self._warn(f"has {st.examples} examples; OpenAI needs at least {MIN_EXAMPLES}")
        if len(st.formats) > 1:
            mixed = ", ".join(f"{k} {v}" for k, v in st.formats.most_common())
            self._warn(f"mixes formats ({mixed}); use one format per file")
        return st

    def _warn(self, text: str, line: int | None = None) -> None:
        st = self.stats
        st.warning_count += 1
        if len(st.warnings) < _KEEP_DETAILS:
            where = f" line {line}" if line is not None else ""
            st.warnings.append(f"{self._label}{where}: {text}")

    def _line(self, raw: bytes) -> None:
        self._line_no += 1
        n, st = self._line_no, self.stats
        if not raw.strip():
            st.blank_lines += 1
            return
        st.lines += 1
        size = len(raw)
        if size > st.largest_line_bytes:
            st.largest_line_bytes = size
        try:
            obj = self._loads(raw)
        except ValueError:
            obj = _MISSING  # the standard parser decides, and says why in its own words
        if obj is _MISSING:
            try:
                obj = json.loads(raw)
            except UnicodeDecodeError as exc:
                self._unparsed(n, f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8")
                return
            except ValueError as exc:
                self._unparsed(n, f"not valid JSON ({exc}); each line must be one JSON object")
                return
        fmt = example_format(obj)
        st.examples += 1
        st.formats[fmt] += 1
        tokens = example_tokens(obj, self._count, fmt)
        st.tokens_total += tokens
        if st.tokens_min is None or tokens < st.tokens_min:
            st.tokens_min = tokens
        if st.tokens_max is None or tokens > st.tokens_max:
            st.tokens_max = tokens
        for problem in check_example(fmt, obj, self._method):
            self._warn(problem, n)
        if tokens > MAX_EXAMPLE_TOKENS:
            self._warn(
                f"has {tokens} tokens, over {MAX_EXAMPLE_TOKENS}; OpenAI truncates it, so shorten it", n
            )
        if size > BIG_LINE_BYTES:
            self._warn(f"is {size / 1e6:.1f} MB; such a large example is probably a mistake", n)

    def _unparsed(self, n: int, why: str) -> None:
        st = self.stats
        st.unparsed += 1
        if len(st.unparsed_lines) < _KEEP_DETAILS:
            st.unparsed_lines.append({"line": n, "error": why})
        self._warn(why, n)


def scan_bytes(
    data: bytes, model: str | None = None, method: str | None = None, label: str = "file"
) -> DatasetStats:
    """Statistics of a whole dataset held in memory (for small files and tests)."""
    scanner = DatasetScanner(model, method, label)
    scanner.feed(data)
    return scanner.finish()
