"""Bytes <-> models at the Kafka boundary, with errors that say what was wrong."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from npo_integration.errors import SkippableError

M = TypeVar("M", bound=BaseModel)


class DecodeError(SkippableError):
    """A message or table value that does not parse as its model."""


def encode(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


def decode(model_type: type[M], raw: bytes | None) -> M:
    if raw is None:
        raise DecodeError(f"{model_type.__name__}: empty value")
    try:
        return model_type.model_validate_json(raw)
    except ValidationError as exc:
        raise DecodeError(f"{model_type.__name__}: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """Field path and reason per error, e.g. ``auth.kind: Input tag 'x' ...``."""
    parts = []
    for err in exc.errors()[:limit]:
        path = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{path}: {err['msg']}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def key_of(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw.decode("utf-8", errors="replace")
