"""Just enough SOQL for incremental pulls: ``SELECT ... FROM Obj [WHERE a AND b] [LIMIT n]``.

Conditions are ``Field op value`` joined by AND; ``op`` is one of
``= != <> < <= > >=``; values are quoted strings, numbers, true/false/null,
dates, or datetimes (``Z``, ``+0000`` or ``+00:00``; datetimes compare as
datetimes). ORDER BY is accepted and ignored: results come in
(LastModifiedDate, Id) order. Anything else is a MALFORMED_QUERY.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..timefmt import parse_time

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<sobject>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(r"^\s*([\w.]+)\s*(!=|<>|>=|<=|=|>|<)\s*(.+?)\s*$", re.DOTALL)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+\- ]\d{2}:?\d{2})$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class SoqlError(ValueError):
    """The query is outside the subset the sandbox understands."""


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
class SoqlQuery:
    sobject: str
    conditions: tuple[Condition, ...]
    limit: int | None

    def matches(self, record: dict[str, Any]) -> bool:
        return all(c.matches(record) for c in self.conditions)


def _literal(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("\\'", "'")
    lowered = text.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered == "null":
        return None
    if _DATETIME.match(text):
        return parse_time(text)
    if _DATE.match(text):
        return text
    if _NUMBER.match(text):
        return float(text)
    raise SoqlError(f"unsupported literal {text!r}")


def parse(query: str) -> SoqlQuery:
    """Parse the supported SOQL subset or raise SoqlError."""
    match = _QUERY.match(query or "")
    if not match:
        raise SoqlError("expected SELECT fields FROM object")
    conditions = []
    if match.group("where"):
        for clause in _AND.split(match.group("where")):
            parts = _CONDITION.match(clause)
            if not parts:
                raise SoqlError(f"unsupported condition {clause!r}")
            conditions.append(Condition(parts.group(1), parts.group(2), _literal(parts.group(3))))
    limit = int(match.group("limit")) if match.group("limit") else None
    return SoqlQuery(match.group("sobject"), tuple(conditions), limit)
