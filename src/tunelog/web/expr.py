"""The runs filter expression language of the dashboard, compiled to the filter structure of
:mod:`tunelog.filters` (the one ``Api().runs(filters=...)`` takes)::

    config.hyperparameters.n_epochs >= 3 and state = "finished"
    (summary.loss < 0.2 or tags contains "baseline") and not job_type = "eval"
    config.base_model in ["gpt-4o-mini", "gpt-4.1-mini"] and name ~ "^ft-"
    summary.valid_loss exists

Grammar (keywords are case-insensitive)::

    expr    := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | "(" expr ")" | test
    test    := path op value | path ["not"] "in" list | path "contains" value
             | path ("~" | "matches") string | path ["not"] "exists"
    op      := "=" | "==" | "!=" | ">" | ">=" | "<" | "<="
    path    := name ("." (name | "`any key`" ))*
    value   := "string" | 'string' | number | true | false | null
    list    := "[" [value ("," value)*] "]"

Values are never spliced into SQL: the result goes through :func:`tunelog.filters.parse_filter` and the
store binds every value. A bad expression raises :class:`ExprError` with the column it went wrong at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tunelog.errors import UsageError
from tunelog.filters import parse_filter, split_path

_OPS = {"=": "$eq", "==": "$eq", "!=": "$ne", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}
_KEYWORDS = {"and", "or", "not", "in", "contains", "matches", "exists", "true", "false", "null", "none"}
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<bq>`[^`]*`)
  | (?P<op>>=|<=|!=|==|=|>|<|~)
  | (?P<punct>[()\[\],.])
  | (?P<name>[A-Za-z_][A-Za-z0-9_\-/]*)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


class ExprError(UsageError):
    """A filter expression that does not parse; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, text: str, position: int) -> None:
        self.position = position
        self.text = text
        self.reason = message
        pointer = " " * position + "^"
        super().__init__(f"{message} (at column {position + 1}):\n  {text}\n  {pointer}")


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # num, str, bq, op, punct, name, end
    text: str
    pos: int

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "name" else ""


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos] in "\"'":
                raise ExprError("Unterminated string: add the closing quote", text, pos)
            raise ExprError(f"Unexpected character {text[pos]!r}", text, pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def fail(self, message: str, tok: _Tok | None = None) -> ExprError:
        return ExprError(message, self.text, (tok or self.tok).pos)

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect_word(self, word: str) -> None:
        if self.tok.word != word:
            raise self.fail(f"Expected '{word}'")
        self.take()

    def parse(self) -> dict[str, Any]:
        if self.tok.kind == "end":
            return {}
        node = self.expr()
        if self.tok.kind != "end":
            raise self.fail(f"Unexpected {self.tok.text!r}: join conditions with 'and' or 'or'")
        return node

    def expr(self) -> dict[str, Any]:
        items = [self.conj()]
        while self.tok.word == "or":
            self.take()
            items.append(self.conj())
        return items[0] if len(items) == 1 else {"$or": items}

    def conj(self) -> dict[str, Any]:
        items = [self.unary()]
        while self.tok.word == "and":
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else {"$and": items}

    def unary(self) -> dict[str, Any]:
        if self.tok.word == "not":
            self.take()
            return {"$not": self.unary()}
        if self.tok.text == "(" and self.tok.kind == "punct":
            open_tok = self.take()
            node = self.expr()
            if self.tok.text != ")":
                raise self.fail(f"Missing ')' for the '(' at column {open_tok.pos + 1}")
            self.take()
            return node
        return self.test()

    def path(self) -> str:
        start = self.tok
        if start.kind != "name" or start.word in _KEYWORDS:
            raise self.fail(
                "Expected a field such as state, name, tags, config.<key> or summary.<key>"
                + (f", not {start.text!r}" if start.kind != "end" else "")
            )
        parts = [self.take().text]
        while self.tok.text == "." and self.tok.kind == "punct":
            self.take()
            t = self.tok
            if t.kind == "name":
                parts.append(self.take().text)
            elif t.kind == "bq":
                parts.append(self.take().text[1:-1])
            else:
                raise self.fail("Expected a key after '.' (quote odd keys in backticks: config.`my key`)")
        dotted = ".".join(parts)
        try:
            split_path(dotted)
        except UsageError as exc:
            raise ExprError(str(exc).rstrip("."), self.text, start.pos) from None
        return dotted

    def value(self) -> Any:
        t = self.tok
        if t.kind == "num":
            self.take()
            return float(t.text) if any(c in t.text for c in ".eE") else int(t.text)
        if t.kind == "str":
            self.take()
            return _unquote(t.text)
        if t.word in ("true", "false"):
            self.take()
            return t.word == "true"
        if t.word in ("null", "none"):
            self.take()
            return None
        what = "the end" if t.kind == "end" else repr(t.text)
        raise self.fail(f'Expected a value (a "string", a number, true, false or null), found {what}')

    def values(self) -> list[Any]:
        if self.tok.text != "[":
            raise self.fail('Expected a list such as ["a", "b"] after \'in\'')
        self.take()
        out: list[Any] = []
        if self.tok.text == "]":
            self.take()
            return out
        while True:
            out.append(self.value())
            if self.tok.text == ",":
                self.take()
                continue
            if self.tok.text == "]":
                self.take()
                return out
            raise self.fail("Expected ',' or ']' in the list")

    def test(self) -> dict[str, Any]:
        path = self.path()
        t = self.tok
        if t.kind == "op" and t.text in _OPS:
            self.take()
            return {path: {_OPS[t.text]: self.value()}}
        if (t.kind == "op" and t.text == "~") or t.word == "matches":
            self.take()
            pattern_tok = self.tok
            pattern = self.value()
            if not isinstance(pattern, str):
                raise self.fail("A regular expression must be a string", pattern_tok)
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self.fail(f"Invalid regular expression: {exc}", pattern_tok) from None
            return {path: {"$regex": pattern}}
        if t.word == "contains":
            self.take()
            value_tok = self.tok
            value = self.value()
            if not isinstance(value, str):
                raise self.fail("'contains' takes a string", value_tok)
            return {path: {"$contains": value}}
        if t.word == "in":
            self.take()
            return {path: {"$in": self.values()}}
        if t.word == "exists":
            self.take()
            return {path: {"$exists": True}}
        if t.word == "not":
            self.take()
            if self.tok.word == "in":
                self.take()
                return {path: {"$nin": self.values()}}
            if self.tok.word == "exists":
                self.take()
                return {path: {"$exists": False}}
            raise self.fail("Expected 'in' or 'exists' after 'not'")
        what = "the end" if t.kind == "end" else repr(t.text)
        raise self.fail(
            "Expected an operator (=, !=, >, >=, <, <=, in, contains, ~, exists) "
            f"after {path!r}, found {what}"
        )


def parse_expression(text: str) -> dict[str, Any]:
    """Compile a filter expression to the filter mapping of ``Api().runs(filters=...)``.

    Raises:
        ExprError: the expression does not parse; the message shows where.
    """
    spec = _Parser(text).parse()
    try:
        parse_filter(spec)  # the store's own validation: the same rules as Api().runs
    except UsageError as exc:
        raise ExprError(str(exc), text, 0) from None
    return spec


def text_filter(text: str) -> dict[str, Any]:
    """The quick search box: runs whose name, id, notes, group or a tag contain ``text`` (any case)."""
    pattern = "(?i)" + re.escape(text.strip())
    return {
        "$or": [
            {"name": {"$regex": pattern}},
            {"id": {"$regex": pattern}},
            {"notes": {"$regex": pattern}},
            {"group": {"$regex": pattern}},
            {"tags": {"$regex": pattern}},
        ]
    }
