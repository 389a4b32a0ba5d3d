"""Training-file checks, written for the simulator alone (tunelog's own dataset code is not used).

They mirror what OpenAI checks before training and answer the way OpenAI does: the job fails with
``error.code`` ``invalid_training_file`` (or ``invalid_validation_file``) and a message naming the
line and the problem. Keeping them separate from ``tunelog.integration`` means a mistake in
tunelog's dataset code shows up in tests instead of being shared by both sides.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tunelog.simulator import tokens

MIN_EXAMPLES = 10
LEGACY_MODELS = ("babbage-002", "davinci-002")
_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_MESSAGE_KEYS = {
    "role",
    "content",
    "name",
    "tool_calls",
    "function_call",
    "weight",
    "tool_call_id",
    "refusal",
}


@dataclass(frozen=True)
class FileProblem:
    """Why a file cannot be trained on, as the job's ``error`` will say it."""

    code: str
    message: str
    param: str


@dataclass(frozen=True)
class Dataset:
    """A file that passed the checks."""

    n_examples: int


class _Bad(Exception):
    pass


def _lines(content: bytes) -> Iterator[tuple[int, Any]]:
    for n, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield n, json.loads(raw)
        except ValueError:
            raise _Bad(f"Line {n} is not valid JSON.") from None


def _check_messages(messages: Any, where: str, *, need_assistant: bool) -> None:
    if not isinstance(messages, list) or not messages:
        raise _Bad(f"{where}: 'messages' must be a non-empty list of messages.")
    assistants = 0
    for m, msg in enumerate(messages, start=1):
        if not isinstance(msg, dict):
            raise _Bad(f"{where}, message {m}: each message must be an object with 'role' and 'content'.")
        unknown = sorted(set(msg) - _MESSAGE_KEYS)
        if unknown:
            raise _Bad(f"{where}, message {m}: unrecognized key {unknown[0]!r}.")
        role = msg.get("role")
        if role not in _ROLES:
            raise _Bad(
                f"{where}, message {m}: invalid role {role!r}; use one of {', '.join(sorted(_ROLES))}."
            )
        content = msg.get("content")
        calls = msg.get("tool_calls") or msg.get("function_call")
        if content is None and not (role == "assistant" and calls):
            raise _Bad(f"{where}, message {m}: missing 'content'.")
        if content is not None and not isinstance(content, str | list):
            raise _Bad(f"{where}, message {m}: 'content' must be a string or a list of content parts.")
        if "weight" in msg and msg["weight"] not in (0, 1):
            raise _Bad(f"{where}, message {m}: 'weight' must be 0 or 1.")
        if role == "assistant":
            assistants += 1
    if need_assistant and not assistants:
        raise _Bad(f"{where}: examples must have at least one message with role 'assistant'.")


def _check_output(value: Any, where: str, key: str) -> None:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise _Bad(f"{where}: {key!r} must be a list holding exactly one assistant message.")
    if value[0].get("role") != "assistant":
        raise _Bad(f"{where}: {key!r} must hold a message with role 'assistant'.")


def _check_example(obj: Any, n: int, method: str, model: str) -> None:
    where = f"Example on line {n}"
    if not isinstance(obj, dict):
        raise _Bad(f"Line {n} must be a JSON object, got {type(obj).__name__}.")
    if method == "dpo":
        for key in ("input", "preferred_output", "non_preferred_output"):
            if key not in obj:
                raise _Bad(f"{where}: missing required key {key!r} for DPO.")
        if not isinstance(obj["input"], dict):
            raise _Bad(f"{where}: 'input' must be an object with 'messages'.")
        _check_messages(obj["input"].get("messages"), where, need_assistant=False)
        _check_output(obj["preferred_output"], where, "preferred_output")
        _check_output(obj["non_preferred_output"], where, "non_preferred_output")
    elif method == "reinforcement":
        _check_messages(obj.get("messages"), where, need_assistant=False)
        if obj["messages"][-1].get("role") == "assistant":
            raise _Bad(f"{where}: reinforcement examples must not end with an assistant message.")
    elif model in LEGACY_MODELS:
        if not isinstance(obj.get("prompt"), str) or not isinstance(obj.get("completion"), str):
            raise _Bad(f"{where}: {model} expects string 'prompt' and 'completion' keys.")
    else:
        if "messages" not in obj:
            raise _Bad(f"{where}: missing 'messages' (chat format expected for {model}).")
        _check_messages(obj["messages"], where, need_assistant=True)


def check(content: bytes, *, method: str, model: str, param: str = "training_file") -> Dataset | FileProblem:
    """Validate a JSONL training (or validation) file for ``method`` on base ``model``."""
    which = "training" if param == "training_file" else "validation"
    code = f"invalid_{which}_file"
    prefix = f"The job failed due to an invalid {which} file. "
    n = 0
    try:
        for line, obj in _lines(content):
            _check_example(obj, line, method, model)
            n += 1
    except _Bad as exc:
        return FileProblem(code, prefix + "Invalid file format. " + str(exc), param)
    if param == "training_file" and n < MIN_EXAMPLES:
        return FileProblem(
            code,
            prefix + f"Training file has {n} example(s), but must have at least {MIN_EXAMPLES} examples.",
            param,
        )
    if n == 0:
        return FileProblem(code, prefix + "The file has no examples.", param)
    return Dataset(n_examples=n)


def _text_of(messages: Any) -> list[dict[str, Any]]:
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def count_tokens(content: bytes, *, method: str, model: str) -> int:
    """Tokens in one pass over a (valid) file, with OpenAI's chat framing, under ``model``'s encoding."""
    total = 0
    for _, obj in _lines(content):
        if method == "dpo":
            total += tokens.count_messages(_text_of(obj["input"].get("messages")), model)
            total += tokens.count_messages(_text_of(obj["preferred_output"]), model)
            total += tokens.count_messages(_text_of(obj["non_preferred_output"]), model)
        elif "messages" in obj:
            total += tokens.count_messages(_text_of(obj["messages"]), model)
            if obj.get("tools"):
                total += tokens.count(json.dumps(obj["tools"]), model)
        else:
            total += tokens.count(str(obj.get("prompt", "")), model)
            total += tokens.count(str(obj.get("completion", "")), model)
    return total
