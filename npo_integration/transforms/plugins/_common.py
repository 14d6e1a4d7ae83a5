"""Small helpers the built-in code plug-ins share: reading record fields, building models.

Each helper raises ``TransformError`` naming the platform field and the NPO key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from npo_integration.expressions import kind_of
from npo_integration.transforms.contract import TransformError
from npo_integration.transforms.declarative import coerce
from npo_integration.validation_errors import describe_validation_error, first_field

M = TypeVar("M", bound=BaseModel)


def as_object(record: Any, what: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise TransformError(f"expected the {what} to be an object, found {kind_of(record)}")
    return record


def text(record: dict[str, Any], key: str, field: str, *, html: bool = False) -> str | None:
    """The value at ``key`` as text (numbers too), ``None`` if absent or null."""
    value = record.get(key)
    if value is None:
        return None
    try:
        return coerce.strip_html(value) if html else coerce.to_str(value)
    except coerce.CoercionError as exc:
        raise TransformError(str(exc), field=field, path=key) from None


def ref(record: dict[str, Any], key: str, field: str) -> str:
    """A required identifier as text."""
    value = text(record, key, field)
    if not value:
        raise TransformError("required value is missing or null", field=field, path=key)
    return value


def number(value: Any, field: str, path: str) -> float | None:
    try:
        return None if value is None else coerce.to_float(value)
    except coerce.CoercionError as exc:
        raise TransformError(str(exc), field=field, path=path) from None


def date(record: dict[str, Any], key: str, field: str) -> datetime | None:
    """An ISO-8601 value as an aware UTC datetime, ``None`` if absent, null or empty."""
    value = record.get(key)
    if value is None or value == "":
        return None
    try:
        return coerce.parse_date(value, "iso8601")
    except coerce.CoercionError as exc:
        raise TransformError(str(exc), field=field, path=key) from None


def build(model: type[M], section: str, values: dict[str, Any], paths: dict[str, str]) -> M:
    """``model`` from ``values``; a ``ValidationError`` becomes a ``TransformError``."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        name = first_field(exc)
        reason = describe_validation_error(exc, limit=1, name=None, show_input=True)
        raise TransformError(reason, field=f"{section}.{name}", path=paths.get(name)) from None
