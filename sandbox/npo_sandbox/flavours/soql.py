"""Enough SOQL for pulls and lookups: ``SELECT ... FROM Obj [WHERE cond] [ORDER BY ...] [LIMIT n]``.

The query is tokenised as Salesforce reads it, so a quote ends a string
literal wherever it is, unless escaped: ``'x'OR'1'='1@example.org'`` is the
literal ``'x'`` followed by more query, not one odd email. A literal's escape
sequences are those of Salesforce's "Quoted String Escape Sequences"
(``\\n \\r \\t \\b \\f \\" \\' \\\\ \\uXXXX``); any other backslash is an error.

A condition is ``Field op value`` (``op``: ``= != <> < <= > >=``), or
conditions joined by AND or OR, NOT, and parentheses, which Salesforce requires
when AND and OR are mixed. Values are quoted strings, numbers, true/false/null,
dates, or datetimes (``Z``, ``+0000`` or ``+00:00``; they compare as
datetimes). ORDER BY is accepted and ignored: results come in
(LastModifiedDate, Id) order. Anything else is a MALFORMED_QUERY.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ..timefmt import parse_time

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<open_string>')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+\- ]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op>!=|<>|>=|<=|=|>|<)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][\w.]*)
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}
_UNICODE = re.compile(r"[0-9a-fA-F]{4}")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_CLAUSES = {"where", "order", "limit"}


class SoqlError(ValueError):
    """The query is outside the subset the sandbox understands."""


class Node(Protocol):
    def matches(self, record: dict[str, Any]) -> bool: ...


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any

    def matches(self, record: dict[str, Any]) -> bool:
        actual: Any = record
        for part in self.field.split("."):
            actual = actual.get(part) if isinstance(actual, dict) else None
        if self.value is None or actual is None:
            return _OPS[self.op](actual, self.value) if self.op in {"=", "!=", "<>"} else False
        if isinstance(self.value, datetime):
            actual = parse_time(str(actual))
        elif isinstance(self.value, float):
            actual = float(actual)
        else:
            actual = str(actual) if not isinstance(self.value, bool) else actual
        return _OPS[self.op](actual, self.value)


@dataclass(frozen=True)
class Logical:
    op: str  # "and" | "or"
    parts: tuple[Node, ...]

    def matches(self, record: dict[str, Any]) -> bool:
        found = (part.matches(record) for part in self.parts)
        return all(found) if self.op == "and" else any(found)


@dataclass(frozen=True)
class Not:
    part: Node

    def matches(self, record: dict[str, Any]) -> bool:
        return not self.part.matches(record)


@dataclass(frozen=True)
class SoqlQuery:
    sobject: str
    where: Node | None
    limit: int | None

    def matches(self, record: dict[str, Any]) -> bool:
        return self.where is None or self.where.matches(record)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str

    def word(self) -> str:
        return self.text.lower() if self.kind == "word" else ""


def unquote(literal: str) -> str:
    """The text of a quoted literal (quotes included), its escape sequences decoded."""
    body, out, pos = literal[1:-1], [], 0
    while pos < len(body):
        char = body[pos]
        if char != "\\":
            out.append(char)
            pos += 1
            continue
        code = body[pos + 1]
        if code in _ESCAPES or code.lower() in {"n", "r", "t", "b", "f"}:
            out.append(_ESCAPES[code if code in _ESCAPES else code.lower()])
            pos += 2
        elif code == "u" and _UNICODE.fullmatch(body[pos + 2 : pos + 6]):
            out.append(chr(int(body[pos + 2 : pos + 6], 16)))
            pos += 6
        else:
            raise SoqlError(f"invalid escape sequence '\\{code}' in {literal}")
    return "".join(out)


def _tokens(query: str) -> list[_Token]:
    tokens, pos = [], 0
    while query[pos:].strip():
        match = _TOKEN.match(query, pos)
        if match is None or match.lastgroup is None:
            raise SoqlError(f"unexpected character at {pos + 1}: {query[pos:].strip()[:20]!r}")
        if match.lastgroup == "open_string":
            raise SoqlError(f"unterminated string literal at {match.start('open_string') + 1}")
        tokens.append(_Token(match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _tokens(query)
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            raise SoqlError(f"expected {what}, found the end of the query")
        self.pos += 1
        return token

    def keyword(self, word: str) -> None:
        token = self.take(word.upper())
        if token.word() != word:
            raise SoqlError(f"expected {word.upper()}, found {token.text!r}")

    def query(self) -> SoqlQuery:
        self.keyword("select")
        if self.peek_word() == "from":
            raise SoqlError("expected SELECT fields FROM object")
        while self.peek_word() != "from":
            self.take("FROM")
        self.keyword("from")
        sobject = self.take("an object name")
        if sobject.kind != "word" or "." in sobject.text:
            raise SoqlError(f"expected an object name, found {sobject.text!r}")
        where = None
        if self.peek_word() == "where":
            self.pos += 1
            where = self.condition()
        if self.peek_word() == "order":
            self.pos += 1
            self.keyword("by")
            while self.peek() is not None and self.peek_word() != "limit":
                self.pos += 1
        limit = None
        if self.peek_word() == "limit":
            self.pos += 1
            token = self.take("a number")
            if token.kind != "number" or not token.text.isdigit():
                raise SoqlError(f"LIMIT needs a whole number, found {token.text!r}")
            limit = int(token.text)
        if self.peek() is not None:
            raise SoqlError(f"unexpected {self.take('').text!r}")
        return SoqlQuery(sobject.text, where, limit)

    def peek_word(self) -> str:
        token = self.peek()
        return token.word() if token is not None else ""

    def condition(self) -> Node:
        parts = [self.term()]
        joined = None
        while self.peek_word() in {"and", "or"}:
            op = self.take("AND or OR").word()
            if joined is not None and op != joined:
                raise SoqlError("AND and OR mixed without parentheses")
            joined = op
            parts.append(self.term())
        return parts[0] if joined is None else Logical(joined, tuple(parts))

    def term(self) -> Node:
        token = self.take("a condition")
        if token.word() == "not":
            return Not(self.term())
        if token.text == "(":
            inner = self.condition()
            if self.take("')'").text != ")":
                raise SoqlError("expected ')'")
            return inner
        if token.kind != "word" or token.word() in _CLAUSES | {"and", "or"}:
            raise SoqlError(f"expected a field name, found {token.text!r}")
        op = self.take("an operator")
        if op.kind != "op":
            raise SoqlError(f"unsupported condition on {token.text}: {op.text!r}")
        return Condition(token.text, op.text, _literal(self.take("a value")))


def _literal(token: _Token) -> Any:
    if token.kind == "string":
        return unquote(token.text)
    if token.kind == "datetime":
        return parse_time(token.text)
    if token.kind == "date":
        return token.text
    if token.kind == "number":
        return float(token.text)
    if token.word() in {"true", "false"}:
        return token.word() == "true"
    if token.word() == "null":
        return None
    raise SoqlError(f"unsupported literal {token.text!r}")


def parse(query: str) -> SoqlQuery:
    """Parse the supported SOQL subset or raise SoqlError."""
    return _Parser(query or "").query()
